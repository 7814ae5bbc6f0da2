//go:build windows

package rsync

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/windows"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// lchown does nothing: Windows files have no Unix owner to give away.
func lchown(string, int, int) error { return nil }

// setTimes sets path's modification and access times to the entry's. A
// symlink keeps its own: Windows sets a link's times only through a
// handle opened on the link itself, and os.Chtimes follows it.
func setTimes(path string, e *flist.Entry) error {
	if e.IsSymlink() {
		return nil
	}
	t := time.Unix(e.ModTime, int64(e.ModNsec))
	return os.Chtimes(path, t, t)
}

// createSymlink makes a symlink at path to target ("/" separators, which
// os.Symlink turns into "\"). Windows lets only administrators create
// symlinks, or everyone in Developer Mode; without either the error says
// so.
func createSymlink(target, path string) error {
	err := os.Symlink(target, path)
	if errors.Is(err, windows.ERROR_PRIVILEGE_NOT_HELD) {
		return fmt.Errorf("%w: Windows creates symlinks only in Developer Mode (Settings > System > For developers) "+
			"or for an administrator; turn it on, run Terraform elevated, or exclude the link", err)
	}
	return err
}

// makeSpecial fails: Windows has no device files, fifos or Unix sockets
// to create in a directory tree.
func makeSpecial(string, *flist.Entry) error { return errors.ErrUnsupported }

// canMakeDevices is false: Windows has no device files.
func canMakeDevices() (bool, string) { return false, "Windows has no device files" }

// sameRdev is true: Windows has no device files.
func sameRdev(os.FileInfo, *flist.Entry) bool { return true }
