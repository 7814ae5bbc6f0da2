//go:build long && unix

package provider

// Load tests, run by `make test-long` (go test -tags long): a 100,000-file
// tree and a sparse file larger than 4 GiB, each applied end to end
// against the real sshd and rsync, then planned empty.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// lastSync reads last_sync of rsync_directory.test from the state.
func lastSync(t *testing.T, tf *tfRunner) map[string]float64 {
	t.Helper()
	res := tf.exec(5*time.Minute, "show", "-json")
	var state struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string `json:"address"`
					Values  struct {
						LastSync map[string]float64 `json:"last_sync"`
					} `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &state); err != nil {
		t.Fatalf("show -json: %v\n%s", err, res.output())
	}
	for _, r := range state.Values.RootModule.Resources {
		if r.Address == res_ {
			return r.Values.LastSync
		}
	}
	t.Fatalf("no %s in the state", res_)
	return nil
}

const res_ = "rsync_directory.test"

// TestAccLong_100kFiles: a tree of 100,000 files in 1,000 directories is
// applied, its plan is then empty, and an edit of one file plans and
// applies an update of that file alone.
func TestAccLong_100kFiles(t *testing.T) {
	srv := accSetup(t)
	r := newFaultRig(t, srv, rigOptions{delete: true, keepalive: "15s"})
	start := time.Now()
	files := make(map[string][]byte, 100000)
	for i := 0; i < 100000; i++ {
		files[fmt.Sprintf("d%03d/f%05d.txt", i/100, i)] = []byte(fmt.Sprintf("file %d\n", i))
	}
	writeFiles(t, r.src, files)
	t.Logf("wrote 100,000 files in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	r.apply()
	t.Logf("apply (create): %v", time.Since(start).Round(time.Millisecond))
	if s := lastSync(t, r.tf); s["files_transferred"] != 100000 {
		t.Errorf("files_transferred = %v, want 100000", s["files_transferred"])
	}
	start = time.Now()
	checkConverged(t, r.src, r.dst, true)
	t.Logf("compared the trees in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	r.planEmpty()
	t.Logf("plan (refresh with server checksums of 100,000 files): %v", time.Since(start).Round(time.Millisecond))

	writeFile(t, filepath.Join(r.src, "d500/f50000.txt"), "edited\n")
	settleDirs(t, r.src)
	start = time.Now()
	r.apply()
	t.Logf("apply (one file edited): %v", time.Since(start).Round(time.Millisecond))
	if s := lastSync(t, r.tf); s["files_transferred"] != 1 {
		t.Errorf("files_transferred = %v after editing one file, want 1", s["files_transferred"])
	}
	r.planEmpty()
}

// TestAccLong_5GiBSparse: a sparse 5 GiB file with a few bytes written at
// offsets below and above 4 GiB is pushed end to end (64-bit sizes and
// offsets through the file list, the block signatures and the token
// stream), arrives byte for byte, plans empty; then a 1-byte change
// above 4 GiB is delta-transferred: a block or two of literal data, the
// rest matched.
func TestAccLong_5GiBSparse(t *testing.T) {
	srv := accSetup(t)
	r := newFaultRig(t, srv, rigOptions{keepalive: "15s"})
	big := filepath.Join(r.src, "disk.img")
	if out, err := exec.Command("truncate", "-s", "5G", big).CombinedOutput(); err != nil {
		t.Fatalf("truncate: %v: %s", err, out)
	}
	f, err := os.OpenFile(big, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 1<<32 - 3, 1 << 32, 4<<30 + 123456789, 5<<30 - 7} {
		if _, err := f.WriteAt([]byte(fmt.Sprintf("@%d", off))[:min(7, len(fmt.Sprint(off))+1)], off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	settleDirs(t, r.src)
	if fi, _ := os.Stat(big); fi.Size() != 5<<30 {
		t.Fatalf("size %d", fi.Size())
	}

	start := time.Now()
	r.apply()
	t.Logf("apply (5 GiB pushed): %v", time.Since(start).Round(time.Millisecond))
	sameFile(t, big, filepath.Join(r.dst, "disk.img"))
	start = time.Now()
	r.planEmpty()
	t.Logf("plan (server checksum of 5 GiB): %v", time.Since(start).Round(time.Millisecond))

	// One byte, above 4 GiB.
	f, err = os.OpenFile(big, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{'X'}, 4<<30+987654321); err != nil {
		t.Fatal(err)
	}
	f.Close()
	start = time.Now()
	r.apply()
	t.Logf("apply (1 byte changed): %v", time.Since(start).Round(time.Millisecond))
	s := lastSync(t, r.tf)
	t.Logf("last_sync after the 1-byte change: %v", s)
	if s["files_transferred"] != 1 || s["literal_bytes"] > 2*(128<<10) || s["matched_bytes"] < 5<<30-2*(128<<10) {
		t.Errorf("the 1-byte change was not delta-transferred: %v", s)
	}
	sameFile(t, big, filepath.Join(r.dst, "disk.img"))
	r.planEmpty()
}

// sameFile compares two files byte for byte (cmp reads both in large
// blocks).
func sameFile(t *testing.T, a, b string) {
	t.Helper()
	start := time.Now()
	if out, err := exec.Command("cmp", a, b).CombinedOutput(); err != nil {
		t.Fatalf("%s and %s differ: %v: %s", a, b, err, out)
	}
	t.Logf("compared %s byte for byte in %v", filepath.Base(a), time.Since(start).Round(time.Millisecond))
}
