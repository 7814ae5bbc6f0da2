package rsync

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// server is a stock rsync binary used as the remote side.
type server struct {
	version string
	path    string
}

func servers(t *testing.T) []server {
	t.Helper()
	stock, err := exec.LookPath("rsync")
	if err != nil {
		t.Fatal("rsync is not installed; install it (apt-get install rsync): the interop tests need a real peer")
	}
	return []server{{"3.5.0", stock}, {"3.2.7", sshtest.Rsync327(t)}}
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Warn, Output: testWriter{t}})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestInteropPushMatrix pushes a rich tree to stock rsync servers (3.5.0
// and 3.2.7) at protocols 30, 31 and 32 with every checksum we negotiate,
// through a local pipe; then a mutated tree (delta transfer), then an
// unchanged one. After each push the destination must match the source
// exactly, and the no-change push must move no file data.
func TestInteropPushMatrix(t *testing.T) {
	for _, srv := range servers(t) {
		for _, proto := range []int{32, 31, 30} {
			for _, algo := range []string{"xxh128", "xxh3", "xxh64", "md5"} {
				for _, checksum := range []bool{false, true} {
					name := fmt.Sprintf("%s/p%d/%s", srv.version, proto, algo)
					if checksum {
						name += "/c"
					}
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						opts := Options{
							RsyncPath:      fmt.Sprintf("%s --protocol=%d", srv.path, proto),
							ChecksumChoice: algo,
							Checksum:       checksum,
							Delete:         true,
							Logger:         testLogger(t),
						}
						pushAndCheck(t, opts, proto, algo)
					})
				}
			}
		}
	}
}

func pushAndCheck(t *testing.T, opts Options, proto int, algo string) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	dst := filepath.Join(t.TempDir(), "dst")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())

	push := func(step string) *Result {
		t.Helper()
		res, err := Push(ctx, ExecTransport{}, src+"/", dst+"/", opts)
		if err != nil {
			t.Fatalf("%s: push: %v", step, err)
		}
		if res.Protocol != proto || res.Checksum != algo {
			t.Fatalf("%s: negotiated protocol %d / %s, want %d / %s", step, res.Protocol, res.Checksum, proto, algo)
		}
		if err := testtree.Compare(src, dst); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return res
	}
	first := push("initial push")
	if first.Stats.LiteralBytes < 5<<20 {
		t.Errorf("initial push sent %d literal bytes, want the whole tree", first.Stats.LiteralBytes)
	}
	// A stray file on the receiver goes with delete; an excluded one stays.
	if err := os.WriteFile(filepath.Join(dst, "stray.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	testtree.Mutate(t, src)
	second := push("delta push")
	if second.Stats.MatchedBytes < 4<<20 {
		t.Errorf("delta push matched only %d bytes of big.bin", second.Stats.MatchedBytes)
	}
	// 31 changed bytes fall in at most two blocks (5 MiB → ~2.3 KB blocks),
	// plus the small files that changed.
	if second.Stats.LiteralBytes > 3*2296+200 {
		t.Errorf("delta push sent %d literal bytes for a 31-byte edit", second.Stats.LiteralBytes)
	}
	var deletedStray bool
	for _, c := range second.Changes {
		if c.Path == "stray.txt" && c.Kind == ChangeDelete {
			deletedStray = true
		}
	}
	if !deletedStray {
		t.Errorf("the stray file was not reported deleted: %+v", second.Changes)
	}
	third := push("no-change push")
	if third.Stats.FilesTransferred != 0 || third.Stats.LiteralBytes != 0 || len(third.Changes) != 0 {
		t.Errorf("no-change push did work: %+v, changes %+v", third.Stats, third.Changes)
	}
}
