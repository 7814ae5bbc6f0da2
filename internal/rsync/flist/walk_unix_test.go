//go:build unix

package flist

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWalkEntries checks what Walk reads for each entry against os.Lstat
// of the same path (the walk stats relative to the open directory instead),
// that a fifo is left out with a warning, that a symlink carries its
// target, and that an excluded directory is not descended into.
func TestWalkEntries(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"d", "d/e", "skip", "skip/inner"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range []string{"a", "d/b", "d/e/c", "skip/inner/x"} {
		p := filepath.Join(root, f)
		if err := os.WriteFile(p, make([]byte, 10*i), 0o640); err != nil {
			t.Fatal(err)
		}
		mt := time.Unix(1700000000+int64(i), 123456789)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("d/b", filepath.Join(root, "ln")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "d/fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	skip := func(name string, isDir bool) bool { return name == "skip" && isDir }
	res, err := Walk(root+"/", skip)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range res.Entries {
		names = append(names, e.Name)
		fi, err := os.Lstat(res.LocalPath(e))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		want := Entry{Name: e.Name, Mode: uint32(st.Mode), Size: fi.Size(), ModTime: fi.ModTime().Unix(), //nolint:unconvert // uint16 on darwin and the BSDs
			ModNsec: int32(fi.ModTime().Nanosecond()), UID: st.Uid, GID: st.Gid, TopDir: e.Name == "."}
		if e.IsSymlink() {
			want.LinkTarget = "d/b"
		}
		if got := *e; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", e.Name, got, want)
		}
	}
	if want := []string{".", "a", "ln", "d", "d/b", "d/e", "d/e/c"}; !slices.Equal(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `skipping non-regular file "d/fifo"`) {
		t.Errorf("warnings %q, want one about d/fifo", res.Warnings)
	}
	if res.IOError != 0 {
		t.Errorf("io error %d, want 0", res.IOError)
	}
}
