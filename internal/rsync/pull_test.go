//go:build unix

package rsync

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// TestInteropPullMatrix pulls a rich tree from stock rsync senders (3.5.0
// and 3.2.7) at protocols 30-32, with every checksum and compression, into
// an empty destination, then into a partly matching one (delta, delete),
// then once more with nothing to do.
func TestInteropPullMatrix(t *testing.T) {
	interopMatrix(t, func(algo string) bool { return algo == "xxh64" || algo == "md5" }, pullAndCheck)
}

func pullAndCheck(t *testing.T, opts Options, proto int, algo string) {
	ctx := context.Background()
	remote := filepath.Join(t.TempDir(), "remote")
	local := filepath.Join(t.TempDir(), "local")
	if err := os.Mkdir(remote, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, remote, testtree.Rich())
	pull := func(step string) *Result {
		t.Helper()
		res, err := Pull(ctx, ExecTransport{}, remote+"/", local, opts)
		if err != nil {
			t.Fatalf("%s: pull: %v", step, err)
		}
		if res.Protocol != proto || res.Checksum != algo || res.Compression != cmp.Or(opts.CompressChoice, "none") {
			t.Fatalf("%s: negotiated %d/%s/%s", step, res.Protocol, res.Checksum, res.Compression)
		}
		if !res.IncRecursive {
			t.Fatalf("%s: the server did not send incremental lists", step)
		}
		if err := testtree.Compare(remote, local); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return res
	}
	pull("initial pull")
	if err := os.WriteFile(filepath.Join(local, "stray.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	testtree.Mutate(t, remote)
	second := pull("delta pull")
	if second.Stats.MatchedBytes < 4<<20 {
		t.Errorf("delta pull matched only %d bytes", second.Stats.MatchedBytes)
	}
	if second.Stats.LiteralBytes > 3*2296+200 {
		t.Errorf("delta pull received %d literal bytes for a 31-byte edit", second.Stats.LiteralBytes)
	}
	third := pull("no-change pull")
	if third.Stats.FilesTransferred != 0 || third.Stats.LiteralBytes != 0 || len(third.Changes) != 0 {
		t.Errorf("no-change pull did work: %+v %+v", third.Stats, third.Changes)
	}
}
