// Package testtree builds file trees for tests and compares two trees the
// way a user would judge a sync: the same entries, types, permission bits,
// contents, symlink targets and modification times.
package testtree

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Entry describes one entry of a test tree.
type Entry struct {
	Path    string // relative, slash-separated
	Mode    fs.FileMode
	Content []byte // regular files
	Target  string // symlinks
	Dir     bool
}

// Rich is the tree the acceptance test pushes: nested directories, an
// empty directory, a zero-byte file, a 5 MB binary file (seeded random),
// names with spaces and non-ASCII UTF-8, relative symlinks, and modes
// 0600/0640/0755 (0750/0700 on directories).
func Rich() []Entry {
	big := make([]byte, 5<<20)
	rand.New(rand.NewSource(20240601)).Read(big)
	return []Entry{
		{Path: "index.html", Mode: 0o644, Content: []byte("<!doctype html>\n<h1>hello</h1>\n")},
		{Path: "empty.txt", Mode: 0o640, Content: []byte{}},
		{Path: "big.bin", Mode: 0o600, Content: big},
		{Path: "with space.txt", Mode: 0o640, Content: []byte("a name with a space\n")},
		{Path: "naïve café ☕.txt", Mode: 0o644, Content: []byte("non-ASCII UTF-8 name\n")},
		{Path: "bin", Dir: true, Mode: 0o755},
		{Path: "bin/run.sh", Mode: 0o755, Content: []byte("#!/bin/sh\necho run\n")},
		{Path: "docs", Dir: true, Mode: 0o755},
		{Path: "docs/guide", Dir: true, Mode: 0o750},
		{Path: "docs/guide/deep", Dir: true, Mode: 0o755},
		{Path: "docs/guide/deep/nested.md", Mode: 0o644, Content: []byte("# nested\n")},
		{Path: "docs/guide/intro.md", Mode: 0o600, Content: []byte("# intro\n")},
		{Path: "docs/home", Target: "../index.html"},
		{Path: "empty-dir", Dir: true, Mode: 0o700},
		{Path: "ünïcødé dir", Dir: true, Mode: 0o755},
		{Path: "ünïcødé dir/ファイル 1.txt", Mode: 0o640, Content: []byte("日本語\n")},
		{Path: "latest", Target: "docs/guide/intro.md"},
		{Path: "dangling", Target: "does/not/exist"},
	}
}

