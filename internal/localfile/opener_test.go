package localfile

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// TestOpenerReadsEveryFile: files in one directory and across several,
// opened through one Opener, read back whole; a missing file and a
// missing directory fail as Open fails, naming the whole path, and the
// Opener goes on opening files after them.
func TestOpenerReadsEveryFile(t *testing.T) {
	root := t.TempDir()
	want := map[string][]byte{}
	for _, d := range []string{"a", "a/b", "c"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			p := filepath.Join(root, d, "f"+strconv.Itoa(i))
			body := bytes.Repeat([]byte(p), i+1)
			if err := os.WriteFile(p, body, 0o644); err != nil {
				t.Fatal(err)
			}
			want[p] = body
		}
	}
	var o Opener
	defer o.Close()
	order := []string{"a/f0", "a/f1", "a/b/f0", "a/f2", "c/f0", "c/f1", "a/b/f1", "a/b/f2", "c/f2"}
	for _, name := range order {
		p := filepath.Join(root, name)
		f, err := o.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(readerOnly{f})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[p]) {
			t.Errorf("%s: read %q, want %q", name, got, want[p])
		}
	}
	for _, missing := range []string{filepath.Join(root, "a", "nothing"), filepath.Join(root, "gone", "f0")} {
		_, err := o.Open(missing)
		var pe *fs.PathError
		if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Op != "open" || pe.Path != missing {
			t.Errorf("%s: %v, want an open error naming it", missing, err)
		}
		p := filepath.Join(root, "c", "f1")
		f, err := o.Open(p)
		if err != nil {
			t.Fatalf("after %s: %v", missing, err)
		}
		f.Close()
	}
}

// TestOpenerKeepsOneDirectory: an Opener holds at most one directory's
// descriptor whatever the number of directories it went through, and
// none after Close.
func TestOpenerKeepsOneDirectory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd")
	}
	root := t.TempDir()
	const dirs = 200
	for i := 0; i < dirs; i++ {
		d := filepath.Join(root, strconv.Itoa(i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	open := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := open()
	var o Opener
	for i := 0; i < dirs; i++ {
		f, err := o.Open(filepath.Join(root, strconv.Itoa(i), "f"))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if n := open(); n > before+1 {
		t.Errorf("%d descriptors open after %d directories, %d before", n, dirs, before)
	}
	o.Close()
	if n := open(); n != before {
		t.Errorf("%d descriptors open after Close, %d before", n, before)
	}
}

// TestExpectSize: once the expected size is read by a short read, the
// file ends there: bytes appended after that are not read (the read(2)
// that would see them is not made). A file that is not its expected size
// is read to its end.
func TestExpectSize(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("ExpectSize does nothing where a File is an *os.File")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	write := func(b []byte) {
		t.Helper()
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	grow := func() {
		t.Helper()
		a, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Write([]byte("more")); err != nil {
			t.Fatal(err)
		}
		a.Close()
	}
	buf := make([]byte, 64)

	// The expected size, read short: the end, whatever comes after.
	write([]byte("0123456789"))
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	f.ExpectSize(10)
	if n, err := f.Read(buf); n != 10 || err != nil {
		t.Fatalf("first read: %d, %v", n, err)
	}
	grow()
	if n, err := f.Read(buf); n != 0 || err != io.EOF { //nolint:errorlint // io.Reader's io.EOF is compared with ==
		t.Errorf("after the expected size: %d, %v; want 0, io.EOF", n, err)
	}
	f.Close()

	// Without ExpectSize the appended bytes are read.
	write([]byte("0123456789"))
	f, err = Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Read(buf); n != 10 || err != nil {
		t.Fatalf("first read: %d, %v", n, err)
	}
	grow()
	if n, err := f.Read(buf); n != 4 || err != nil {
		t.Errorf("without ExpectSize: %d, %v; want the 4 appended bytes", n, err)
	}
	f.Close()

	for _, c := range []struct {
		name   string
		body   []byte
		expect int64
		buf    int
	}{
		{"grew before it was read", []byte("0123456789abcdefghij"), 10, 64},
		{"filled the buffer at the expected size", []byte("0123456789abcdefghij"), 10, 10},
		{"shrank", []byte("0123"), 10, 64},
		{"empty", nil, 0, 64},
		{"expected empty, holds bytes", []byte("abc"), 0, 64},
	} {
		write(c.body)
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		f.ExpectSize(c.expect)
		got, err := io.ReadAll(io.LimitReader(readerOnly{&chunked{f, c.buf}}, 1<<20))
		f.Close()
		if err != nil || !bytes.Equal(got, c.body) {
			t.Errorf("%s: read %q, %v; want %q", c.name, got, err, c.body)
		}
	}
}

// chunked reads at most n bytes a call.
type chunked struct {
	r io.Reader
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}
