//go:build windows

package rsync

import (
	"os"
	"time"

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
