//go:build unix

package testtree

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Snapshot describes every entry under root, root included, one line
// each: name, type and permission bits, size, modification time to the
// nanosecond, and inode. Two equal snapshots mean nothing under root was
// created, removed, replaced (a rename onto a name changes its inode),
// resized, chmodded or touched — what "a plan never writes" must hold.
func Snapshot(t testing.TB, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat data", p)
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(&b, "%s %v size=%d mtime=%d ino=%d\n", rel, fi.Mode(), fi.Size(), fi.ModTime().UnixNano(), st.Ino)
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	return b.String()
}
