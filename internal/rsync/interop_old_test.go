//go:build unix

package rsync

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// oldProtocolMatrix runs check against both stock servers forced down to
// protocols 29 and 27 (rsync honours --protocol on the server side), with
// and without -c and -z: the stream of rsync 2.6.9 and openrsync.
func oldProtocolMatrix(t *testing.T, check func(t *testing.T, opts Options, proto int)) {
	for _, srv := range servers(t) {
		for _, proto := range []int{29, 27} {
			for _, variant := range []string{"plain", "c", "z"} {
				t.Run(fmt.Sprintf("%s/p%d/%s", srv.version, proto, variant), func(t *testing.T) {
					t.Parallel()
					opts := Options{
						RsyncPath: fmt.Sprintf("%s --protocol=%d", srv.path, proto),
						Delete:    true,
						Checksum:  variant == "c",
						Compress:  variant == "z",
						Logger:    testLogger(t),
					}
					if opts.Compress {
						opts.CompressChoice = "zlib" // what -z means before 30
					}
					check(t, opts, proto)
				})
			}
		}
	}
}

// openrsyncServer returns the openrsync binary named by
// RSYNC_TEST_OPENRSYNC (built from ../shared/peers, see .ci/openrsync);
// the test is skipped, saying why, when it is not set.
func openrsyncServer(t *testing.T) string {
	t.Helper()
	p := os.Getenv("RSYNC_TEST_OPENRSYNC")
	if p == "" {
		t.Skip("RSYNC_TEST_OPENRSYNC is not set: no openrsync binary to test against")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("RSYNC_TEST_OPENRSYNC: %v", err)
	}
	return p
}

// TestInteropOpenrsync: openrsync (protocol 27, the rsync of OpenBSD and,
// patched, of macOS) as the server: push and pull, each with delta and
// delete, plain and with -z (zlib), and the listing without checksums (it has no --list-only). Not
// -c: this openrsync fails every file as a -c sender (flist.c tests
// hash_file_by_path's result the wrong way round).
func TestInteropOpenrsync(t *testing.T) {
	bin := openrsyncServer(t)
	opts := Options{RsyncPath: bin, Delete: true, Logger: testLogger(t)}
	t.Run("push", func(t *testing.T) { pushAndCheckOld(t, opts, 27) })
	t.Run("pull", func(t *testing.T) { pullAndCheckOld(t, opts, 27) })
	z := opts
	z.Compress = true
	t.Run("push-z", func(t *testing.T) { pushAndCheckOld(t, z, 27) })
	t.Run("pull-z", func(t *testing.T) { pullAndCheckOld(t, z, 27) })
	t.Run("list", func(t *testing.T) { listAndCheckOld(t, Options{RsyncPath: bin, Logger: testLogger(t)}, 27) })
}

// TestInteropOldPush: push, delta push (with a stray file deleted),
// no-change push, against servers at protocols 29 and 27.
func TestInteropOldPush(t *testing.T) {
	oldProtocolMatrix(t, func(t *testing.T, opts Options, proto int) {
		pushAndCheckOld(t, opts, proto)
	})
}

