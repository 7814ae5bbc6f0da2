//go:build unix

package rsync

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// estimateTrees writes a source and an older destination: big.bin (2 MB)
// with one byte changed, rewritten.bin replaced end to end, same.bin
// unchanged, new.bin only in the source, sub/deep.txt edited, and
// other/keep.txt, which is not asked about.
func estimateTrees(t *testing.T) (src, dst string) {
	t.Helper()
	src, dst = filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	rnd := rand.New(rand.NewSource(18))
	random := func(n int) []byte {
		b := make([]byte, n)
		rnd.Read(b)
		return b
	}
	big := random(2_000_000)
	old := map[string][]byte{
		"big.bin": big, "rewritten.bin": random(300_000), "same.bin": random(50_000),
		"sub/deep.txt": bytes.Repeat([]byte("line of text\n"), 4000), "other/keep.txt": []byte("keep\n"),
	}
	cur := map[string][]byte{}
	for k, v := range old {
		cur[k] = v
	}
	cur["big.bin"] = append([]byte(nil), big...)
	cur["big.bin"][1_000_000] ^= 0xff
	cur["rewritten.bin"] = random(300_000)
	cur["new.bin"] = random(1 << 20)
	cur["sub/deep.txt"] = append(bytes.Repeat([]byte("line of text\n"), 2000), []byte("an inserted line\n")...)
	cur["sub/deep.txt"] = append(cur["sub/deep.txt"], bytes.Repeat([]byte("line of text\n"), 2000)...)
	write := func(root string, files map[string][]byte, when time.Time) {
		for name, data := range files {
			p := filepath.Join(root, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, when, when); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(dst, old, time.Unix(1_600_000_000, 0))
	write(src, cur, time.Unix(1_700_000_000, 0))
	// Unchanged files keep the destination's times: the push leaves them.
	for _, name := range []string{"same.bin", "other/keep.txt"} {
		when := time.Unix(1_600_000_000, 0)
		if err := os.Chtimes(filepath.Join(src, name), when, when); err != nil {
			t.Fatal(err)
		}
	}
	// Directories get whole-second times: at protocol 30 the push cannot
	// carry nanoseconds, and a comparison after it would see them.
	for root, when := range map[string]time.Time{src: time.Unix(1_700_000_000, 0), dst: time.Unix(1_600_000_000, 0)} {
		for _, d := range []string{"sub", "other", "."} {
			if err := os.Chtimes(filepath.Join(root, d), when, when); err != nil {
				t.Fatal(err)
			}
		}
	}
	return src, dst
}

// TestInteropEstimate asks stock rsync 3.5.0 and 3.2.7 servers, at
// protocols 30–32, what a push would send: the destination must be exactly
// as it was (names, types, modes, sizes, times, inodes), the counts must be
// those of the push that follows, and that push must send exactly the
// estimated literal data.
func TestInteropEstimate(t *testing.T) {
	for _, srv := range servers(t) {
		for _, proto := range []int{32, 31, 30} {
			t.Run(fmt.Sprintf("%s/p%d", srv.version, proto), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				src, dst := estimateTrees(t)
				opts := Options{RsyncPath: fmt.Sprintf("%s --protocol=%d", srv.path, proto), Logger: testLogger(t)}
				est := opts
				est.EstimateOnly = true
				est.EstimatePaths = []string{"big.bin", "rewritten.bin", "new.bin", "sub/deep.txt"}
				before := testtree.Snapshot(t, dst)
				res, err := Push(ctx, ExecTransport{}, src+"/", dst+"/", est)
				if err != nil {
					t.Fatalf("estimate: %v", err)
				}
				if after := testtree.Snapshot(t, dst); after != before {
					t.Fatalf("the estimate changed the destination:\nbefore\n%s\nafter\n%s", before, after)
				}
				got := map[string]FileEstimate{}
				for _, e := range res.Estimates {
					got[e.Path] = e
				}
				if len(got) != 4 {
					t.Fatalf("estimates for %d files, want 4: %+v", len(got), res.Estimates)
				}
				if e := got["big.bin"]; !e.Basis || e.Literal == 0 || e.Literal > 2*1416 || e.Literal+e.Matched != 2_000_000 {
					t.Errorf("big.bin: %+v, want one or two blocks of literal data (1,414-byte blocks), the rest matched", e)
				}
				if e := got["rewritten.bin"]; !e.Basis || e.Literal != 300_000 || e.Matched != 0 {
					t.Errorf("rewritten.bin: %+v, want all 300,000 bytes literal", e)
				}
				if e := got["new.bin"]; e.Basis || e.Literal != 1<<20 || e.Matched != 0 {
					t.Errorf("new.bin: %+v, want all 1 MiB literal with no basis", e)
				}
				if e := got["sub/deep.txt"]; !e.Basis || e.Literal == 0 || e.Literal > 2000 || e.Matched == 0 {
					t.Errorf("sub/deep.txt: %+v, want an inserted line's blocks", e)
				}
				if res.Stats.BytesSent > 4096 {
					t.Errorf("the estimate sent %d bytes; it must send no file data", res.Stats.BytesSent)
				}

				push, err := Push(ctx, ExecTransport{}, src+"/", dst+"/", opts)
				if err != nil {
					t.Fatalf("push: %v", err)
				}
				if err := testtree.Compare(src, dst); err != nil {
					t.Fatal(err)
				}
				if push.Stats.LiteralBytes != res.Stats.LiteralBytes || push.Stats.MatchedBytes != res.Stats.MatchedBytes {
					t.Errorf("push sent literal %d / matched %d, the estimate said %d / %d",
						push.Stats.LiteralBytes, push.Stats.MatchedBytes, res.Stats.LiteralBytes, res.Stats.MatchedBytes)
				}
			})
		}
	}
}

// TestInteropEstimateSourceDir: a source without a trailing slash lists
// its files under its own name ("src/big.bin"), and the estimate finds the
// server's copies under destination/src.
func TestInteropEstimateSourceDir(t *testing.T) {
	src, dst := estimateTrees(t)
	parent := t.TempDir()
	if out, err := exec.Command("cp", "-a", dst, filepath.Join(parent, "src")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	before := testtree.Snapshot(t, parent)
	res, err := Push(context.Background(), ExecTransport{}, src, parent+"/",
		Options{Logger: testLogger(t), EstimateOnly: true, EstimatePaths: []string{"src/big.bin", "src/sub/deep.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	if after := testtree.Snapshot(t, parent); after != before {
		t.Fatalf("the estimate changed the destination:\n%s\n%s", before, after)
	}
	if len(res.Estimates) != 2 || res.Estimates[0].Path != "src/big.bin" || !res.Estimates[0].Basis || res.Estimates[0].Literal > 2*1416 ||
		res.Estimates[1].Path != "src/sub/deep.txt" || !res.Estimates[1].Basis {
		t.Fatalf("estimates %+v", res.Estimates)
	}
}
