//go:build unix && !freebsd

package rsync

import "golang.org/x/sys/unix"

// mknod is mknod(2), whose device argument is an int here.
func mknod(path string, mode uint32, dev uint64) error {
	return unix.Mknod(path, mode, int(dev)) //nolint:gosec // G115: the rdev as the platform's mknod takes it
}
