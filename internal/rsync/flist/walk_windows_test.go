//go:build windows

package flist

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"
)

// walkWindows walks root as the provider hands a Windows source over
// ("/" separators, a trailing "/" for its contents) and returns the
// entries by name.
func walkWindows(t *testing.T, root string) map[string]*Entry {
	t.Helper()
	res, err := Walk(filepath.ToSlash(root)+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %q", res.Warnings)
	}
	got := map[string]*Entry{}
	for _, e := range res.Entries {
		got[e.Name] = e
	}
	return got
}

// TestWalkWindowsModes: a Windows source sends files 0644 and
// directories 0755 whatever their attributes, read-only included.
func TestWalkWindowsModes(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a.txt", `sub\ro.txt`} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("x"), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	ro := filepath.Join(root, "sub", "ro.txt")
	if err := os.Chmod(ro, 0o444); err != nil { // sets the read-only attribute
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(ro, 0o666) })
	got := walkWindows(t, root)
	want := map[string]uint32{".": SIFDIR | 0o755, "sub": SIFDIR | 0o755, "a.txt": SIFREG | 0o644, "sub/ro.txt": SIFREG | 0o644}
	if len(got) != len(want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	for name, mode := range want {
		if e, ok := got[name]; !ok {
			t.Errorf("%s not in the list", name)
		} else if e.Mode != mode {
			t.Errorf("%s: mode %o, want %o", name, e.Mode, mode)
		}
	}
}

// TestWalkWindowsSymlink: a symlink goes with mode 0777 and its target
// with "/" separators.
func TestWalkWindowsSymlink(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "target.txt"), []byte("x"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "sub", "link")
	if err := os.Symlink(`..\target.txt`, link); err != nil {
		t.Fatalf("creating a symlink (needs Developer Mode or an administrator on Windows): %v", err)
	}
	if _, err := os.Lstat(link); err != nil {
		// Wine 8's CreateSymbolicLinkW reports success and creates nothing.
		t.Skipf("this Windows cannot create symlinks (CreateSymbolicLink succeeded, but: %v)", err)
	}
	e := walkWindows(t, root)["sub/link"]
	if e == nil {
		t.Fatal("sub/link not in the list")
	}
	if e.Mode != SIFLNK|0o777 || e.LinkTarget != "../target.txt" {
		t.Errorf("sub/link: mode %o target %q, want %o %q", e.Mode, e.LinkTarget, SIFLNK|0o777, "../target.txt")
	}
}

// setAttrs sets path's Windows attributes (read-only, hidden, system,
// archive), which Go's os.Chmod reaches only for read-only.
func setAttrs(t *testing.T, path string, attrs uint32) {
	t.Helper()
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetFileAttributes(p, attrs); err != nil {
		t.Fatalf("SetFileAttributes(%s, %#x): %v", path, attrs, err)
	}
}

