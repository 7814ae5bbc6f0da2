package tree

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// TestWalkHashedHoldsNoList: hashing a local tree keeps the manifest
// being built and a bounded window of entries, not the walked list
// (issue 15: at a million files the list, 120 bytes an entry, sat beside
// the manifest). When the last entry has been handed over, the live heap
// above what it was before the walk must be the builder's items and
// names plus a little: at most extraPerEntry bytes an entry more than
// the builder holds. Holding the whole list costs more than 100.
func TestWalkHashedHoldsNoList(t *testing.T) {
	const dirs, perDir, extraPerEntry = 200, 100, 30
	src := t.TempDir()
	for d := range dirs {
		dir := filepath.Join(src, fmt.Sprintf("d%03d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range perDir {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", f)), []byte{byte(f)}, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := 1 + dirs*(1+perDir)
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	for _, cache := range []*DigestCache{nil, NewDigestCache(t.TempDir())} {
		walk, err := flist.NewStream(src+"/", nil, flist.AllOptions())
		if err != nil {
			t.Fatal(err)
		}
		b := NewBuilder("", Content, DefaultOptions())
		before := heap()
		var held, built int64
		seen := 0
		_, err = walkHashed(context.Background(), walk, csum.XXH128, cache, src+"/", func(e *flist.Entry) {
			b.addInOrder(e)
			if seen++; seen == n {
				held = heap() - before
				for _, c := range b.chunks {
					built += int64(cap(c)) * int64(unsafe.Sizeof(Item{}))
					for i := range c {
						built += int64(len(c[i].Name))
					}
				}
				built += nameBlock // the block being filled
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if seen != n {
			t.Fatalf("%d entries handed over, want %d", seen, n)
		}
		extra := float64(held-built) / float64(n)
		t.Logf("cache %v: %d entries, %d bytes live at the last one, the builder's %d: %.1f bytes an entry more", cache != nil, n, held, built, extra)
		if extra > extraPerEntry {
			t.Errorf("the walk holds %.1f bytes an entry beyond the manifest being built, more than %d", extra, extraPerEntry)
		}
		runtime.KeepAlive(b)
	}
}
