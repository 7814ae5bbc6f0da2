//go:build unix

package tree_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// TestFidelityInHashes: fifos and hard links are part of the manifest
// when the options keep them: a local source and the stock rsync's
// listing of its copy (pushed with the same options) hash equal; a hard
// link broken on the copy, or a fifo removed from it, makes them differ
// and Diff names the path; with the options off neither counts.
func TestFidelityInHashes(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a"), []byte("shared"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "a"), filepath.Join(src, "d/b")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(src, "fifo"), 0o640); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	opts := tree.Options{Devices: true, Specials: true, HardLinks: true}
	if _, err := rsync.Push(ctx, rsync.ExecTransport{}, src+"/", dst, rsync.Options{HardLinks: true}); err != nil {
		t.Fatal(err)
	}
	remote := func(o tree.Options) *tree.Manifest {
		t.Helper()
		l, err := rsync.List(ctx, rsync.ExecTransport{}, dst+"/", rsync.Options{Checksum: true, ChecksumChoice: "xxh128", HardLinks: o.HardLinks, NoDevices: !o.Devices, NoSpecials: !o.Specials})
		if err != nil {
			t.Fatal(err)
		}
		return tree.FromEntriesWith(l.Entries, "", tree.Content, csum.XXH128, o)
	}
	local := func(o tree.Options) *tree.Manifest {
		t.Helper()
		m, _, _, err := tree.LocalWith(ctx, src+"/", nil, tree.Content, csum.XXH128, o)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if l, r := local(opts), remote(opts); l.Hash() != r.Hash() {
		t.Fatalf("source %s, its copy %s: %+v", l.Hash(), r.Hash(), tree.Diff(l, r, true, nil))
	}
	plain := tree.Options{}
	if local(plain).Hash() == local(opts).Hash() {
		t.Error("the fifo and the link do not change the hash")
	}

	// Break the link on the copy: a separate file with the same content.
	b := filepath.Join(dst, "d/b")
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("shared"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dst, "fifo")); err != nil {
		t.Fatal(err)
	}
	l, r := local(opts), remote(opts)
	c := tree.Diff(l, r, true, nil)
	if l.Hash() == r.Hash() || len(c.Update) != 1 || c.Update[0] != "d/b" || len(c.Create) != 1 || c.Create[0] != "fifo" {
		t.Errorf("a broken link and a missing fifo: %+v", c)
	}
	if l, r := local(plain), remote(plain); l.Hash() != r.Hash() {
		t.Errorf("without the options the trees differ: %+v", tree.Diff(l, r, true, nil))
	}
}
