//go:build linux

package rsync

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCountBelowIsReadDirs: the getdents count equals os.File.ReadDir's
// on a tree with every kind of entry, a directory whose records take
// several reads, a symbolic link to a directory (counted, not followed)
// and an empty directory; and a missing directory counts as empty.
func TestCountBelowIsReadDirs(t *testing.T) {
	root := t.TempDir()
	mk := func(rel string) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write := func(p string) {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	big := mk("a/big")
	for i := range 1500 { // about 60 kB of records: two reads or more
		write(filepath.Join(big, fmt.Sprintf("%s-%04d", strings.Repeat("n", 24), i)))
	}
	for _, d := range []string{"a/b/c/d", "a/empty", "e"} {
		mk(d)
	}
	write(filepath.Join(root, "a/b/c/d/f"))
	write(filepath.Join(root, "top"))
	if err := os.Symlink(big, filepath.Join(root, "e/link-to-big")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "e/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	want := countBelowReadDir(root)
	if want != 1500+11 { // a, big, b, c, d, f, empty, e, top, link-to-big, fifo
		t.Fatalf("reference count %d, want %d", want, 1500+11)
	}
	if got := countBelow(root); got != want {
		t.Errorf("countBelow = %d, ReadDir counts %d", got, want)
	}
	if got := countBelow(filepath.Join(root, "missing")); got != 0 {
		t.Errorf("a missing directory counts %d", got)
	}
}

// TestEachDirent reads hand-made records: "." and ".." are skipped, the
// name ends at its NUL, and a record whose length is impossible ends the
// buffer instead of being read past.
func TestEachDirent(t *testing.T) {
	rec := func(name string, typ uint8, pad int) []byte {
		b := make([]byte, direntName+len(name)+1+pad)
		binary.NativeEndian.PutUint16(b[direntReclen:], uint16(len(b)))
		b[direntType] = typ
		copy(b[direntName:], name)
		return b
	}
	var buf []byte
	for _, r := range [][]byte{rec(".", unix.DT_DIR, 0), rec("..", unix.DT_DIR, 5), rec("file", unix.DT_REG, 4), rec("dir", unix.DT_DIR, 0), rec("odd", unix.DT_UNKNOWN, 2)} {
		buf = append(buf, r...)
	}
	bad := rec("beyond", unix.DT_REG, 0)
	binary.NativeEndian.PutUint16(bad[direntReclen:], 4000)
	buf = append(buf, bad...)
	var got []string
	n := eachDirent(buf, func(name []byte, typ uint8) { got = append(got, fmt.Sprintf("%s:%d", name, typ)) })
	want := fmt.Sprintf("[file:%d dir:%d odd:%d]", unix.DT_REG, unix.DT_DIR, unix.DT_UNKNOWN)
	if n != 3 || fmt.Sprint(got) != want {
		t.Errorf("eachDirent: %d %v, want 3 %s", n, got, want)
	}
}
