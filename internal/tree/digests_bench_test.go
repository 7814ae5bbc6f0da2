//go:build unix

package tree

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	cpu0, wrote0 := cpuTime(b), bytesWritten()
	// b.Loop: the tree is made once, not again for every b.N tried.
	for b.Loop() {
		if _, _, _, err := c.Local(ctx, src, nil, Content, csum.XXH128, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time tells more than the wall's on a machine shared with others.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
	if wrote0 >= 0 {
		b.ReportMetric(float64(bytesWritten()-wrote0)/float64(b.N), "written-B/op")
	}
}

// cpuTime is the process's user and system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bytesWritten is what the process wrote with write(2) and the like
// (Linux's /proc/self/io); -1 where unknown.
func bytesWritten() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}
