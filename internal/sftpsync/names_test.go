package sftpsync

import (
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
)

func TestCheckBase(t *testing.T) {
	for _, name := range []string{"a", ".hidden", "..x", "x..", "naïve café ☕.txt", "with space", strings.Repeat("n", 255)} {
		if err := checkBase(name); err != nil {
			t.Errorf("checkBase(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "a/b", "/", "../etc", "x\x00y", strings.Repeat("n", 1021)} {
		if err := checkBase(name); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("checkBase(%q) = %v, want ErrUnsafeName", name, err)
		}
	}
}

func TestCheckRelName(t *testing.T) {
	for _, name := range []string{".", "a", "a/b", "a/.b/c", "..a/b.."} {
		if err := CheckRelName(name); err != nil {
			t.Errorf("CheckRelName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a/", "a\x00", "a/..", strings.Repeat("a/", 2049) + "a"} {
		if err := CheckRelName(name); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("CheckRelName(%q) = %v, want ErrUnsafeName", name, err)
		}
	}
}

// hostileFS is a server that lists what it likes.
type hostileFS struct {
	localFS
	names  []string
	target string
}

type fakeInfo struct {
	name string
	mode fs.FileMode
}

func (f fakeInfo) Name() string       { return f.name }
func (f fakeInfo) Size() int64        { return 1 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Unix(1, 0) }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return nil }

func (h hostileFS) Stat(p string) (fs.FileInfo, error) { return h.Lstat(p) }
func (h hostileFS) Lstat(string) (fs.FileInfo, error) {
	return fakeInfo{"root", fs.ModeDir | 0o755}, nil
}
func (h hostileFS) ReadDir(string) ([]fs.FileInfo, error) {
	var out []fs.FileInfo
	for _, n := range h.names {
		mode := fs.FileMode(0o644)
		if h.target != "" {
			mode = fs.ModeSymlink | 0o777
		}
		out = append(out, fakeInfo{n, mode})
	}
	return out, nil
}
func (h hostileFS) ReadLink(string) (string, error)    { return h.target, nil }
func (h hostileFS) Open(string) (io.ReadCloser, error) { return nil, errors.New("not here") }

// TestWalkRejectsHostileNames: a directory listing naming "..", a path
// with a slash or a NUL, or a symlink with an unusable target fails the
// walk instead of reaching a file operation.
func TestWalkRejectsHostileNames(t *testing.T) {
	rules, _ := filter.New(nil, nil)
	for _, h := range []hostileFS{
		{names: []string{".."}},
		{names: []string{"."}},
		{names: []string{"../../etc/passwd"}},
		{names: []string{"a/b"}},
		{names: []string{"nul\x00"}},
		{names: []string{""}},
		{names: []string{"link"}, target: strings.Repeat("x", maxPathLen+1)},
		{names: []string{"link"}, target: "a\x00b"},
	} {
		_, err := walk(h, "root", ".", walkOpts{rules: rules})
		if !errors.Is(err, ErrUnsafeName) {
			t.Errorf("walk over %q (target %.20q) = %v, want ErrUnsafeName", h.names, h.target, err)
		}
	}
	if _, err := walk(hostileFS{names: []string{"fine.txt"}}, "root", ".", walkOpts{rules: rules}); err != nil {
		t.Errorf("walk over a sane listing: %v", err)
	}
}

func TestSplitSourceAndRemotePath(t *testing.T) {
	for _, c := range []struct{ in, root, prefix string }{
		{"dir/", "dir", "."}, {"dir", "dir", "dir"}, {"/a/b/", "/a/b", "."}, {"/a/b", "/a/b", "b"},
		{".", ".", "."}, {"dir/.", "dir", "."}, {"/", "/", "."},
	} {
		if r, p := SplitSource(c.in); r != c.root || p != c.prefix {
			t.Errorf("SplitSource(%q) = %q, %q; want %q, %q", c.in, r, p, c.root, c.prefix)
		}
	}
	for in, want := range map[string]string{"": ".", "~": ".", "~/": ".", "~/www": "www", "/srv/www/": "/srv/www/", "rel": "rel"} {
		if got := RemotePath(in); got != want {
			t.Errorf("RemotePath(%q) = %q, want %q", in, got, want)
		}
	}
}
