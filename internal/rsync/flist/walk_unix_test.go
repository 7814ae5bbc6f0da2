//go:build unix

package flist

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWalkEntries checks what Walk reads for each entry against os.Lstat
// of the same path (the walk stats relative to the open directory instead),
// that a fifo is listed (rsync -a's -D) without a warning, that a symlink
// carries its target, and that an excluded directory is not descended into.
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
	if want := []string{".", "a", "ln", "d", "d/b", "d/fifo", "d/e", "d/e/c"}; !slices.Equal(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
	if len(res.Warnings) != 0 || len(res.Skipped) != 0 {
		t.Errorf("warnings %q, skipped %q, want none", res.Warnings, res.Skipped)
	}
	// With specials off the fifo is still listed (a receiver then keeps
	// what stands at its name, as with rsync), and the walk says it is
	// not copied, and why.
	res, err = WalkWith(root+"/", skip, WalkOptions{Devices: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != len(names) || len(res.Warnings) != 0 ||
		len(res.Skipped) != 1 || res.Skipped[0] != `skipping fifo "d/fifo": specials is false` {
		t.Errorf("specials off: %d entries, warnings %q, skipped %q", len(res.Entries), res.Warnings, res.Skipped)
	}
	if res.IOError != 0 {
		t.Errorf("io error %d, want 0", res.IOError)
	}
}

// TestWalkHardLinks: with HardLinks, names of one inode form one set,
// labelled by the first name's position in the sorted list; a name whose
// other link is outside the walk is a set of one; without HardLinks no
// entry is in a set.
func TestWalkHardLinks(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "src")
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a", "solo"} {
		if err := os.WriteFile(filepath.Join(src, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"d/c": "a", "b": "a"} {
		if err := os.Link(filepath.Join(src, target), filepath.Join(src, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(src, "solo"), filepath.Join(root, "outside")); err != nil {
		t.Fatal(err)
	}
	res, err := WalkWith(src+"/", nil, WalkOptions{HardLinks: true})
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]uint32{}
	for _, e := range res.Entries {
		groups[e.Name] = e.HlinkGroup
	}
	// Sorted: ".", "a", "b", "solo", "d", "d/c".
	if want := map[string]uint32{".": 0, "a": 2, "b": 2, "d/c": 2, "solo": 4, "d": 0}; !reflect.DeepEqual(groups, want) {
		t.Errorf("groups %v, want %v", groups, want)
	}
	res, err = Walk(src+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Entries {
		if e.HlinkGroup != 0 {
			t.Errorf("%s in set %d without HardLinks", e.Name, e.HlinkGroup)
		}
	}
	// Streamed, the sets are the same, labelled per inode in list order.
	streamed := map[string]uint32{}
	if _, err := walkStream(context.Background(), src+"/", nil, WalkOptions{HardLinks: true}, func(e *Entry, _ FileID) error {
		streamed[e.Name] = e.HlinkGroup
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := map[string]uint32{".": 0, "a": 1, "b": 1, "d/c": 1, "solo": 2, "d": 0}; !reflect.DeepEqual(streamed, want) {
		t.Errorf("streamed groups %v, want %v", streamed, want)
	}
}

// checkIDs compares each streamed entry's id with its file's lstat.
func checkIDs(t *testing.T, res *WalkResult, ents []Entry, ids []FileID) {
	t.Helper()
	for i := range ents {
		var st unix.Stat_t
		if err := unix.Lstat(res.LocalPath(&ents[i]), &st); err != nil {
			t.Fatal(err)
		}
		want := FileID{Ctime: unix.TimespecToNsec(st.Ctim), Ino: uint64(st.Ino), Dev: uint64(st.Dev)} //nolint:unconvert // widths differ between platforms
		if ids[i] != want {
			t.Errorf("%s: id %+v, lstat says %+v", ents[i].Name, ids[i], want)
		}
	}
}
