package rsync_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// TestInteropIncPushOverSSH pushes a multi-level tree through a real sshd
// to rsync 3.5.0 (protocols 32 and 30) and 3.2.7 with incremental
// recursion, and to 3.5.0 at protocol 29, which cannot take it, and with
// --no-inc-recursive, which declines it (the one-list push): an initial push into a destination with strays and a
// protected directory, then directories added and removed, then no
// change. Delete, exclude, protect and -H hold on every path, and
// Result.IncRecursive says which one ran.
func TestInteropIncPushOverSSH(t *testing.T) {
	srv := sshtest.Start(t)
	tr := sshTransport(t, srv)
	for _, c := range []struct {
		name, path string
		inc        bool
	}{
		{"3.5.0 p32", "rsync", true},
		{"3.5.0 p30", "rsync --protocol=30", true},
		{"3.2.7", sshtest.Rsync327(t), true},
		{"3.5.0 p29", "rsync --protocol=29", false},
		{"3.5.0 --no-inc-recursive", "rsync --no-inc-recursive", false}, // a server that declines at protocol 32
	} {
		t.Run(c.name, func(t *testing.T) {
			hardLinks := !strings.Contains(c.path, "=29") // below 30 the session refuses -H
			ctx := context.Background()
			src := filepath.Join(t.TempDir(), "src")
			dst := filepath.Join(t.TempDir(), "dst")
			writeFiles(t, src, map[string]string{
				"top.txt": "top", "a/f1": "f1", "a/b/c/deep.txt": "deep", "a/b/c/d/e/deeper.txt": "deeper",
				"a/b/g.txt": "g", "x/one": "1", "x/two": "2", "x/sub/three": "3", "junk.tmp": "tmp",
				"a/junk.tmp": "tmp", "skip/secret": "no", "z/last": "last",
			})
			for _, d := range []string{"empty", "a/empty2", "a/b/c/d/empty3"} {
				mkdir(t, filepath.Join(src, d))
			}
			if err := os.Symlink("top.txt", filepath.Join(src, "a/link")); err != nil {
				t.Fatal(err)
			}
			if hardLinks {
				if err := os.Link(filepath.Join(src, "a/f1"), filepath.Join(src, "z/hl")); err != nil {
					t.Fatal(err)
				}
			}
			writeFiles(t, dst, map[string]string{"stray.txt": "s", "old/deep/x": "x", "keep/remote.txt": "remote"})
			opts := rsync.Options{
				RsyncPath: c.path, Delete: true, HardLinks: hardLinks,
				Exclude: []string{"*.tmp", "/skip/"}, Protect: []string{"/keep/"},
			}
			push := func(step string) *rsync.Result {
				t.Helper()
				res, err := rsync.Push(ctx, tr, src+"/", dst, opts)
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				if res.IncRecursive != c.inc {
					t.Fatalf("%s: incremental recursion %v, want %v", step, res.IncRecursive, c.inc)
				}
				sameTree(t, step, src, dst, []string{"junk.tmp", "a/junk.tmp", "skip"}, []string{"keep"})
				return res
			}
			first := push("initial push")
			for _, gone := range []string{"stray.txt", "old"} {
				if _, err := os.Lstat(filepath.Join(dst, gone)); err == nil {
					t.Errorf("initial push: %s survived delete", gone)
				}
			}
			if _, err := os.Stat(filepath.Join(dst, "keep/remote.txt")); err != nil {
				t.Errorf("protected file deleted: %v", err)
			}
			if hardLinks {
				a, _ := os.Stat(filepath.Join(dst, "a/f1"))
				b, _ := os.Stat(filepath.Join(dst, "z/hl"))
				if a == nil || b == nil || !os.SameFile(a, b) {
					t.Errorf("a/f1 and z/hl are not one file on the receiver")
				}
			}
			seen := map[string]bool{}
			for _, ch := range first.Changes {
				if seen[ch.Path] {
					t.Errorf("initial push reports %s twice: %+v", ch.Path, first.Changes)
				}
				seen[ch.Path] = true
			}
			if !seen["a/"] || !seen["a/b/c/d/"] || !seen["empty/"] {
				t.Errorf("initial push changes miss created directories: %+v", first.Changes)
			}
			if !hasChange(first.Changes, "a/b/c/d/e/deeper.txt", rsync.ChangeCreate) || !hasChange(first.Changes, "old/", rsync.ChangeDelete) {
				t.Errorf("initial push changes miss the deep file or the deleted directory: %+v", first.Changes)
			}

			// Directories come and go between runs.
			if err := os.RemoveAll(filepath.Join(src, "x")); err != nil {
				t.Fatal(err)
			}
			writeFiles(t, src, map[string]string{"new/deeper/file": "n", "a/b/c/added.txt": "added"})
			// This time the changes stream out through OnChange.
			var streamed []rsync.Change
			opts.OnChange = func(c rsync.Change) { streamed = append(streamed, c) }
			second := push("push after adding and removing directories")
			opts.OnChange = nil
			if len(second.Changes) != 0 {
				t.Errorf("with OnChange, Result.Changes holds %d changes", len(second.Changes))
			}
			if !hasChange(streamed, "x/", rsync.ChangeDelete) || !hasChange(streamed, "new/deeper/file", rsync.ChangeCreate) {
				t.Errorf("second push changes: %+v", streamed)
			}
			third := push("no-change push")
			if third.Stats.FilesTransferred != 0 || len(third.Changes) != 0 {
				t.Errorf("no-change push did work: %+v %+v", third.Stats, third.Changes)
			}
		})
	}
}

