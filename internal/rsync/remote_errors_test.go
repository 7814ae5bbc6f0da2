package rsync

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mountTmpfs mounts a small tmpfs (the tests run as root, in CI too).
func mountTmpfs(t *testing.T, size string, readOnly bool) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a tmpfs and needs root; CI runs as root")
	}
	dir := t.TempDir()
	opts := "size=" + size
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	if readOnly {
		if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
			t.Fatalf("remount ro: %v: %s", err, out)
		}
	}
	return dir
}

// TestRemoteErrorsSurface: failures on the receiving server come back as
// errors carrying the server's own words, and leave good files alone.
func TestRemoteErrorsSurface(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<16) // 4 MiB
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "small.txt"), []byte("new small\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("disk full", func(t *testing.T) {
		dst := mountTmpfs(t, "1m", false)
		if err := os.WriteFile(filepath.Join(dst, "big.bin"), []byte("the old good version\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Push(ctx, ExecTransport{}, src+"/", dst, Options{Logger: testLogger(t)})
		var ee *ExitError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), "No space left on device") {
			t.Fatalf("error %v: want the server's 'No space left on device'", err)
		}
		if b, _ := os.ReadFile(filepath.Join(dst, "big.bin")); string(b) != "the old good version\n" {
			t.Errorf("the old big.bin was damaged: %d bytes", len(b))
		}
		assertNoTemp(t, dst)
	})
	t.Run("read-only destination", func(t *testing.T) {
		dst := mountTmpfs(t, "1m", true)
		_, err := Push(ctx, ExecTransport{}, src+"/", dst, Options{Logger: testLogger(t)})
		if err == nil || !strings.Contains(err.Error(), "Read-only file system") {
			t.Fatalf("error %v: want 'Read-only file system'", err)
		}
	})
	t.Run("permission denied", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Fatal("needs root to run the server as nobody")
		}
		// The server runs as nobody; the destination is open to it except
		// for one root-owned directory.
		dst := t.TempDir()
		for _, d := range []string{filepath.Dir(dst), dst} {
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Mkdir(filepath.Join(dst, "locked"), 0o755); err != nil {
			t.Fatal(err)
		}
		src := t.TempDir()
		if err := os.Mkdir(filepath.Join(src, "locked"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "locked", "big.bin"), big, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Push(ctx, ExecTransport{}, src+"/", dst, Options{
			RsyncPath: "setpriv --reuid=65534 --regid=65534 --clear-groups rsync",
			Logger:    testLogger(t),
		})
		if err == nil || !strings.Contains(err.Error(), "Permission denied") || !strings.Contains(err.Error(), "locked/") {
			t.Fatalf("error %v: want 'Permission denied' naming the file", err)
		}
	})
	t.Run("missing parent", func(t *testing.T) {
		_, err := Push(ctx, ExecTransport{}, src+"/", filepath.Join(t.TempDir(), "a/b/c"), Options{Logger: testLogger(t)})
		if err == nil || !strings.Contains(err.Error(), "a/b/c") {
			t.Fatalf("error %v: want the path named", err)
		}
	})
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	des, _ := os.ReadDir(dir)
	for _, d := range des {
		if strings.HasPrefix(d.Name(), ".") {
			t.Errorf("temporary file left behind: %s", d.Name())
		}
	}
}

// listedTransport removes a file once its name has gone to the server in
// the file list, i.e. between the listing and the transfer whether the
// list is made before the server starts (one list) or while it runs
// (incremental recursion).
type listedTransport struct {
	Transport
	name   string
	remove func()
}

func (l listedTransport) Start(ctx context.Context, command string) (Process, error) {
	p, err := l.Transport.Start(ctx, command)
	if err != nil {
		return nil, err
	}
	return listedProcess{Process: p, stdin: &listedWriter{WriteCloser: p.Stdin(), name: []byte(l.name), remove: l.remove}}, nil
}

type listedProcess struct {
	Process
	stdin io.WriteCloser
}

func (p listedProcess) Stdin() io.WriteCloser { return p.stdin }

type listedWriter struct {
	io.WriteCloser
	name   []byte
	remove func()
	done   bool
}

func (w *listedWriter) Write(b []byte) (int, error) {
	n, err := w.WriteCloser.Write(b)
	if !w.done && bytes.Contains(b[:n], w.name) {
		w.done = true
		w.remove()
	}
	return n, err
}

// TestVanishedSourceFile: a file that disappears between the listing and
// its transfer is reported as a warning (rsync's exit 24), the rest
// arrives, and deletions still happen only when nothing worse went wrong.
func TestVanishedSourceFile(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	for _, n := range []string{"a.txt", "gone.txt", "z.txt"} {
		if err := os.WriteFile(filepath.Join(src, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tr := listedTransport{ExecTransport{}, "gone.txt", func() { os.Remove(filepath.Join(src, "gone.txt")) }}
	res, err := Push(context.Background(), tr, src+"/", dst, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("push with a vanished file failed: %v", err)
	}
	if len(res.Warnings) == 0 || !strings.Contains(strings.Join(res.Warnings, "\n"), "gone.txt") {
		t.Errorf("no warning names the vanished file: %q", res.Warnings)
	}
	for _, n := range []string{"a.txt", "z.txt"} {
		if b, err := os.ReadFile(filepath.Join(dst, n)); err != nil || string(b) != n {
			t.Errorf("%s did not arrive: %v", n, err)
		}
	}
}
