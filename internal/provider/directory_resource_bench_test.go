package provider

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// BenchmarkPlanTimeSourceHash measures what every plan does to a local
// source: walk it and hash every file (hashLocalSource, the source_hash
// path), on a page-cached tree of RSYNC_BENCH_TREE_MB megabytes (default
// 1024): 4 MiB files plus a thousand small ones, in nested directories.
// It reports GB/s.
//
//	go test ./internal/provider -run '^$' -bench PlanTimeSourceHash -benchtime 5x
func BenchmarkPlanTimeSourceHash(b *testing.B) {
	mb := 1024
	if v := os.Getenv("RSYNC_BENCH_TREE_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("RSYNC_BENCH_TREE_MB=%q: want a positive number of megabytes", v)
		}
		mb = n
	}
	root := b.TempDir()
	rng := rand.New(rand.NewSource(1))
	buf := make([]byte, 4<<20)
	var total int64
	for i := 0; total < int64(mb)<<20; i++ {
		rng.Read(buf)
		p := filepath.Join(root, fmt.Sprintf("d%02d/f%04d.bin", i%16, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(len(buf))
	}
	for i := 0; i < 1000; i++ {
		p := filepath.Join(root, fmt.Sprintf("small/s%02d/%04d.txt", i%10, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, buf[:1+i%4000], 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(1 + i%4000)
	}
	ctx := context.Background()
	f := filterSet{Exclude: []string{"*.tmp"}}
	// Warm the page cache, as a tree that was just built or edited is.
	if _, _, err := hashLocal(ctx, nil, root+"/", f, tree.Content, csum.XXH128); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, _, err := hashLocal(ctx, nil, root+"/", f, tree.Content, csum.XXH128)
		if err != nil {
			b.Fatal(err)
		}
		_ = m.Hash()
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}
