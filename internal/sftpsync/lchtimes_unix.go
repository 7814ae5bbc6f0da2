//go:build unix

package sftpsync

import (
	"time"

	"golang.org/x/sys/unix"
)

// lchtimes sets a local symlink's own times.
func lchtimes(p string, mtime time.Time) error {
	tv := unix.NsecToTimeval(mtime.UnixNano())
	return unix.Lutimes(p, []unix.Timeval{tv, tv})
}
