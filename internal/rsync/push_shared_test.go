package rsync

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// TestPushSharedReadings: pushes of one source that share its directory
// readings (Options.SourceReadings), one session and split in parts, each
// leave their destination equal to the source; a push with chmod in
// between does not change what the later pushes send, and pushes with
// other filters list for themselves.
func TestPushSharedReadings(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())
	readings := flist.NewDirReadings(1000)
	readings.SetRacyWindow(-time.Hour) // the tree was written just now
	push := func(name string, opts Options) {
		t.Helper()
		dst := filepath.Join(t.TempDir(), name)
		opts.SourceReadings = readings
		if _, err := Push(ctx, ExecTransport{}, src+"/", dst+"/", opts); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if opts.Chmod != "" || len(opts.Exclude) > 0 {
			return
		}
		if err := testtree.Compare(src, dst); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	push("first", Options{})
	if n := readings.Hits(); n != 0 {
		t.Fatalf("the first push took %d readings", n)
	}
	push("chmod", Options{Chmod: "F600,D700"})
	afterChmod := readings.Hits()
	if afterChmod == 0 {
		t.Fatal("the second push read every directory again")
	}
	push("third", Options{})
	push("parts", Options{Parallel: 3, parallelMin: 2})
	afterParts := readings.Hits()
	if afterParts <= afterChmod {
		t.Errorf("the later pushes took no reading (%d, then %d)", afterChmod, afterParts)
	}
	push("filtered", Options{Exclude: []string{"*.md"}})
	if n := readings.Hits(); n != afterParts {
		t.Errorf("a push with other filters took %d readings", n-afterParts)
	}
}