func hasChange(changes []rsync.Change, path string, kind rsync.ChangeKind) bool {
	for _, c := range changes {
		if c.Path == path && c.Kind == kind {
			return true
		}
	}
	return false
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		mkdir(t, filepath.Dir(p))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// sameTree checks that dst holds exactly src less the excluded names, plus
// the protected ones: types, permissions, contents, link targets and file
// times.
func sameTree(t *testing.T, step, src, dst string, excluded, protected []string) {
	t.Helper()
	skip := func(rel string, list []string) bool {
		for _, x := range list {
			if rel == x || strings.HasPrefix(rel, x+"/") {
				return true
			}
		}
		return false
	}
	describe := func(root, rel string) (string, error) {
		p := filepath.Join(root, rel)
		st, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		d := fmt.Sprintf("%v", st.Mode())
		switch {
		case st.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return "", err
			}
			d += fmt.Sprintf(" %q %d", b, st.ModTime().Unix())
		case st.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			d += " -> " + target
		}
		return d, nil
	}
	seen := map[string]bool{}
	walk := func(root string, visit func(rel string) error) {
		err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if rel == "." {
				return nil
			}
			if skip(rel, excluded) || skip(rel, protected) {
				return nil
			}
			return visit(rel)
		})
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	walk(src, func(rel string) error {
		seen[rel] = true
		want, err := describe(src, rel)
		if err != nil {
			return err
		}
		got, err := describe(dst, rel)
		if err != nil {
			t.Errorf("%s: %s missing on the receiver: %v", step, rel, err)
			return nil
		}
		if got != want {
			t.Errorf("%s: %s is %s on the receiver, want %s", step, rel, got, want)
		}
		return nil
	})
	walk(dst, func(rel string) error {
		if !seen[rel] {
			t.Errorf("%s: %s on the receiver is not in the source", step, rel)
		}
		return nil
	})
	for _, x := range excluded {
		if _, err := os.Lstat(filepath.Join(dst, x)); err == nil {
			t.Errorf("%s: excluded %s was sent", step, x)
		}
	}
}

// TestInteropIncPushLongFirstList: a source whose top directory holds more
// entries than the lookahead (1,000), beside a subdirectory, pushed over a
// destination whose big file is the basis of a delta. The generator reports
// a list done only once a later list has come, so a sender that counted
// the first list as ahead waited on a generator waiting on it (the push
// hung until its deadline; the fault test's recovering apply found it).
func TestInteropIncPushLongFirstList(t *testing.T) {
	srv := sshtest.Start(t)
	tr := sshTransport(t, srv)
	src := filepath.Join(t.TempDir(), "src")
	dst := filepath.Join(t.TempDir(), "dst")
	big := func(seed byte) string {
		b := make([]byte, 4<<20)
		for i := range b {
			b[i] = byte(i*31) ^ seed ^ byte(i>>9)
		}
		return string(b)
	}
	writeFiles(t, src, map[string]string{"index.html": "old", "big.bin": big(1), "css/a.css": "a"})
	// An hour old: the new versions below keep the size, and rsync's quick
	// check compares whole seconds, so they must not share the second.
	hourAgo := time.Now().Add(-time.Hour)
	for _, name := range []string{"index.html", "big.bin"} {
		if err := os.Chtimes(filepath.Join(src, name), hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := rsync.Push(ctx, tr, src+"/", dst, rsync.Options{Delete: true}); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"index.html": "new", "big.bin": big(2)}
	for i := range 3000 {
		files[fmt.Sprintf("list-%05d.txt", i)] = "x"
	}
	writeFiles(t, src, files)
	res, err := rsync.Push(ctx, tr, src+"/", dst, rsync.Options{Delete: true})
	if err != nil {
		t.Fatalf("push of a first list longer than the lookahead: %v", err)
	}
	if !res.IncRecursive || res.Stats.FilesTotal != 3005 {
		t.Errorf("incremental %v, %d entries; want true, 3005", res.IncRecursive, res.Stats.FilesTotal)
	}
	sameTree(t, "after the second push", src, dst, nil, nil)
}
