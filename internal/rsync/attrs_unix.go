//go:build unix

package rsync

import (
	"os"
	"syscall"
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

// makeSpecial creates the device file, fifo or socket e describes at path
// (rsync's do_mknod; Linux makes sockets and fifos with mknod(2) too,
// without privilege), with its permission bits as they pass the umask:
// setAttrs sets them exactly afterwards.
func makeSpecial(path string, e *flist.Entry) error {
	return mknod(path, e.Mode, unix.Mkdev(e.RdevMajor, e.RdevMinor))
}

// canMakeDevices reports whether this process may create device files,
// and if not, why.
func canMakeDevices() (bool, string) { return os.Geteuid() == 0, "creating device files needs root" }

// sameRdev reports whether the device file fi has e's device numbers
// (anything that is not a device has none to differ).
func sameRdev(fi os.FileInfo, e *flist.Entry) bool {
	if !e.IsDevice() {
		return true
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	rdev := uint64(st.Rdev) //nolint:unconvert // int32 on darwin, uint64 on Linux
	return unix.Major(rdev) == e.RdevMajor && unix.Minor(rdev) == e.RdevMinor
}
