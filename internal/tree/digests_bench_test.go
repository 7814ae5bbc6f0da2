//go:build unix

package tree

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
)

// BenchmarkDigestCacheWarm walks a 100,000-file tree whose digests are all
// in the cache and trusted: what a plan of an unchanged source costs (a
// terraform apply walks it twice, the plan and the apply's re-plan).
func BenchmarkDigestCacheWarm(b *testing.B) {
	ctx := context.Background()
	root := b.TempDir()
	for d := 0; d < 100; d++ {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := 0; f < 1000; f++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.txt", f)), []byte(fmt.Sprintf("file %d/%d\n", d, f)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	src := root + "/"
	// Trusted at once: the files were written just now.
	c := NewDigestCacheWindow(filepath.Join(b.TempDir(), "digests"), -time.Hour)
	if _, _, _, err := c.Local(ctx, src, nil, Content, csum.XXH128, DefaultOptions()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, _, err := c.Local(ctx, src, nil, Content, csum.XXH128, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
}
