package localfile

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestReadWhole: a file reads back whole through small and large
// buffers, then io.EOF; an empty file is io.EOF at once.
func TestReadWhole(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("0123456789abcdef"), 10000)
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 7, 4096, 1 << 20} {
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(io.LimitReader(readerOnly{f}, int64(len(want))+1))
		if err != nil {
			t.Fatalf("buffer %d: %v", size, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("buffer %d: read %d bytes, want %d", size, len(got), len(want))
		}
		buf := make([]byte, size)
		if n, err := f.Read(buf); n != 0 || err != io.EOF { //nolint:errorlint // io.Reader returns io.EOF itself: io.ReadFull compares with ==
			t.Fatalf("buffer %d: after the end: %d, %v; want 0, io.EOF", size, n, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(empty)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, err := f.Read(make([]byte, 8)); n != 0 || err != io.EOF { //nolint:errorlint // io.Reader returns io.EOF itself: io.ReadFull compares with ==
		t.Fatalf("empty file: %d, %v; want 0, io.EOF", n, err)
	}
}

// readerOnly hides any WriteTo, so that ReadAll goes through Read.
type readerOnly struct{ io.Reader }

// TestOpenErrors: errors name the operation and the path, and keep what
// errors.Is needs (a missing file is fs.ErrNotExist; a directory cannot
// be read as a file; a second Close is fs.ErrClosed).
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	_, err := Open(missing)
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Op != "open" || pe.Path != missing {
		t.Errorf("missing file: %v", err)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read(make([]byte, 8)); err == nil || !errors.As(err, &pe) || pe.Op != "read" {
		t.Errorf("reading a directory: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second close: %v, want fs.ErrClosed", err)
	}
}
