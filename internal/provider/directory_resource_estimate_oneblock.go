package provider

// The estimate of a changed file whose server copy is shorter than rsync's
// smallest block, worked out without the server. The server's signature
// of such a copy is one block holding all of it, and refresh's listing
// already carries that block's content in the copy's whole-file digest; a
// block that short matches only where as few bytes of the local file
// remain, its end (match.c:hash_search compares a block only where its
// length is what is left, min(blength, len-offset); delta.Matcher, which
// the apply's push runs, alike). So the apply sends all of the local file
// but its last n bytes when those are the server's copy (n its size), and
// all of it otherwise — the figure the server's signature gives, without a
// session on the server for a fleet's one-file edit.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/delta"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// oneBlockEstimates works out what the apply sends of each of the files
// a push compares (w.Compare) whose server copy is a single block, and
// returns the others in rest, for the server.
func oneBlockEstimates(c syncConfig, rsyncPath string, src, dst *tree.Manifest, w estimateWork) (done map[string]fileAmount, rest []string) {
	if dst == nil || dst.Mode != tree.Content || dst.Algo.Len() == 0 || rsyncPathHasOptions(rsyncPath) {
		return nil, w.Compare
	}
	done = map[string]fileAmount{}
	for _, name := range w.Compare {
		s, d := w.Src[name], w.Dst[name]
		if s == nil || d == nil || d.Unreadable || len(d.Digest()) == 0 || d.Size <= 0 || d.Size >= delta.MinBlockSize {
			rest = append(rest, name)
			continue
		}
		matched, err := endMatches(c, src, dst, name, s, d)
		if err != nil {
			// Unreadable or changed since it was hashed: the server's
			// estimate says what it says of such a file.
			rest = append(rest, name)
			continue
		}
		f := fileAmount{Literal: s.Size, Size: s.Size}
		if matched {
			f.Literal -= d.Size
		}
		done[name] = f
	}
	return done, rest
}

// endMatches reports whether the local file ends with the server's copy
// d: its last d.Size bytes hash, with the listing's algorithm, to the
// copy's digest. When the two are the same size the source's own digest
// answers, if it was made with that algorithm.
func endMatches(c syncConfig, src, dst *tree.Manifest, name string, s, d *tree.Item) (bool, error) {
	if s.Size < d.Size {
		return false, nil
	}
	if s.Size == d.Size && src.Mode == tree.Content && src.Algo == dst.Algo && len(s.Digest()) > 0 && !s.Unreadable {
		return bytes.Equal(s.Digest(), d.Digest()), nil
	}
	f, err := os.Open(filepath.Join(c.Ends.Src.Path(), filepath.FromSlash(name)))
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return false, err
	case !fi.Mode().IsRegular() || fi.Size() != s.Size:
		return false, fmt.Errorf("%s changed since it was hashed", name)
	}
	h := dst.Algo.NewFile()
	if _, err := io.Copy(h, io.NewSectionReader(f, s.Size-d.Size, d.Size)); err != nil {
		return false, err
	}
	return bytes.Equal(h.Sum(nil), d.Digest()), nil
}

// rsyncPathHasOptions reports whether rsync_path passes rsync (or sudo, or
// a shell) options of its own: one such as --block-size, --whole-file or
// --append would change the server's signatures, so the server is asked.
func rsyncPathHasOptions(p string) bool {
	for _, f := range strings.Fields(p) {
		if strings.HasPrefix(f, "-") {
			return true
		}
	}
	return false
}
