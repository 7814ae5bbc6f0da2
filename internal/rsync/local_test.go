package rsync

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// TestLocalMatchesRsync copies a tree locally with our sender and receiver
// and with `rsync -a`, then the mutated tree with delete: both results must
// be identical to each other and to the source.
func TestLocalMatchesRsync(t *testing.T) {
	for _, slash := range []bool{true, false} {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprintf("slash=%v/z=%v", slash, compress), func(t *testing.T) {
				ctx := context.Background()
				src := filepath.Join(t.TempDir(), "site")
				ours := filepath.Join(t.TempDir(), "ours")
				theirs := filepath.Join(t.TempDir(), "theirs")
				if err := os.Mkdir(src, 0o755); err != nil {
					t.Fatal(err)
				}
				testtree.Write(t, src, testtree.Rich())
				arg := src
				if slash {
					arg += "/"
				}
				opts := Options{Delete: true, Compress: compress, Logger: testLogger(t)}
				sync := func(step string) *Result {
					res, err := Local(ctx, arg, ours, opts)
					if err != nil {
						t.Fatalf("%s: %v", step, err)
					}
					if out, err := exec.Command("rsync", "-a", "--delete", arg, theirs).CombinedOutput(); err != nil {
						t.Fatalf("%s: rsync -a: %v: %s", step, err, out)
					}
					a, b := theirs, ours
					if !slash { // the containing directories are not part of the copy
						a, b = filepath.Join(theirs, "site"), filepath.Join(ours, "site")
					}
					if err := testtree.Compare(a, b); err != nil {
						t.Fatalf("%s: ours differs from rsync -a: %v", step, err)
					}
					return res
				}
				sync("initial copy")
				root := ours
				if !slash {
					root = filepath.Join(ours, "site")
				}
				if err := testtree.Compare(src, root); err != nil {
					t.Fatal(err)
				}
				testtree.Mutate(t, src)
				res := sync("second copy")
				// Changed files go whole, as with rsync -a between local
				// paths: the plan's estimate of a local copy counts on it.
				var want int64
				for _, rel := range []string{"big.bin", "index.html", "new/dir/file.txt"} {
					fi, err := os.Stat(filepath.Join(src, filepath.FromSlash(rel)))
					if err != nil {
						t.Fatal(err)
					}
					want += fi.Size()
				}
				if res.Stats.MatchedBytes != 0 || res.Stats.LiteralBytes != want {
					t.Errorf("the second copy sent %d literal and %d matched bytes, want the changed files whole: %d and 0",
						res.Stats.LiteralBytes, res.Stats.MatchedBytes, want)
				}
				res = sync("no-op copy")
				if res.Stats.FilesTransferred != 0 || len(res.Changes) != 0 {
					t.Errorf("no-op copy did work: %+v %+v", res.Stats, res.Changes)
				}
			})
		}
	}
}