func pushAndCheckOld(t *testing.T, opts Options, proto int) {
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
		if res.Protocol != proto || res.Checksum != "md4" {
			t.Fatalf("%s: negotiated protocol %d / %s, want %d / md4", step, res.Protocol, res.Checksum, proto)
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
	stray := filepath.Join(dst, "stray.txt")
	if err := os.WriteFile(stray, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	testtree.Mutate(t, src)
	second := push("delta push")
	if second.Stats.MatchedBytes < 4<<20 {
		t.Errorf("delta push matched only %d bytes of big.bin", second.Stats.MatchedBytes)
	}
	// Blocks are at most 8 KiB before protocol 30.
	if second.Stats.LiteralBytes > 3*8192+200 {
		t.Errorf("delta push sent %d literal bytes for a 31-byte edit", second.Stats.LiteralBytes)
	}
	if _, err := os.Lstat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stray file survived delete: %v", err)
	}
	if proto >= 29 { // below 29 the server does not report deletions
		if changeSet(second.Changes)["stray.txt"] != ChangeDelete {
			t.Errorf("the stray file was not reported deleted: %+v", second.Changes)
		}
	}
	third := push("no-change push")
	if third.Stats.FilesTransferred != 0 || third.Stats.LiteralBytes != 0 || len(third.Changes) != 0 {
		t.Errorf("no-change push did work: %+v, changes %+v", third.Stats, third.Changes)
	}
}

// TestInteropOldPull: pull, delta pull with delete, no-change pull from
// senders at protocols 29 and 27.
func TestInteropOldPull(t *testing.T) {
	oldProtocolMatrix(t, pullAndCheckOld)
}

func pullAndCheckOld(t *testing.T, opts Options, proto int) {
	{
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
			if res.Protocol != proto || res.Checksum != "md4" {
				t.Fatalf("%s: negotiated %d/%s", step, res.Protocol, res.Checksum)
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
		if second.Stats.LiteralBytes > 3*8192+200 {
			t.Errorf("delta pull received %d literal bytes for a 31-byte edit", second.Stats.LiteralBytes)
		}
		if changeSet(second.Changes)["stray.txt"] != ChangeDelete {
			t.Errorf("the stray file was not deleted: %+v", second.Changes)
		}
		third := pull("no-change pull")
		if third.Stats.FilesTransferred != 0 || third.Stats.LiteralBytes != 0 || len(third.Changes) != 0 {
			t.Errorf("no-change pull did work: %+v %+v", third.Stats, third.Changes)
		}
	}
}

// TestInteropOldList: the checksummed listing (drift detection, the
// manifest data source) from servers at protocols 29 and 27: every path,
// size, mtime and md4 content sum as computed here.
func TestInteropOldList(t *testing.T) {
	for _, srv := range servers(t) {
		for _, proto := range []int{29, 27} {
			t.Run(fmt.Sprintf("%s/p%d", srv.version, proto), func(t *testing.T) {
				t.Parallel()
				opts := Options{RsyncPath: fmt.Sprintf("%s --protocol=%d", srv.path, proto), Checksum: true, Logger: testLogger(t)}
				listAndCheckOld(t, opts, proto)
			})
		}
	}
}

func listAndCheckOld(t *testing.T, opts Options, proto int) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())
	l, err := List(context.Background(), ExecTransport{}, src+"/", opts)
	if err != nil {
		t.Fatal(err)
	}
	if l.Protocol != proto || l.Checksum != "md4" {
		t.Fatalf("listing at %d/%s", l.Protocol, l.Checksum)
	}
	if !opts.Checksum {
		for _, e := range l.Entries {
			if e.Checksum != nil {
				t.Fatalf("%s: a checksum in a listing without -c", e.Name)
			}
		}
	}
	seen := 0
	for _, e := range l.Entries {
		p := filepath.Join(src, e.Name)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		seen++
		if e.IsRegular() && opts.Checksum {
			sum, err := fileChecksum(p, csum.MD4)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(sum) != hex.EncodeToString(e.Checksum) {
				t.Errorf("%s: checksum %x, local %x", e.Name, e.Checksum, sum)
			}
		}
		if e.IsRegular() && fi.Size() != e.Size {
			t.Errorf("%s: size %d, local %d", e.Name, e.Size, fi.Size())
		}
		if fi.ModTime().Unix() != e.ModTime || flist.UnixMode(fi.Mode()) != e.Mode {
			t.Errorf("%s: mtime %d mode %o, local %d %o", e.Name, e.ModTime, e.Mode, fi.ModTime().Unix(), flist.UnixMode(fi.Mode()))
		}
	}
	if seen != len(testtree.Rich())+1 {
		t.Errorf("listed %d entries, want %d", seen, len(testtree.Rich())+1)
	}
}