// TestWalkWindowsAttributes checks what a walk of a Windows tree reports,
// which Windows has no Unix bits for: every file 0644 and every directory
// 0755 whatever its attributes (read-only, hidden, system, archive), no owner,
// and sizes and modification times as Windows reports them. Then the
// attributes change and the same tree must walk to the same list, since
// source_hash is computed from it: a plan must not show a change for an
// attribute the push does not carry.
func TestWalkWindowsAttributes(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"d", "d/e"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"a.txt":      "alpha",
		"d/b.bin":    "\x00\x01\x02",
		"d/e/c":      "",
		"d/ro.txt":   "read-only",
		"hidden.txt": "hidden",
	}
	for i, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, []byte(files[name]), 0o600); err != nil {
			t.Fatal(err)
		}
		// Whole 100 ns ticks: what NTFS (and Wine) keep.
		mt := time.Unix(1700000000+int64(i), 123456700)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "d/ro.txt"), 0o444); err != nil {
		t.Fatal(err)
	}
	setAttrs(t, filepath.Join(root, "hidden.txt"), syscall.FILE_ATTRIBUTE_HIDDEN|syscall.FILE_ATTRIBUTE_ARCHIVE)
	t.Cleanup(func() {
		// Read-only entries would fail the temporary directory's removal.
		for _, p := range []string{"a.txt", "d/ro.txt", "d"} {
			_ = os.Chmod(filepath.Join(root, p), 0o700)
		}
	})

	// A Windows source reaches the engine with "/" separators (the
	// provider converts C:\site\ to C:/site/).
	src := filepath.ToSlash(root) + "/"
	first, err := Walk(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range first.Entries {
		names = append(names, e.Name)
		fi, err := os.Lstat(first.LocalPath(e))
		if err != nil {
			t.Fatal(err)
		}
		wantMode := uint32(SIFREG | 0o644)
		if fi.IsDir() {
			wantMode = SIFDIR | 0o755
		}
		if e.Mode != wantMode {
			t.Errorf("%s: mode %o, want %o (Windows reports %v)", e.Name, e.Mode, wantMode, fi.Mode())
		}
		if e.UID != 0 || e.GID != 0 {
			t.Errorf("%s: uid %d gid %d, want 0 0", e.Name, e.UID, e.GID)
		}
		if e.IsRegular() {
			if e.Size != fi.Size() || e.Size != int64(len(files[e.Name])) {
				t.Errorf("%s: size %d, Windows reports %d, content is %d bytes", e.Name, e.Size, fi.Size(), len(files[e.Name]))
			}
		}
		if got := time.Unix(e.ModTime, int64(e.ModNsec)); !got.Equal(fi.ModTime()) {
			t.Errorf("%s: mtime %v, Windows reports %v", e.Name, got, fi.ModTime())
		}
	}
	// rsync order: a directory's files before its subdirectories.
	wantNames := []string{".", "a.txt", "hidden.txt", "d", "d/b.bin", "d/ro.txt", "d/e", "d/e/c"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("names %q, want %q", names, wantNames)
	}
	for i, name := range []string{"a.txt", "d/b.bin", "d/e/c", "d/ro.txt", "hidden.txt"} {
		e := first.Entries[slices.Index(names, name)]
		if want := time.Unix(1700000000+int64(i), 123456700); e.ModTime != want.Unix() || e.ModNsec != int32(want.Nanosecond()) {
			t.Errorf("%s: mtime %d.%09d, set %v", name, e.ModTime, e.ModNsec, want)
		}
	}

	// Same tree, other attributes: a.txt read-only, d/ro.txt writable,
	// d/b.bin hidden and system, hidden.txt plain, d read-only.
	if err := os.Chmod(filepath.Join(root, "a.txt"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "d/ro.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	setAttrs(t, filepath.Join(root, "d/b.bin"), syscall.FILE_ATTRIBUTE_HIDDEN|syscall.FILE_ATTRIBUTE_SYSTEM)
	setAttrs(t, filepath.Join(root, "hidden.txt"), syscall.FILE_ATTRIBUTE_NORMAL)
	if err := os.Chmod(filepath.Join(root, "d"), 0o555); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "a.txt")); err != nil || fi.Mode().Perm() != 0o444 {
		t.Fatalf("a.txt after chmod 0444: %v, %v (the attribute did not change)", fi.Mode(), err)
	}
	second, err := Walk(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first.Entries, second.Entries) {
		for i := range max(len(first.Entries), len(second.Entries)) {
			var a, b *Entry
			if i < len(first.Entries) {
				a = first.Entries[i]
			}
			if i < len(second.Entries) {
				b = second.Entries[i]
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("entry %d: first walk %+v, after the attributes changed %+v", i, a, b)
			}
		}
	}
}

// checkIDs: Windows has no change time or inode for a walk to report.
func checkIDs(t *testing.T, _ *WalkResult, ents []Entry, ids []FileID) {
	t.Helper()
	for i := range ents {
		if ids[i] != (FileID{}) {
			t.Errorf("%s: id %+v, want none", ents[i].Name, ids[i])
		}
	}
}
