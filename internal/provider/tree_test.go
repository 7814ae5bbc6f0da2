package provider

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

// treeEntry describes one entry of a test tree.
type treeEntry struct {
	path    string // relative, slash-separated
	mode    fs.FileMode
	content []byte // regular files
	target  string // symlinks
	dir     bool
}

// richTree is the tree the acceptance test pushes: nested directories, an
// empty directory, a zero-byte file, a 5 MB binary file (seeded random),
// names with spaces and non-ASCII UTF-8, relative symlinks, and modes
// 0600/0640/0755 (0750/0700 on directories).
func richTree() []treeEntry {
	big := make([]byte, 5<<20)
	rand.New(rand.NewSource(20240601)).Read(big)
	return []treeEntry{
		{path: "index.html", mode: 0o644, content: []byte("<!doctype html>\n<h1>hello</h1>\n")},
		{path: "empty.txt", mode: 0o640, content: []byte{}},
		{path: "big.bin", mode: 0o600, content: big},
		{path: "with space.txt", mode: 0o640, content: []byte("a name with a space\n")},
		{path: "naïve café ☕.txt", mode: 0o644, content: []byte("non-ASCII UTF-8 name\n")},
		{path: "bin", dir: true, mode: 0o755},
		{path: "bin/run.sh", mode: 0o755, content: []byte("#!/bin/sh\necho run\n")},
		{path: "docs", dir: true, mode: 0o755},
		{path: "docs/guide", dir: true, mode: 0o750},
		{path: "docs/guide/deep", dir: true, mode: 0o755},
		{path: "docs/guide/deep/nested.md", mode: 0o644, content: []byte("# nested\n")},
		{path: "docs/guide/intro.md", mode: 0o600, content: []byte("# intro\n")},
		{path: "docs/home", target: "../index.html"},
		{path: "empty-dir", dir: true, mode: 0o700},
		{path: "ünïcødé dir", dir: true, mode: 0o755},
		{path: "ünïcødé dir/ファイル 1.txt", mode: 0o640, content: []byte("日本語\n")},
		{path: "latest", target: "docs/guide/intro.md"},
		{path: "dangling", target: "does/not/exist"},
	}
}

// writeTree creates entries under root (which must exist) and gives every
// entry and root a distinct whole-second mtime, children before parents so
// that creating a child does not move its directory's mtime afterwards.
func writeTree(t *testing.T, root string, entries []treeEntry) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(root, filepath.FromSlash(e.path))
		var err error
		switch {
		case e.dir:
			err = os.Mkdir(p, 0o700)
		case e.target != "":
			err = os.Symlink(e.target, p)
		default:
			err = os.WriteFile(p, e.content, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.target == "" {
			if err := os.Chmod(p, e.mode); err != nil {
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
		if e.target == "" {
			paths = append(paths, e.path)
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

// compareTrees checks that dst holds exactly what src holds: the same
// entries, types, permission bits, contents, symlink targets and (for files
// and directories, root included) modification times. It returns every
// difference it finds.
func compareTrees(src, dst string) error {
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

// rsyncDryRunDiff asks the stock rsync what it would still change to make
// dst match src, by content checksum (rsync -rlptnic): nothing, when the
// push was exact.
func rsyncDryRunDiff(src, dst string) (string, error) {
	out, err := exec.Command("rsync", "-rlptnic", src+"/", dst+"/").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("rsync -rlptnic: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// TestCompareTrees checks the checker itself: a copy made with the stock
// rsync -a matches, and single changes are each reported.
func TestCompareTrees(t *testing.T) {
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Fatal("rsync not found on PATH; install it (apt-get install rsync)")
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTree(t, src, richTree())
	copyWithRsync := func() string {
		dst := filepath.Join(t.TempDir(), "dst")
		if out, err := exec.Command("rsync", "-a", src+"/", dst+"/").CombinedOutput(); err != nil {
			t.Fatalf("rsync -a: %v: %s", err, out)
		}
		return dst
	}
	dst := copyWithRsync()
	if err := compareTrees(src, dst); err != nil {
		t.Fatalf("identical copy reported different: %v", err)
	}
	if out, err := rsyncDryRunDiff(src, dst); err != nil || out != "" {
		t.Fatalf("rsync dry run on identical copy: %q, %v", out, err)
	}

	mutations := map[string]func(dst string) error{
		"mode":  func(d string) error { return os.Chmod(filepath.Join(d, "empty.txt"), 0o644) },
		"mtime": func(d string) error { return os.Chtimes(filepath.Join(d, "bin/run.sh"), time.Now(), time.Now()) },
		"content": func(d string) error {
			return os.WriteFile(filepath.Join(d, "docs/guide/intro.md"), []byte("# INTRO\n"), 0o600)
		},
		"missing": func(d string) error { return os.Remove(filepath.Join(d, "ünïcødé dir/ファイル 1.txt")) },
		"extra":   func(d string) error { return os.WriteFile(filepath.Join(d, "empty-dir/new"), nil, 0o600) },
		"symlink": func(d string) error {
			l := filepath.Join(d, "latest")
			if err := os.Remove(l); err != nil {
				return err
			}
			return os.Symlink("index.html", l)
		},
	}
	for name, mutate := range mutations {
		dst := copyWithRsync()
		if err := mutate(dst); err != nil {
			t.Fatal(err)
		}
		if err := compareTrees(src, dst); err == nil {
			t.Errorf("%s change not detected", name)
		}
	}
}
