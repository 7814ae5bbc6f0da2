package flist

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkWalkTiny walks a tree shaped like the bench's tiny-initial
// scenario (100,000 files of 0-1023 bytes, 100 per directory, two levels
// deep) and reports what the walked list keeps alive: heap-B/entry and
// heap-MB are the growth of the heap in use (after a GC) from before the
// walk to after it, with the list still referenced. A push holds that list
// for its whole run, so it is what a push of many small files costs per
// file before any data moves.
//
// FLIST_BENCH_TREE walks an existing tree instead (e.g. the bench's cached
// tiny tree); FLIST_BENCH_FILES changes the number of files generated.
func BenchmarkWalkTiny(b *testing.B) {
	root := os.Getenv("FLIST_BENCH_TREE")
	if root == "" {
		n := 100_000
		if s := os.Getenv("FLIST_BENCH_FILES"); s != "" {
			var err error
			if n, err = strconv.Atoi(s); err != nil || n < 1 {
				b.Fatalf("FLIST_BENCH_FILES=%q: want a positive count", s)
			}
		}
		root = b.TempDir()
		writeTinyTree(b, root, n)
	}
	b.Run("walk", func(b *testing.B) {
		b.ReportAllocs()
		var held uint64
		var entries int
		for b.Loop() {
			b.StopTimer()
			before := heapInUse()
			b.StartTimer()
			res, err := Walk(root+"/", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			held = heapInUse() - before
			entries = len(res.Entries)
			runtime.KeepAlive(res)
			b.StartTimer()
		}
		b.ReportMetric(float64(held)/float64(entries), "heap-B/entry")
		b.ReportMetric(float64(held)/1e6, "heap-MB")
		b.ReportMetric(float64(entries), "entries")
	})
}

// heapInUse is the heap in use once everything unreachable is collected.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// writeTinyTree writes n files of 0-1023 bytes under root with the bench's
// layout: tNNN/lNNN/fNNNNNN.txt, 100 files per leaf directory.
func writeTinyTree(b *testing.B, root string, n int) {
	b.Helper()
	content := make([]byte, 1024)
	for i := range content {
		content[i] = 'a' + byte(i%26)
	}
	seed := uint64(0x74696e79)
	for i := range n {
		leaf := i / 100
		dir := filepath.Join(root, fmt.Sprintf("t%03d", leaf/100), fmt.Sprintf("l%03d", leaf%100))
		if i%100 == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		seed ^= seed << 13 // xorshift: deterministic sizes
		seed ^= seed >> 7
		seed ^= seed << 17
		name := filepath.Join(dir, fmt.Sprintf("f%06d.txt", i))
		if err := os.WriteFile(name, content[:seed%1024], 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
