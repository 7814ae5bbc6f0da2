//go:build freebsd

package rsync

import "golang.org/x/sys/unix"

// mknod is mknod(2), whose device argument is 64 bits on FreeBSD.
func mknod(path string, mode uint32, dev uint64) error { return unix.Mknod(path, mode, dev) }
