//go:build unix

package tree

import (
	"os"

	"golang.org/x/sys/unix"
)

// lstatID returns the identity of the file at path, not following a
// symlink.
func lstatID(path string) (fileID, bool) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fileID{}, false
	}
	return idOfStat(&st), true
}

// fstatID returns the identity of an open file.
func fstatID(f *os.File) (fileID, bool) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fileID{}, false
	}
	return idOfStat(&st), true
}

func idOfStat(st *unix.Stat_t) fileID {
	return fileID{
		size:  st.Size,
		mtime: unix.TimespecToNsec(st.Mtim),
		ctime: unix.TimespecToNsec(st.Ctim),
		ino:   uint64(st.Ino), //nolint:unconvert // uint32 on some systems
		dev:   uint64(st.Dev), //nolint:unconvert // int32 on some systems
	}
}
