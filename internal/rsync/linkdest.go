package rsync

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// linkFromDest is our receiver's --link-dest (generator.c try_dests_reg):
// a regular file missing from the destination that one of the link-dest
// directories holds unchanged — same size, modification time and
// permissions, and with -c the same content — is hard-linked from there
// instead of transferred. It reports whether it linked. Like rsync, a
// linked file is not itemized. A basis path is resolved as a destination
// path is (localDest.path): never through a symlink, so a file list cannot
// make us link a file from outside the link-dest directory.
func (r *receiver) linkFromDest(e *flist.Entry, path string) (bool, error) {
	if r.single != "" {
		return false, nil
	}
	for _, d := range r.opts.LinkDest {
		dir := d
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(r.dest.root, d)
		}
		base, err := (&localDest{root: dir}).path(e.Name)
		if err != nil {
			continue // not there, or not safely reachable: not a match
		}
		fi, err := os.Lstat(base)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != e.Size || !sameMtime(fi, e, r.s.protocol) ||
			flist.UnixMode(fi.Mode())&0o7777 != e.Perm() {
			continue
		}
		if r.opts.Checksum {
			sum, err := fileChecksum(base, r.s.algo)
			if err != nil || !bytes.Equal(sum, e.Checksum) {
				continue
			}
		}
		if r.opts.DryRun {
			return true, nil
		}
		if err := os.Link(base, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return false, fmt.Errorf("link %s: %w", path, err)
			}
			// Another file system, or links not allowed: transfer it.
			r.s.log.Debug("cannot hard-link from link-dest; transferring", "path", e.Name, "error", err)
			return false, nil
		}
		return true, nil
	}
	return false, nil
}