// Write creates entries under root (which must exist) and gives every
// entry and root a distinct whole-second mtime, children before parents so
// that creating a child does not move its directory's mtime afterwards.
func Write(t testing.TB, root string, entries []Entry) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(root, filepath.FromSlash(e.Path))
		var err error
		switch {
		case e.Dir:
			err = os.Mkdir(p, 0o700)
		case e.Target != "":
			err = os.Symlink(e.Target, p)
		default:
			err = os.WriteFile(p, e.Content, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Target == "" {
			if err := os.Chmod(p, e.Mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// Deepest first; root last.
	paths := make([]string, 0, len(entries)+1)
	for _, e := range entries {
		if e.Target == "" {
			paths = append(paths, e.Path)
		}
	}
	sort.SliceStable(paths, func(i, j int) bool {
		return strings.Count(paths[i], "/") > strings.Count(paths[j], "/")
	})
	paths = append(paths, ".")
	base := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	for i, rel := range paths {
		mt := base.Add(time.Duration(i) * 97 * time.Second)
		if err := os.Chtimes(filepath.Join(root, filepath.FromSlash(rel)), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

// Compare checks that dst holds exactly what src holds: the same
// entries, types, permission bits, contents, symlink targets and (for files
// and directories, root included) modification times. It returns every
// difference it finds.
func Compare(src, dst string) error { return CompareExcept(src, dst) }

// CompareExcept is Compare, except that the destination may hold the
// given extra paths (relative, "/"-separated; what a release links to its
// shared directory), which are not compared.
func CompareExcept(src, dst string, extra ...string) error {
	var diffs []string
	seen := map[string]bool{}
	err := filepath.WalkDir(src, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		seen[rel] = true
		if d := compareEntry(p, filepath.Join(dst, rel)); d != "" {
			diffs = append(diffs, fmt.Sprintf("%s: %s", rel, d))
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = filepath.WalkDir(dst, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		for _, x := range extra {
			if filepath.ToSlash(rel) == x {
				seen[rel] = true
			}
		}
		if !seen[rel] {
			diffs = append(diffs, fmt.Sprintf("%s: only in the destination", rel))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%d differences between %s and %s:\n  %s", len(diffs), src, dst, strings.Join(diffs, "\n  "))
	}
	return nil
}

func compareEntry(a, b string) string {
	ai, err := os.Lstat(a)
	if err != nil {
		return err.Error()
	}
	bi, err := os.Lstat(b)
	if errors.Is(err, fs.ErrNotExist) {
		return "missing in the destination"
	} else if err != nil {
		return err.Error()
	}
	if ai.Mode().Type() != bi.Mode().Type() {
		return fmt.Sprintf("type %v, want %v", bi.Mode().Type(), ai.Mode().Type())
	}
	if ai.Mode()&fs.ModeSymlink != 0 {
		at, _ := os.Readlink(a)
		bt, err := os.Readlink(b)
		if err != nil || at != bt {
			return fmt.Sprintf("symlink target %q (%v), want %q", bt, err, at)
		}
		return ""
	}
	var d []string
	if ai.Mode().Perm() != bi.Mode().Perm() {
		d = append(d, fmt.Sprintf("mode %v, want %v", bi.Mode().Perm(), ai.Mode().Perm()))
	}
	if !ai.ModTime().Equal(bi.ModTime()) {
		d = append(d, fmt.Sprintf("mtime %v, want %v", bi.ModTime().UTC(), ai.ModTime().UTC()))
	}
	if ai.Mode().IsRegular() {
		if ai.Size() != bi.Size() {
			d = append(d, fmt.Sprintf("size %d, want %d", bi.Size(), ai.Size()))
		} else {
			ac, err1 := os.ReadFile(a)
			bc, err2 := os.ReadFile(b)
			if err1 != nil || err2 != nil || !bytes.Equal(ac, bc) {
				d = append(d, fmt.Sprintf("content differs (%v, %v)", err1, err2))
			}
		}
	}
	return strings.Join(d, "; ")
}

// RsyncDiff asks the stock rsync what it would still change to make
// dst match src, by content checksum (rsync -rlptnic): nothing, when the
// push was exact.
func RsyncDiff(src, dst string) (string, error) {
	out, err := exec.Command("rsync", "-rlptnic", src+"/", dst+"/").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("rsync -rlptnic: %w: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// Mutate makes the edits a deploy typically brings to a tree written by
// Write with Rich: a 31-byte overwrite in the middle of big.bin (same size),
// an appended file, a removed file, a new file in a new directory, a mode
// change and a retargeted symlink. Every changed entry gets a new mtime so
// that rsync's quick check sees it.
func Mutate(t testing.TB, root string) {
	t.Helper()
	p := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	mt := time.Date(2022, 7, 8, 9, 10, 11, 0, time.UTC)
	big, err := os.ReadFile(p("big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	copy(big[len(big)/2:], []byte("thirty-one bytes of new content"))
	steps := []func() error{
		func() error { return os.WriteFile(p("big.bin"), big, 0o600) },
		func() error { return os.Chtimes(p("big.bin"), mt, mt) },
		func() error {
			f, err := os.OpenFile(p("index.html"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			if _, err := f.WriteString("<p>appended</p>\n"); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		},
		func() error { return os.Chtimes(p("index.html"), mt, mt) },
		func() error { return os.Remove(p("docs/guide/intro.md")) },
		func() error { return os.MkdirAll(p("new/dir"), 0o755) },
		func() error { return os.WriteFile(p("new/dir/file.txt"), []byte("new\n"), 0o644) },
		func() error { return os.Chtimes(p("new/dir/file.txt"), mt, mt) },
		func() error { return os.Chmod(p("bin/run.sh"), 0o700) },
		func() error { return os.Remove(p("latest")) },
		func() error { return os.Symlink("index.html", p("latest")) },
		func() error { return os.Chtimes(p("docs/guide"), mt, mt) },
		func() error { return os.Chtimes(p("new/dir"), mt, mt) },
		func() error { return os.Chtimes(p("new"), mt, mt) },
		func() error { return os.Chtimes(root, mt, mt) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("mutate step %d: %v", i, err)
		}
	}
}
