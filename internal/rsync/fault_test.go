package rsync

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// cutTransport wraps a transport and breaks the connection once limit
// bytes have crossed it in either direction, like a network cut: both
// streams close, the peer sees EOF.
type cutTransport struct {
	inner Transport
	limit int64
}

func (c cutTransport) Start(ctx context.Context, command string) (Process, error) {
	p, err := c.inner.Start(ctx, command)
	if err != nil {
		return nil, err
	}
	cp := &cutProcess{Process: p, limit: c.limit}
	return cp, nil
}

type cutProcess struct {
	Process
	mu    sync.Mutex
	n     int64
	limit int64
	cut   bool
}

// count records n bytes and cuts the connection when the limit is passed.
func (c *cutProcess) count(n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += int64(n)
	if c.n >= c.limit && !c.cut {
		c.cut = true
		c.Process.Stdin().Close()
		if cl, ok := c.Process.Stdout().(io.Closer); ok {
			cl.Close()
		}
	}
	return c.cut
}

func (c *cutProcess) Stdin() io.WriteCloser { return &cutWriter{c} }
func (c *cutProcess) Stdout() io.Reader     { return &cutReader{c} }

type cutWriter struct{ c *cutProcess }

func (w *cutWriter) Write(p []byte) (int, error) {
	if w.c.count(len(p)) {
		return 0, io.ErrClosedPipe
	}
	return w.c.Process.Stdin().Write(p)
}
func (w *cutWriter) Close() error { return w.c.Process.Stdin().Close() }

type cutReader struct{ c *cutProcess }

func (r *cutReader) Read(p []byte) (int, error) {
	n, err := r.c.Process.Stdout().Read(p)
	if r.c.count(n) {
		return 0, io.ErrUnexpectedEOF
	}
	return n, err
}

// snapshotFiles maps each regular file below root to its content.
func snapshotFiles(t *testing.T, root string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			m[rel] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkOldOrNew: every file in dst is byte-identical to its old or its
// new version, and no temporary file is left.
func checkOldOrNew(t *testing.T, dst string, old, updated map[string][]byte) {
	t.Helper()
	for rel, b := range snapshotFiles(t, dst) {
		base := filepath.Base(rel)
		if strings.HasPrefix(base, ".") && strings.Count(base, ".") >= 2 {
			t.Errorf("temporary file left behind: %s", rel)
			continue
		}
		o, hasOld := old[rel]
		n, hasNew := updated[rel]
		if (!hasOld || !bytes.Equal(b, o)) && (!hasNew || !bytes.Equal(b, n)) {
			t.Errorf("%s is neither its old nor its new version (%d bytes)", rel, len(b))
		}
	}
}

// TestFaultCutMidTransfer cuts the connection at many points of a delta
// push and of a delta pull. Each failed run must fail with an error, leave
// every file whole (old or new), and the next run must converge.
func TestFaultCutMidTransfer(t *testing.T) {
	for _, tc := range []struct {
		dir     string
		initial bool
	}{{"push", false}, {"pull", false}, {"push", true}, {"pull", true}} {
		dir := tc.dir
		t.Run(fmt.Sprintf("%s/initial=%v", dir, tc.initial), func(t *testing.T) {
			ctx := context.Background()
			src := filepath.Join(t.TempDir(), "src")
			dst := filepath.Join(t.TempDir(), "dst")
			if err := os.Mkdir(src, 0o755); err != nil {
				t.Fatal(err)
			}
			testtree.Write(t, src, testtree.Rich())
			run := func(tr Transport) (*Result, error) {
				opts := Options{Delete: true, Logger: testLogger(t)}
				if dir == "push" {
					return Push(ctx, tr, src+"/", dst, opts)
				}
				return Pull(ctx, tr, src+"/", dst, opts)
			}
			if !tc.initial {
				if _, err := run(ExecTransport{}); err != nil {
					t.Fatal(err)
				}
				testtree.Mutate(t, src)
			}
			old := snapshotFiles(t, dst)
			// Measure a clean run's size on a scratch copy to place the cuts.
			scratch := filepath.Join(t.TempDir(), "scratch")
			if !tc.initial {
				if _, err := Local(ctx, dst+"/", scratch, Options{}); err != nil {
					t.Fatal(err)
				}
			}
			var total int64
			{
				opts := Options{Delete: true}
				var res *Result
				var err error
				if dir == "push" {
					res, err = Push(ctx, ExecTransport{}, src+"/", scratch, opts)
				} else {
					res, err = Pull(ctx, ExecTransport{}, src+"/", scratch, opts)
				}
				if err != nil {
					t.Fatal(err)
				}
				total = res.Stats.BytesSent + res.Stats.BytesReceived
			}
			newFiles := snapshotFiles(t, src)
			for i := 0; i < 16; i++ {
				limit := total * int64(i) / 16
				t.Run(fmt.Sprintf("cut@%d", limit), func(t *testing.T) {
					_, err := run(cutTransport{inner: ExecTransport{}, limit: limit})
					if err == nil {
						t.Fatalf("the run cut after %d of %d bytes succeeded", limit, total)
					}
					checkOldOrNew(t, dst, old, newFiles)
				})
			}
			if _, err := run(ExecTransport{}); err != nil {
				t.Fatalf("the run after the faults: %v", err)
			}
			if err := testtree.Compare(src, dst); err != nil {
				t.Fatalf("did not converge: %v", err)
			}
			checkOldOrNew(t, dst, old, newFiles)
		})
	}
}
