//go:build unix

package rsync

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// TestInteropList asks stock servers for a checksummed listing and checks
// it against the local tree: every path, type, size, mode, mtime and
// content checksum as computed here.
func TestInteropList(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())
	for _, srv := range servers(t) {
		for _, proto := range []int{32, 31, 30} {
			for _, algo := range []string{"xxh128", "xxh3", "md5"} {
				t.Run(fmt.Sprintf("%s/p%d/%s", srv.version, proto, algo), func(t *testing.T) {
					opts := Options{RsyncPath: fmt.Sprintf("%s --protocol=%d", srv.path, proto), Checksum: true, ChecksumChoice: algo, Logger: testLogger(t)}
					l, err := List(context.Background(), ExecTransport{}, src+"/", opts)
					if err != nil {
						t.Fatal(err)
					}
					a, _ := csum.ByName(algo)
					seen := 0
					for _, e := range l.Entries {
						p := filepath.Join(src, e.Name)
						fi, err := os.Lstat(p)
						if err != nil {
							t.Errorf("%s: %v", e.Name, err)
							continue
						}
						seen++
						if e.IsRegular() {
							sum, err := fileChecksum(p, a)
							if err != nil {
								t.Fatal(err)
							}
							if hex.EncodeToString(sum) != hex.EncodeToString(e.Checksum) || fi.Size() != e.Size {
								t.Errorf("%s: checksum %x size %d, local %x size %d", e.Name, e.Checksum, e.Size, sum, fi.Size())
							}
						}
						if fi.ModTime().Unix() != e.ModTime {
							t.Errorf("%s: mtime %d, local %d", e.Name, e.ModTime, fi.ModTime().Unix())
						}
					}
					if seen != len(testtree.Rich())+1 {
						t.Errorf("listed %d entries, want %d", seen, len(testtree.Rich())+1)
					}
				})
			}
		}
	}
}
