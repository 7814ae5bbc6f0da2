package sftpsync

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// Bounds on what a listing holds, so that a hostile or broken server
// cannot make us allocate without limit: names and symlink targets are
// PATH_MAX at most, and a tree has at most maxEntries entries.
const (
	maxPathLen   = 4096
	maxEntries   = 5_000_000
	maxDirLength = 1_000_000 // entries of one directory
)

// ErrUnsafeName is returned when a server lists a name a receiver must
// never act on.
var ErrUnsafeName = errors.New("unsafe file name from the server")

// checkBase validates one directory entry's name as a server returned it:
// a single path component that stays in its directory.
func checkBase(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("%w: %q", ErrUnsafeName, name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("%w: %q contains a slash or NUL byte", ErrUnsafeName, name)
	case len(name) > 255*4:
		return fmt.Errorf("%w: a name of %d bytes", ErrUnsafeName, len(name))
	}
	return nil
}

// CheckRelName validates a relative name (an entry of a listing, "."
// for the root) before anything is done at it: no "..", no empty or "."
// components, not absolute, no NUL, at most PATH_MAX bytes.
func CheckRelName(name string) error {
	if len(name) > maxPathLen {
		return fmt.Errorf("%w: a path of %d bytes", ErrUnsafeName, len(name))
	}
	if err := flist.CheckName(name); err != nil {
		return fmt.Errorf("%w: %w", ErrUnsafeName, err)
	}
	return nil
}

// walkOpts say what a walk keeps.
type walkOpts struct {
	rules *filter.List
	// devices, specials: list device files and fifos/sockets (as rsync
	// -D lists them); the sync skips creating them over SFTP.
	devices, specials bool
}

// walk lists the tree at root on side f, rsync's way: entries named
// relative to the transfer root, the root itself under prefix ("." for
// the contents of a directory, the directory's own name otherwise).
// Excluded names are left out and not descended into. A missing root is
// an fs.ErrNotExist error.
func walk(f fsys, root, prefix string, o walkOpts) ([]*flist.Entry, error) {
	fi, err := f.Lstat(root)
	if err != nil {
		return nil, err
	}
	if prefix == "." && fi.Mode()&fs.ModeSymlink != 0 {
		// The contents of a directory named through a symlink: rsync
		// follows the root ("dir/" means what dir points to).
		if target, err := f.Stat(root); err == nil && target.IsDir() {
			fi = target
		}
	}
	var out []*flist.Entry
	top, err := entryOf(f, root, prefix, fi)
	if err != nil {
		return nil, err
	}
	if top == nil {
		return nil, fmt.Errorf("%s is neither a file, a directory nor a symlink", root)
	}
	out = append(out, top)
	if top.IsDir() {
		if err := walkDir(f, root, prefix, o, &out); err != nil {
			return nil, err
		}
	}
	flist.Sort(out)
	return out, nil
}

func walkDir(f fsys, dir, name string, o walkOpts, out *[]*flist.Entry) error {
	infos, err := f.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", dir, err)
	}
	if len(infos) > maxDirLength {
		return fmt.Errorf("directory %s holds %d entries, more than the %d this engine lists", dir, len(infos), maxDirLength)
	}
	for _, fi := range infos {
		base := fi.Name()
		if err := checkBase(base); err != nil {
			return fmt.Errorf("in %s: %w", dir, err)
		}
		rel := base
		if name != "." {
			rel = name + "/" + base
		}
		if len(rel) > maxPathLen {
			return fmt.Errorf("%w: %s/%s is longer than %d bytes", ErrUnsafeName, dir, base, maxPathLen)
		}
		isDir := fi.IsDir()
		if o.rules.Excluded(rel, isDir) {
			continue
		}
		e, err := entryOf(f, path.Join(dir, base), rel, fi)
		if err != nil {
			return err
		}
		if e == nil || (e.IsDevice() && !o.devices) || (e.IsSpecial() && !o.specials) {
			continue
		}
		if len(*out) >= maxEntries {
			return fmt.Errorf("the tree at %s has more than %d entries", dir, maxEntries)
		}
		*out = append(*out, e)
		if isDir {
			if err := walkDir(f, path.Join(dir, base), rel, o, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// entryOf describes one file; nil for a kind no file list holds.
func entryOf(f fsys, p, name string, fi fs.FileInfo) (*flist.Entry, error) {
	mode := flist.UnixMode(fi.Mode())
	e := &flist.Entry{Name: name, Mode: mode, ModTime: fi.ModTime().Unix()}
	switch {
	case e.IsRegular():
		e.Size = fi.Size()
		if e.Size < 0 {
			return nil, fmt.Errorf("%s: negative size %d", p, e.Size)
		}
	case e.IsSymlink():
		t, err := f.ReadLink(p)
		if err != nil {
			return nil, fmt.Errorf("read symlink %s: %w", p, err)
		}
		if t == "" || len(t) > maxPathLen || strings.IndexByte(t, 0) >= 0 {
			return nil, fmt.Errorf("%w: symlink %s has an unusable target of %d bytes", ErrUnsafeName, p, len(t))
		}
		e.LinkTarget = t
	case e.IsDir(), e.IsDevice(), e.IsSpecial():
	default:
		return nil, nil
	}
	return e, nil
}
