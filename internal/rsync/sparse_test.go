package rsync

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSparseWriter: whatever the write sizes, the file reads back exactly
// what was written, with its full length when it ends in zeros.
func TestSparseWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := map[string][]byte{
		"empty":       {},
		"all zeros":   make([]byte, 5*sparseBlock+17),
		"small":       []byte("abc"),
		"zero middle": append(append(bytes.Repeat([]byte{1}, 3*sparseBlock+5), make([]byte, 4*sparseBlock)...), 2),
	}
	random := make([]byte, 64*sparseBlock)
	for i := 0; i < len(random); i += sparseBlock {
		if rng.IntN(2) == 0 {
			for j := i; j < i+sparseBlock; j += 1 + rng.IntN(500) {
				random[j] = byte(rng.Uint32())
			}
		}
	}
	cases["random blocks"] = random
	for name, data := range cases {
		for _, chunk := range []int{1, 1000, sparseBlock, 3*sparseBlock + 1, 1 << 20} {
			f, err := os.Create(filepath.Join(t.TempDir(), "f"))
			if err != nil {
				t.Fatal(err)
			}
			w := &sparseWriter{f: f}
			for rest := data; len(rest) > 0; {
				n := min(chunk, len(rest))
				if m, err := w.Write(rest[:n]); err != nil || m != n {
					t.Fatalf("%s/%d: write %d, %v", name, chunk, m, err)
				}
				rest = rest[n:]
			}
			if err := w.finish(); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(f)
			f.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s/%d: read back %d bytes (%v), want %d equal ones", name, chunk, len(got), err, len(data))
			}
		}
	}
}

// TestBwLimitCancel: a write held by the limit ends when its context is
// cancelled, with the context's error.
func TestBwLimitCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w, _ := limitTransport(ctx, io.Discard, bytes.NewReader(nil), 1)
	done := make(chan error, 1)
	go func() {
		_, err := w.Write(make([]byte, 64<<10)) // 64 s at 1 KiB/s
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("write ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the write did not end on cancellation")
	}
}
