package flist

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// streamTree writes a tree that makes the streamer's queue work: wide
// directories (more subdirectories than it reads ahead), deep chains,
// names where a file, a directory and a longer name share a prefix,
// empty directories, a symlink, an excluded subtree and a file that
// cannot be read ahead of its parent.
func streamTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	var paths []string
	for d := range 40 {
		paths = append(paths, fmt.Sprintf("wide/d%02d/f", d), fmt.Sprintf("wide/d%02d.txt", d))
	}
	paths = append(paths, "deep/a/b/c/d/e/f/g/h/i/j/file")
	for _, top := range []string{"a", "a.b", "a-b", "ab"} {
		paths = append(paths, top+"/x", top+"/x.y/deep", top+"/x-y", top+"/x0/q/r/s", top+".txt")
	}
	paths = append(paths, "skip/inner/file", "keep/file.tmp", "keep/file")
	for _, p := range paths {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"empty", "wide/d07/empty"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a/x", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	return root
}

// walkStream is NewStream and Run.
func walkStream(ctx context.Context, src string, skip Skipper, opts WalkOptions, fn func(e *Entry, id FileID) error) (*WalkResult, error) {
	st, err := NewStream(src, skip, opts)
	if err != nil {
		return nil, err
	}
	return st.Run(ctx, fn)
}

func streamSkip(name string, _ bool) bool {
	return name == "skip" || strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, "/skip")
}

// TestWalkStreamIsWalk: the streamed entries are WalkWith's list, in its
// order and field for field, for the contents of a directory and for the
// directory itself, with a filter; run repeatedly, as directories are
// read ahead on several goroutines. Each id is the entry's lstat.
func TestWalkStreamIsWalk(t *testing.T) {
	root := streamTree(t)
	for range 20 {
		for _, src := range []string{root + "/", root} {
			want, err := WalkWith(src, streamSkip, AllOptions())
			if err != nil {
				t.Fatal(err)
			}
			var got []Entry
			var ids []FileID
			res, err := walkStream(context.Background(), src, streamSkip, AllOptions(), func(e *Entry, id FileID) error {
				got = append(got, *e)
				ids = append(ids, id)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want.Entries) {
				t.Fatalf("%s: %d entries streamed, the walk lists %d", src, len(got), len(want.Entries))
			}
			for i := range got {
				if fmt.Sprint(got[i]) != fmt.Sprint(*want.Entries[i]) {
					t.Fatalf("%s: entry %d streamed as %+v, the walk lists %+v", src, i, got[i], *want.Entries[i])
				}
			}
			if res.Root != want.Root {
				t.Errorf("%s: root %q, the walk's %q", src, res.Root, want.Root)
			}
			checkIDs(t, res, got, ids)
		}
	}
}

// TestWalkStreamStops: an error from fn ends the walk there, with that
// error; the context ending ends it with the context's.
func TestWalkStreamStops(t *testing.T) {
	root := streamTree(t)
	stop := errors.New("enough")
	n := 0
	_, err := walkStream(context.Background(), root+"/", nil, AllOptions(), func(*Entry, FileID) error {
		if n++; n == 30 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 30 {
		t.Errorf("after %d entries: %v, want %v after 30", n, err, stop)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	_, err = walkStream(ctx, root+"/", nil, AllOptions(), func(*Entry, FileID) error {
		if n++; n == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled walk: %v", err)
	}
}
