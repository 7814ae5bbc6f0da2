//go:build windows

package flist

import (
	"os"
	"path/filepath"
	"testing"
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
