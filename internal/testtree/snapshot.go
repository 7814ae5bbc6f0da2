package testtree

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Snapshot describes every entry under root, root included, one line
// each: name, type and permission bits, size, modification time to the
// nanosecond, and (where the platform has them) inode. Two equal
// snapshots mean nothing under root was created, removed, replaced (a
// rename onto a name changes its inode), resized, chmodded or touched —
// what "a plan never writes" must hold.
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
		rel, _ := filepath.Rel(root, p)
		return entryLine(&b, rel, p, fi)
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	return b.String()
}

// SnapshotEntry is Snapshot's line for p alone, named by its full path:
// for a directory, a change of its own entry (an entry created in it or
// removed changes its mtime), not of what is below it.
func SnapshotEntry(t testing.TB, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	var b strings.Builder
	if err == nil {
		err = entryLine(&b, p, p, fi)
	}
	if err != nil {
		t.Fatalf("snapshot %s: %v", p, err)
	}
	return b.String()
}

func entryLine(b *strings.Builder, name, p string, fi fs.FileInfo) error {
	ino, err := inode(p, fi)
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "%s %v size=%d mtime=%d ino=%s\n", name, fi.Mode(), fi.Size(), fi.ModTime().UnixNano(), ino)
	return nil
}
