package tree_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// maxBytesPerEntry bounds the live heap a manifest holds per entry of a
// tree of plain files (issue 15, compact entries: rsync's FAQ puts its
// own cost at about 100 bytes a file). The layout makes 75: a 64-byte
// Item with the digest in it, and the name's 11 bytes in a shared block.
// Before: 135.5 (a 104-byte Item, a 16-byte digest slice of its own, the
// name a 16-byte object of its own), then 80.0 (the name still its own).
const maxBytesPerEntry = 78

// TestManifestBytesPerEntry builds the manifest of 100,000 plain files
// (99 a directory, xxh128 digests, names like "d0123/f0045") as a listing
// does, through a Builder fed one entry at a time and through
// FromEntries, and measures the live heap the manifest holds per entry:
// the items, their names and their digests, nothing of the entries.
func TestManifestBytesPerEntry(t *testing.T) {
	const dirs, perDir = 1000, 99
	n := 1 + dirs*(1+perDir)
	// entries hands over each entry as the wire decoder makes it: its
	// own name and its own checksum slice.
	entries := func(add func(*flist.Entry)) {
		add(&flist.Entry{Name: ".", Mode: flist.SIFDIR | 0o755})
		for d := range dirs {
			dir := fmt.Sprintf("d%04d", d)
			add(&flist.Entry{Name: dir, Mode: flist.SIFDIR | 0o755, ModTime: 1700000000})
			for f := range perDir {
				sum := make([]byte, 16)
				sum[0], sum[1], sum[2] = byte(d), byte(d>>8), byte(f)
				add(&flist.Entry{Name: fmt.Sprintf("%s/f%04d", dir, f), Mode: flist.SIFREG | 0o644, Size: int64(f), ModTime: 1700000000 + int64(f), Checksum: sum})
			}
		}
	}
	build := map[string]func() *tree.Manifest{
		"Builder": func() *tree.Manifest {
			b := tree.NewBuilder("", tree.Content, tree.DefaultOptions())
			entries(b.Add)
			return b.Manifest(csum.XXH128)
		},
		"FromEntries": func() *tree.Manifest {
			list := make([]*flist.Entry, 0, n)
			entries(func(e *flist.Entry) { list = append(list, e) })
			return tree.FromEntries(list, "", tree.Content, csum.XXH128)
		},
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for name, mk := range build {
		t.Run(name, func(t *testing.T) {
			before := heap()
			m := mk()
			after := heap()
			if len(m.Items) != n || m.Files() != dirs*perDir {
				t.Fatalf("%d items, %d files; want %d, %d", len(m.Items), m.Files(), n, dirs*perDir)
			}
			runtime.KeepAlive(m)
			per := float64(int64(after)-int64(before)) / float64(n)
			t.Logf("%d entries: %.1f bytes an entry (%d bytes live)", n, per, int64(after)-int64(before))
			if per > maxBytesPerEntry {
				t.Errorf("the manifest holds %.1f bytes an entry, more than %d", per, maxBytesPerEntry)
			}
		})
	}
}
