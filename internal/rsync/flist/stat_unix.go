//go:build unix

package flist

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lstat reads path's metadata without following a final symlink.
func lstat(path string, st *fileStat) error { return statWith(unix.Lstat, path, st) }

// stat reads path's metadata, following symlinks.
func stat(path string, st *fileStat) error { return statWith(unix.Stat, path, st) }

// statWith runs one of the stat(2) calls on path and converts its result.
func statWith(call func(string, *unix.Stat_t) error, path string, st *fileStat) error {
	var raw unix.Stat_t
	if err := ignoringEINTR(func() error { return call(path, &raw) }); err != nil {
		return err
	}
	fromStatT(&raw, st)
	return nil
}

// dirStatter stats the entries of one open directory relative to it
// (fstatat(2): lstat(2) without resolving the directory's path again),
// into a buffer on the stack, so that nothing is allocated per file.
type dirStatter struct{ fd int }

func newDirStatter(f *os.File, _ string) dirStatter { return dirStatter{fd: int(f.Fd())} }

// lstat reads the metadata of base, an entry of the directory.
func (d dirStatter) lstat(base string, st *fileStat) error {
	var raw unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstatat(d.fd, base, &raw, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return err
	}
	fromStatT(&raw, st)
	return nil
}

// fromStatT converts a stat(2) result. The raw st_mode is exactly what
// goes on the wire; the field widths differ between platforms (32-bit
// times on linux/386 and arm), hence the conversions.
func fromStatT(raw *unix.Stat_t, st *fileStat) {
	st.mode = uint32(raw.Mode) //nolint:unconvert // uint16 on darwin and the BSDs
	st.size = raw.Size
	st.mtime = int64(raw.Mtim.Sec)      //nolint:unconvert // int32 on 32-bit Linux
	st.mtimeNsec = int32(raw.Mtim.Nsec) //nolint:unconvert // int64 on 64-bit platforms
	st.uid, st.gid = raw.Uid, raw.Gid
	st.dev, st.ino, st.nlink = uint64(raw.Dev), uint64(raw.Ino), uint64(raw.Nlink) //nolint:unconvert // widths differ between platforms
	st.ctime = unix.TimespecToNsec(raw.Ctim)
	if m := st.mode & SIFMT; m == SIFBLK || m == SIFCHR {
		rdev := uint64(raw.Rdev) //nolint:unconvert // int32 on darwin, uint64 on Linux
		st.rdevMajor, st.rdevMinor = unix.Major(rdev), unix.Minor(rdev)
	}
}

// ignoringEINTR retries a system call interrupted by a signal, as the os
// package does for its own (os.ignoringEINTR).
func ignoringEINTR(call func() error) error {
	for {
		if err := call(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// ReadLink reads a symlink's target as the file list carries it: as the
// system gives it.
func ReadLink(path string) (string, error) { return os.Readlink(path) }
