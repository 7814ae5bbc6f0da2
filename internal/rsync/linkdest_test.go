//go:build unix

package rsync

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// inode is the inode number of p (not following a symlink).
func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// linkDestTrees writes two releases' worth of source: big.bin unchanged,
// app.js changed between them.
func linkDestTrees(t *testing.T) (v1, v2 string) {
	t.Helper()
	base := t.TempDir()
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
	for i, content := range []string{"console.log(1)\n", "console.log(22)\n"} {
		d := filepath.Join(base, []string{"v1", "v2"}[i])
		if err := os.MkdirAll(filepath.Join(d, "lib"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]string{"lib/big.bin": big, "app.js": content} {
			p := filepath.Join(d, name)
			if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	return filepath.Join(base, "v1"), filepath.Join(base, "v2")
}

// TestInteropLinkDest: a push with LinkDest to stock rsync 3.5.0 and 3.2.7
// hard-links the unchanged file from the previous release (same inode,
// no literal data for it) and sends the changed one; our own receiver
// (local copy) does the same.
func TestInteropLinkDest(t *testing.T) {
	v1, v2 := linkDestTrees(t)
	check := func(t *testing.T, releases string, res *Result) {
		t.Helper()
		if a, b := inode(t, filepath.Join(releases, "r1/lib/big.bin")), inode(t, filepath.Join(releases, "r2/lib/big.bin")); a != b {
			t.Errorf("lib/big.bin: inodes %d and %d, want one hard-linked file", a, b)
		}
		if a, b := inode(t, filepath.Join(releases, "r1/app.js")), inode(t, filepath.Join(releases, "r2/app.js")); a == b {
			t.Error("app.js changed but is hard-linked to the old release")
		}
		if got, _ := os.ReadFile(filepath.Join(releases, "r2/app.js")); string(got) != "console.log(22)\n" {
			t.Errorf("r2/app.js = %q", got)
		}
		if got, _ := os.ReadFile(filepath.Join(releases, "r1/app.js")); string(got) != "console.log(1)\n" {
			t.Errorf("r1/app.js = %q: the old release was written to", got)
		}
		if res.Stats.LiteralBytes > 1024 || res.Stats.FilesTransferred != 1 {
			t.Errorf("transferred %d files, %d literal bytes; want only app.js", res.Stats.FilesTransferred, res.Stats.LiteralBytes)
		}
	}
	for _, srv := range servers(t) {
		t.Run("push/"+srv.version, func(t *testing.T) {
			releases := t.TempDir()
			opts := Options{RsyncPath: srv.path, Logger: testLogger(t)}
			if _, err := Push(context.Background(), ExecTransport{}, v1+"/", filepath.Join(releases, "r1"), opts); err != nil {
				t.Fatal(err)
			}
			opts.LinkDest = []string{"../r1"}
			res, err := Push(context.Background(), ExecTransport{}, v2+"/", filepath.Join(releases, "r2"), opts)
			if err != nil {
				t.Fatal(err)
			}
			check(t, releases, res)
		})
	}
	t.Run("local", func(t *testing.T) {
		releases := t.TempDir()
		opts := Options{Logger: testLogger(t)}
		if _, err := Local(context.Background(), v1+"/", filepath.Join(releases, "r1"), opts); err != nil {
			t.Fatal(err)
		}
		opts.LinkDest = []string{"../r1"}
		res, err := Local(context.Background(), v2+"/", filepath.Join(releases, "r2"), opts)
		if err != nil {
			t.Fatal(err)
		}
		check(t, releases, res)
	})
}

// TestInteropPushEntriesSwitchesSymlink: PushEntries places a symlink made
// in memory, and pushing it again with another target replaces the link
// by a rename (a new inode under the same name; the old target is left
// alone), against 3.5.0 and 3.2.7.
func TestInteropPushEntriesSwitchesSymlink(t *testing.T) {
	for _, srv := range servers(t) {
		t.Run(srv.version, func(t *testing.T) {
			app := t.TempDir()
			for _, d := range []string{"releases/a", "releases/b"} {
				if err := os.MkdirAll(filepath.Join(app, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			opts := Options{RsyncPath: srv.path, Logger: testLogger(t)}
			link := func(target string) {
				t.Helper()
				e := &flist.Entry{Name: "current", Mode: flist.SIFLNK | 0o777, LinkTarget: target, ModTime: time.Now().Unix()}
				if _, err := PushEntries(context.Background(), ExecTransport{}, []*flist.Entry{e}, app+"/", opts); err != nil {
					t.Fatal(err)
				}
				got, err := os.Readlink(filepath.Join(app, "current"))
				if err != nil || got != target {
					t.Fatalf("current -> %q (%v), want %q", got, err, target)
				}
			}
			link("releases/a")
			before := inode(t, filepath.Join(app, "current"))
			link("releases/b")
			if inode(t, filepath.Join(app, "current")) == before {
				t.Error("current kept its inode: it was not replaced by a new link")
			}
			if _, err := os.Stat(filepath.Join(app, "releases/a")); err != nil {
				t.Errorf("the old target is gone: %v", err)
			}
			// The same target again changes nothing.
			same := inode(t, filepath.Join(app, "current"))
			link("releases/b")
			if inode(t, filepath.Join(app, "current")) != same {
				t.Error("an unchanged link was replaced")
			}
		})
	}
}
