//go:build unix

package tree

import (
	"golang.org/x/sys/unix"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/localfile"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// fstatID returns the identity of an open file.
func fstatID(f *localfile.File) (fileID, bool) {
	var st unix.Stat_t
	if err := f.Stat(&st); err != nil {
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

// idOfWalk is the identity of a walked file: its entry and what the
// walk's lstat said beyond it, so that telling it unchanged takes no
// stat of its own.
func idOfWalk(e *flist.Entry, id flist.FileID) (fileID, bool) {
	return fileID{size: e.Size, mtime: e.ModTime*1e9 + int64(e.ModNsec), ctime: id.Ctime, ino: id.Ino, dev: id.Dev}, true
}
