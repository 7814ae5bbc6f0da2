package rsync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestIncPushMemoryBounded pushes, to stock rsync with incremental
// recursion, a tree of 400 directories and one of 800 (50 files each,
// both past MAX_FILECNT_LOOKAHEAD), then pushes each again unchanged while
// sampling the live heap (after a GC) every time the sender frees a list.
// What the sender holds must not grow with the number of directories: the
// entries in flight stay within MAX_FILECNT_LOOKAHEAD plus one directory
// and the first list, and the live heap of the large tree's push stays
// within 1 MB of the small one's, where one list of its 20,000 more
// entries alone would be over 2 MB.
func TestIncPushMemoryBounded(t *testing.T) {
	const perDir = 50
	peak := func(dirs int) (heap uint64, maxInFlight int) {
		src, dst := filepath.Join(t.TempDir(), "src"), t.TempDir()
		for d := range dirs {
			dir := filepath.Join(src, fmt.Sprintf("d%03d", d))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for f := range perDir {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", f)), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		opts := Options{Delete: true}
		if _, err := Push(context.Background(), ExecTransport{}, src+"/", dst, opts); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		opts.incProbe = func(inFlight int) {
			maxInFlight = max(maxInFlight, inFlight)
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base {
				heap = max(heap, ms.HeapInuse-base)
			}
		}
		res, err := Push(context.Background(), ExecTransport{}, src+"/", dst, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !res.IncRecursive || res.Stats.FilesTotal != 1+dirs*(perDir+1) || res.Stats.FilesTransferred != 0 {
			t.Fatalf("%d directories: incremental %v, %d entries, %d transferred", dirs, res.IncRecursive, res.Stats.FilesTotal, res.Stats.FilesTransferred)
		}
		return heap, maxInFlight
	}
	smallHeap, smallFlight := peak(400)
	largeHeap, largeFlight := peak(800)
	t.Logf("live heap above the baseline: 400 directories %d B (at most %d entries in flight), 800 directories %d B (%d)", smallHeap, smallFlight, largeHeap, largeFlight)
	if limit := maxFileLookahead + perDir + 1 + 801; largeFlight > limit || smallFlight > limit {
		t.Errorf("entries in flight %d / %d, want at most %d", smallFlight, largeFlight, limit)
	}
	if largeHeap > smallHeap+1<<20 {
		t.Errorf("the live heap grew with the tree: %d B for 800 directories, %d B for 400", largeHeap, smallHeap)
	}
}
