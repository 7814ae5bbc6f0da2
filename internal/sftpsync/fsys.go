package sftpsync

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/pkg/sftp"
)

// errUnsupported is what an fsys returns for an operation its side
// cannot do (a symlink's own mtime over a server without
// lsetstat@openssh.com).
var errUnsupported = errors.New("not supported by this side")

// fsys is one side of a sync: the local file system or the SFTP server.
// Paths are "/"-separated; each implementation maps them to its own form.
// A sync reads from one and writes to the other, so that Push and Pull
// are the same code (sync.go).
type fsys interface {
	Lstat(p string) (fs.FileInfo, error)
	// Stat follows symlinks (for a transfer's root only, as rsync does).
	Stat(p string) (fs.FileInfo, error)
	ReadDir(p string) ([]fs.FileInfo, error)
	ReadLink(p string) (string, error)
	Open(p string) (io.ReadCloser, error)
	// CreateExcl creates a new file, failing when p exists.
	CreateExcl(p string) (io.WriteCloser, error)
	Mkdir(p string) error
	Chmod(p string, perm uint32) error
	Chtimes(p string, mtime time.Time) error
	// Lchtimes sets a symlink's own mtime, or returns errUnsupported.
	Lchtimes(p string, mtime time.Time) error
	Symlink(target, p string) error
	// Replace renames oldp to newp, replacing newp atomically when it
	// exists where the side can (POSIX rename).
	Replace(oldp, newp string) error
	// Remove removes a file, symlink or empty directory.
	Remove(p string) error
}

// localFS is the local file system.
type localFS struct{}

func (localFS) native(p string) string { return filepath.FromSlash(p) }

func (l localFS) Lstat(p string) (fs.FileInfo, error) { return os.Lstat(l.native(p)) }

func (l localFS) Stat(p string) (fs.FileInfo, error) { return os.Stat(l.native(p)) }

func (l localFS) ReadDir(p string) ([]fs.FileInfo, error) {
	ents, err := os.ReadDir(l.native(p))
	if err != nil {
		return nil, err
	}
	out := make([]fs.FileInfo, 0, len(ents))
	for _, e := range ents {
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // vanished since the listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, fi)
	}
	return out, nil
}

func (l localFS) ReadLink(p string) (string, error) {
	t, err := os.Readlink(l.native(p))
	return filepath.ToSlash(t), err
}

func (l localFS) Open(p string) (io.ReadCloser, error) { return os.Open(l.native(p)) }

func (l localFS) CreateExcl(p string) (io.WriteCloser, error) {
	return os.OpenFile(l.native(p), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

func (l localFS) Mkdir(p string) error { return os.Mkdir(l.native(p), 0o700) }

func (l localFS) Chmod(p string, perm uint32) error {
	return os.Chmod(l.native(p), goPerm(perm))
}

func (l localFS) Chtimes(p string, mtime time.Time) error {
	return os.Chtimes(l.native(p), mtime, mtime)
}

func (l localFS) Lchtimes(p string, mtime time.Time) error { return lchtimes(l.native(p), mtime) }

func (l localFS) Symlink(target, p string) error {
	return os.Symlink(filepath.FromSlash(target), l.native(p))
}

func (l localFS) Replace(oldp, newp string) error { return os.Rename(l.native(oldp), l.native(newp)) }

func (l localFS) Remove(p string) error { return os.Remove(l.native(p)) }

// remoteFS is the SFTP server.
type remoteFS struct {
	c *sftp.Client
	// posixRename: the server has posix-rename@openssh.com, which replaces
	// the target atomically (plain SFTP rename fails when it exists).
	posixRename bool
	// lset sets symlink times (lsetstat@openssh.com); nil without it.
	lset func(p string, mtime time.Time) error
}

func (r *remoteFS) Lstat(p string) (fs.FileInfo, error)     { return r.c.Lstat(p) }
func (r *remoteFS) Stat(p string) (fs.FileInfo, error)      { return r.c.Stat(p) }
func (r *remoteFS) ReadDir(p string) ([]fs.FileInfo, error) { return r.c.ReadDir(p) }
func (r *remoteFS) ReadLink(p string) (string, error)       { return r.c.ReadLink(p) }
func (r *remoteFS) Open(p string) (io.ReadCloser, error)    { return r.c.Open(p) }

func (r *remoteFS) CreateExcl(p string) (io.WriteCloser, error) {
	return r.c.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
}

func (r *remoteFS) Mkdir(p string) error { return r.c.Mkdir(p) }

func (r *remoteFS) Chmod(p string, perm uint32) error { return r.c.Chmod(p, goPerm(perm)) }

func (r *remoteFS) Chtimes(p string, mtime time.Time) error { return r.c.Chtimes(p, mtime, mtime) }

func (r *remoteFS) Lchtimes(p string, mtime time.Time) error {
	if r.lset == nil {
		return errUnsupported
	}
	return r.lset(p, mtime)
}

func (r *remoteFS) Symlink(target, p string) error { return r.c.Symlink(target, p) }

func (r *remoteFS) Replace(oldp, newp string) error {
	if r.posixRename {
		return r.c.PosixRename(oldp, newp)
	}
	// Plain SFTP rename refuses an existing target: remove it first. A
	// reader may then find the name missing for a moment, never torn.
	if err := r.c.Rename(oldp, newp); err == nil {
		return nil
	}
	if err := r.c.Remove(newp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return r.c.Rename(oldp, newp)
}

func (r *remoteFS) Remove(p string) error { return r.c.Remove(p) }

// goPerm turns st_mode permission bits (setuid, setgid, sticky included)
// into an fs.FileMode.
func goPerm(perm uint32) fs.FileMode {
	m := fs.FileMode(perm & 0o777)
	if perm&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if perm&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if perm&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
