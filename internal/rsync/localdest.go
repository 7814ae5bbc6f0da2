package rsync

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// localDest is the local destination of a pull (or of a local copy): every
// path the peer names is resolved below root without following symlinks
// in any parent component, so that a file list cannot write outside the
// destination — neither with "../" names (rejected by flist.CheckName) nor
// through a symlink it created earlier in the same run (the pattern of
// rsync's CVE-2024-12087) or one that was already there.
type localDest struct {
	root string
	// dryRun lets a parent be missing: a dry run creates no directory, so
	// the entries below one it would create have parents that are not
	// there, and nothing is written through the path returned.
	dryRun bool
}

// errUnsafePath marks a path that would leave the destination.
var errUnsafePath = errors.New("unsafe path")

// path returns the local path of the list name rel after checking that
// every parent component is a real directory inside root.
func (d *localDest) path(rel string) (string, error) {
	if rel == "." {
		return d.root, nil
	}
	if err := flist.CheckName(rel); err != nil {
		return "", err
	}
	comps := strings.Split(rel, "/")
	p := d.root
	for _, c := range comps[:len(comps)-1] {
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if err != nil && d.dryRun && errors.Is(err, fs.ErrNotExist) {
			return filepath.Join(d.root, filepath.FromSlash(rel)), nil
		}
		if err != nil {
			return "", fmt.Errorf("%s: parent directory %s: %w", rel, p, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("%w: %s: parent %s is a symlink; refusing to write through it", errUnsafePath, rel, p)
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("%w: %s: parent %s is not a directory", errUnsafePath, rel, p)
		}
	}
	return filepath.Join(p, comps[len(comps)-1]), nil
}

// tempFile creates the temporary file a new version is written to, beside
// the target (rsync's ".name.XXXXXX"), so that the rename that publishes
// it is atomic: a failed transfer never leaves a half-written file where a
// good one was.
func tempFile(target string) (*os.File, error) {
	dir, base := filepath.Split(target)
	if len(base) > 200 {
		base = base[:200]
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dir, "."+base+"."+hex.EncodeToString(rnd[:])), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
}

// setAttrs applies the entry's permissions, times and (when asked and
// allowed) ownership to path. Symlinks get times and ownership only.
func setAttrs(path string, e *flist.Entry, uid, gid int, chown bool) error {
	if chown {
		if err := lchown(path, uid, gid); err != nil && !errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	if !e.IsSymlink() {
		if err := os.Chmod(path, flist.GoMode(e.Mode)); err != nil {
			return fmt.Errorf("chmod %s: %w", path, err)
		}
	}
	if err := setTimes(path, e); err != nil {
		return fmt.Errorf("set times of %s: %w", path, err)
	}
	return nil
}

// sameMtime compares a local file's mtime with an entry's, to the
// precision the protocol carried (seconds at protocol 30).
func sameMtime(fi fs.FileInfo, e *flist.Entry, protocol int) bool {
	mt := fi.ModTime()
	if mt.Unix() != e.ModTime {
		return false
	}
	if protocol >= 31 {
		return int32(mt.Nanosecond()) == e.ModNsec
	}
	return true
}
