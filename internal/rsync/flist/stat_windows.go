//go:build windows

package flist

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// lstat reads path's metadata without following a final symlink.
func lstat(path string, st *fileStat) error { return statWith(os.Lstat, path, st) }

// stat reads path's metadata, following symlinks.
func stat(path string, st *fileStat) error { return statWith(os.Stat, path, st) }

// statWith runs os.Lstat or os.Stat on path and converts its result.
func statWith(call func(string) (fs.FileInfo, error), path string, st *fileStat) error {
	fi, err := call(path)
	if err != nil {
		return err
	}
	fromFileInfo(fi, st)
	return nil
}

// dirStatter stats the entries of one directory by their full path:
// Windows has no fstatat.
type dirStatter struct{ dir string }

func newDirStatter(_ *os.File, dir string) dirStatter { return dirStatter{dir: dir} }

// lstat reads the metadata of base, an entry of the directory.
func (d dirStatter) lstat(base string, st *fileStat) error {
	return lstat(filepath.Join(d.dir, base), st)
}

// Modes of what a Windows source sends. Windows has no Unix permission
// bits, only attributes (Go maps the read-only one to 0444), and a
// Windows user expects what lands on a Unix server to look like a file
// they created there: 0644 files, 0755 directories — rsync_directory's
// chmod changes them like any others. Taking no attribute into account
// also keeps source_hash the same for the same tree, whatever attributes
// Windows reports for it.
const (
	windowsFileMode = SIFREG | 0o644
	windowsDirMode  = SIFDIR | 0o755
	windowsLinkMode = SIFLNK | 0o777
)

// fromFileInfo converts what Windows reports. A reparse point that is
// not a symlink (a junction or mount point, which Go reports as
// irregular) is marked unsupported, so that the walk skips it
// with a warning, as rsync -a skips what it cannot copy.
func fromFileInfo(fi fs.FileInfo, st *fileStat) {
	m := fi.Mode()
	st.unsupported = false
	switch {
	case m&fs.ModeSymlink != 0:
		st.mode = windowsLinkMode
	case m.IsDir():
		st.mode = windowsDirMode
	case m.IsRegular():
		st.mode = windowsFileMode
	default:
		st.mode = SIFIFO
		st.unsupported = true
	}
	st.size = fi.Size()
	mt := fi.ModTime()
	st.mtime, st.mtimeNsec = mt.Unix(), int32(mt.Nanosecond())
	// No owner: uid and gid 0, whose names the list does not carry
	// (flist.IDNames skips id 0). The server keeps its login user as the
	// owner, since only root may give files away and root's own files are
	// root's anyway; a gid of 0 maps to a group the login user is not in
	// unless it is root, and rsync then leaves the group as created. So
	// what lands belongs to the login user, as with scp; owner and group
	// set it explicitly.
	st.uid, st.gid = 0, 0
	st.rdevMajor, st.rdevMinor = 0, 0
}

// ReadLink reads a symlink's target as the file list carries it: with
// "/" separators, since os.Readlink on Windows gives "\" ones and a Unix
// receiver would take `..\lib` for a single odd name. A relative target
// then means on the server what it means here; an absolute one (C:/...)
// is sent as it is and dangles there.
func ReadLink(path string) (string, error) {
	t, err := os.Readlink(path)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(t, `\`, "/"), nil
}
