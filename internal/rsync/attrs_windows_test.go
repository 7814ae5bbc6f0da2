//go:build windows

package rsync

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// TestSetTimesWindows checks the Windows attrs seam: setTimes gives a file
// and a directory the entry's modification time to the 100 ns Windows
// keeps, leaves the times alone for a symlink entry (a link's own times
// are out of os.Chtimes's reach), and lchown, with no owner to give,
// succeeds without doing anything.
func TestSetTimesWindows(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		path string
		mode uint32
	}{{file, flist.SIFREG | 0o644}, {sub, flist.SIFDIR | 0o755}} {
		want := time.Unix(1600000000+int64(i), 987654300)
		e := &flist.Entry{Name: filepath.Base(c.path), Mode: c.mode, ModTime: want.Unix(), ModNsec: int32(want.Nanosecond())}
		if err := setTimes(c.path, e); err != nil {
			t.Fatalf("setTimes(%s): %v", c.path, err)
		}
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(want) {
			t.Errorf("%s: mtime %v, want %v", c.path, fi.ModTime(), want)
		}
	}

	before, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	link := &flist.Entry{Name: "f.txt", Mode: flist.SIFLNK | 0o777, LinkTarget: "elsewhere", ModTime: 1000000000}
	if err := setTimes(file, link); err != nil {
		t.Fatalf("setTimes with a symlink entry: %v", err)
	}
	after, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("a symlink entry changed the times of %s: %v -> %v", file, before.ModTime(), after.ModTime())
	}

	if err := lchown(file, 1000, 1000); err != nil {
		t.Errorf("lchown: %v", err)
	}
}
