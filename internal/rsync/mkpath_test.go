package rsync

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestAncestors(t *testing.T) {
	for _, c := range []struct {
		dir  string
		want []string
	}{
		{"/srv/a/b", []string{"/srv", "/srv/a"}},
		{"/srv/a/b/", []string{"/srv", "/srv/a"}},
		{"/srv", nil},
		{"a/b/c", []string{"a", "a/b"}},
		{"a", nil},
		{"", nil},
		{"~/x/y", []string{"~/x"}},
		{"./x/y", []string{"./x"}},
		{"//srv//a/b", []string{"//srv", "//srv//a"}},
	} {
		if got := Ancestors(c.dir, '/'); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Ancestors(%q) = %q, want %q", c.dir, got, c.want)
		}
	}
}

func TestParentMode(t *testing.T) {
	for spec, want := range map[string]uint32{"D750,F640": 0o750, "go-rx": 0o700, "F600": 0o755, "u=rwx,g=rx,o=": 0o750} {
		got, ok, err := ParentMode(spec)
		if err != nil || !ok || got != want {
			t.Errorf("ParentMode(%q) = %o, %v, %v; want %o", spec, got, ok, err, want)
		}
	}
	if _, ok, _ := ParentMode(""); ok {
		t.Error("no spec must leave the mode to mkdir")
	}
}

// TestMkdirParents creates what is missing above a directory, with the
// chmod spec's directory mode, and leaves existing parents alone.
func TestMkdirParents(t *testing.T) {
	base := t.TempDir()
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "a", "b", "dst")
	created, err := MkdirParents(dir, Options{Chmod: "D750"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b")}
	if !reflect.DeepEqual(created, want) {
		t.Fatalf("created %q, want %q", created, want)
	}
	for _, p := range want {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			t.Fatalf("%s: %v", p, err)
		}
		if m := fi.Mode().Perm(); m != 0o750 && filepath.Separator == '/' {
			t.Errorf("%s has mode %o, want 750", p, m)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the destination itself was created (%v); the transfer creates it", err)
	}
	if fi, _ := os.Stat(base); fi.Mode().Perm() != 0o711 && filepath.Separator == '/' {
		t.Errorf("an existing parent was changed to %o", fi.Mode().Perm())
	}
	again, err := MkdirParents(dir, Options{Chmod: "D750"})
	if err != nil || len(again) != 0 {
		t.Errorf("second call created %q (%v), want nothing", again, err)
	}
	if err := os.WriteFile(filepath.Join(base, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := MkdirParents(filepath.Join(base, "file", "x", "dst"), Options{}); err == nil {
		t.Error("a file in the way must fail")
	}
}
