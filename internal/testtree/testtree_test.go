package testtree

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

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
	Write(t, src, Rich())
	copyWithRsync := func() string {
		dst := filepath.Join(t.TempDir(), "dst")
		if out, err := exec.Command("rsync", "-a", src+"/", dst+"/").CombinedOutput(); err != nil {
			t.Fatalf("rsync -a: %v: %s", err, out)
		}
		return dst
	}
	dst := copyWithRsync()
	if err := Compare(src, dst); err != nil {
		t.Fatalf("identical copy reported different: %v", err)
	}
	if out, err := RsyncDiff(src, dst); err != nil || out != "" {
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
		if err := Compare(src, dst); err == nil {
			t.Errorf("%s change not detected", name)
		}
	}
}
