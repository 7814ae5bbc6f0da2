//go:build unix

package rsync

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// lchown gives path (not a symlink's target) to uid and gid; -1 keeps one.
func lchown(path string, uid, gid int) error {
	return os.Lchown(path, uid, gid)
}

// setTimes sets path's modification time (and its access time, to the
// same: rsync touches atimes only with --atimes) to the entry's, without
// following a symlink.
func setTimes(path string, e *flist.Entry) error {
	ts, err := unix.TimeToTimespec(time.Unix(e.ModTime, int64(e.ModNsec)))
	if err != nil { // beyond a 32-bit time_t
		return err
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

// createSymlink makes a symlink at path to target.
func createSymlink(target, path string) error { return os.Symlink(target, path) }
