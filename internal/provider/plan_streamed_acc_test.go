//go:build unix

package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// streamCounter counts what the provider made as streams
// (rsyncProvider.streamed), per terraform command.
type streamCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *streamCounter) streamed(step string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[step]++
}

// take returns the counts since the last take and resets them.
func (c *streamCounter) take() (refreshes, plans int) {
	refreshes, plans, _ = c.takeAll()
	return refreshes, plans
}

// takeAll is take with the applies that hashed the destination's listing
// as a stream.
func (c *streamCounter) takeAll() (refreshes, plans, applies int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	refreshes, plans, applies = c.n["refresh"], c.n["plan"], c.n["apply"]
	c.n = nil
	return refreshes, plans, applies
}

// largeSource writes a source of 101 directories of 100 files: more
// entries than baselineMaxItems, so that the trees' plans stream.
func largeSource(t *testing.T) string {
	t.Helper()
	src := newSource(t)
	const dirs, files = 101, 100
	for d := range dirs {
		dir := filepath.Join(src, fmt.Sprintf("d%03d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range files {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.txt", f)), []byte(fmt.Sprintf("%d/%d\n", d, f)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The directories' times are set well before the push: rsync
	// compares times to the second (util1.c:same_time with no
	// --modify-window), so a directory the push writes into within the
	// second its source was last changed keeps the time of that write.
	// A fresh tree and a fast push met that under CI's load, twice.
	aged := time.Date(2021, 3, 4, 5, 6, 7, 890, time.UTC)
	for d := range dirs {
		if err := os.Chtimes(filepath.Join(src, fmt.Sprintf("d%03d", d)), aged, aged); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(src, aged, aged); err != nil {
		t.Fatal(err)
	}
	if dirs*files <= baselineMaxItems {
		t.Fatal("the tree is not large")
	}
	return src
}

// TestAccDirectory_largeTreePlansAsStreams: a tree too large for its
// baseline to keep fingerprints (more than baselineMaxItems entries) is
// refreshed and planned without a manifest — refresh streams its listing
// to the store, and the plan merges it with a walk of the source — and
// the plan finds nothing to do, having walked the source once (into a
// spool, which it reads back). A server edit, a file on the server the
// source lacks (delete = true) and a source edit are each planned the
// same way, in the plan walk and in the apply walk's re-plan, and
// applied; the plan after them again finds nothing to do.
func TestAccDirectory_largeTreePlansAsStreams(t *testing.T) {
	srv := accSetup(t)
	src := largeSource(t)
	dst := filepath.Join(t.TempDir(), "site")
	config := providerConfig(srv, nil) + rsyncDir("site", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "delete": "true",
	})
	var counts streamCounter
	var walks walkCounter
	tf := newTFRunnerServing(t, map[string]string{"main.tf": config}, &rsyncProvider{version: "test", streamed: counts.streamed, sourceWalked: walks.walked})
	tf.run(0, "apply", "-input=false", "-auto-approve")
	counts.take()

	noChanges := func(when string) {
		t.Helper()
		walks.take()
		tf.run(0, "plan", "-input=false", "-detailed-exitcode")
		if refreshes, plans := counts.take(); refreshes != 1 || plans != 1 {
			t.Errorf("%s: a no-change plan streamed %d refreshes and %d plans, want 1 and 1", when, refreshes, plans)
		}
		// Refresh walks the source into a spool; the plan reads it back.
		if n := walks.take(); n != 1 {
			t.Errorf("%s: a no-change plan walked the source %d times, want 1", when, n)
		}
	}
	changes := func(what, path, count string) {
		t.Helper()
		walks.take()
		out := tf.run(2, "plan", "-input=false", "-detailed-exitcode")
		if !strings.Contains(out, path) || !strings.Contains(out, count) {
			t.Errorf("%s: the plan does not name %s and %s:\n%s", what, path, count, out)
		}
		// The plan reads the source's spool.
		if n := walks.take(); n != 1 {
			t.Errorf("%s: the plan walked the source %d times, want 1", what, n)
		}
		if refreshes, plans := counts.take(); refreshes != 1 || plans != 1 {
			t.Errorf("%s: streamed %d refreshes and %d plans, want 1 and 1", what, refreshes, plans)
		}
		tf.run(0, "apply", "-input=false", "-auto-approve")
		// The plan walk's plan and the apply walk's re-plan.
		if refreshes, plans := counts.take(); refreshes != 1 || plans != 2 {
			t.Errorf("%s: the apply streamed %d refreshes and %d plans, want 1 and 2", what, refreshes, plans)
		}
		if err := checkTreesEqual(src, dst)(nil); err != nil {
			t.Fatalf("%s: after the apply: %v", what, err)
		}
	}
	noChanges("after the create")
	if err := os.WriteFile(filepath.Join(dst, "d050", "f50.txt"), []byte("edited on the server\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changes("a server edit", "d050/f50.txt", "update_count   = 0 -> 1")
	if err := os.WriteFile(filepath.Join(dst, "d100", "extra.txt"), []byte("added on the server\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changes("a file on the server", "d100/extra.txt", "delete_count   = 0 -> 1")
	if err := os.WriteFile(filepath.Join(src, "d000", "f00.txt"), []byte("edited in the source\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changes("a source edit", "d000/f00.txt", "update_count   = 0 -> 1")
	noChanges("after the edits")
}

// TestAccDirectory_applyHashesTheListingAsAStream: an apply whose sync
// does not leave the destination a mirror of the source (delete = false,
// and a file on the server the source lacks) lists the destination for
// destination_hash as a stream, holding no manifest of it, and the hash
// is the one refresh's listing makes: a refresh after it changes nothing,
// and the plan has nothing to do.
func TestAccDirectory_applyHashesTheListingAsAStream(t *testing.T) {
	srv := accSetup(t)
	src := newSource(t)
	for _, name := range []string{"a.txt", "d/b.txt", "d/e/c.txt"} {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "site")
	if err := os.MkdirAll(filepath.Join(dst, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "d", "server-only.txt"), []byte("stays\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := providerConfig(srv, nil) + rsyncDir("site", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
	})
	var counts streamCounter
	tf := newTFRunnerServing(t, map[string]string{"main.tf": config}, &rsyncProvider{version: "test", streamed: counts.streamed})
	tf.run(0, "apply", "-input=false", "-auto-approve")
	if _, _, applies := counts.takeAll(); applies != 1 {
		t.Errorf("the apply hashed %d listings as streams, want 1", applies)
	}
	if _, err := os.Stat(filepath.Join(dst, "d", "server-only.txt")); err != nil {
		t.Fatalf("delete = false removed the server's file: %v", err)
	}
	hashUnchangedByRefresh(t, tf)
	tf.run(0, "plan", "-input=false", "-detailed-exitcode")
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tf.run(0, "apply", "-input=false", "-auto-approve")
	if _, _, applies := counts.takeAll(); applies != 1 {
		t.Errorf("the second apply hashed %d listings as streams, want 1", applies)
	}
	hashUnchangedByRefresh(t, tf)
	tf.run(0, "plan", "-input=false", "-detailed-exitcode")
}

// hashUnchangedByRefresh checks that a refresh, which lists the
// destination again, records the destination_hash the apply recorded.
func hashUnchangedByRefresh(t *testing.T, tf *tfRunner) {
	t.Helper()
	hash := func() string {
		out := tf.run(0, "show", "-json")
		var st struct {
			Values struct {
				RootModule struct {
					Resources []struct {
						Values struct {
							DestinationHash string `json:"destination_hash"`
						} `json:"values"`
					} `json:"resources"`
				} `json:"root_module"`
			} `json:"values"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Values.RootModule.Resources) != 1 {
			t.Fatalf("terraform show -json: %v: %s", err, out)
		}
		return st.Values.RootModule.Resources[0].Values.DestinationHash
	}
	applied := hash()
	tf.run(0, "apply", "-refresh-only", "-input=false", "-auto-approve")
	if refreshed := hash(); refreshed != applied || applied == "" {
		t.Errorf("the apply recorded destination_hash %q, refresh %q", applied, refreshed)
	}
}

// TestAccLargeTreeReplansAsStreamsInItsOwnProcess drives terraform with
// the built provider, a process per walk as in real use, so that the
// apply walk's re-plan is not the process whose refresh wrote the
// listing: of a saved plan with a server edit, the re-plan is made as a
// stream too and takes the approved plan's estimate; and a source
// edited after a saved plan is refused by that re-plan
// (checkSourceSincePlan), nothing copied.
func TestAccLargeTreeReplansAsStreamsInItsOwnProcess(t *testing.T) {
	srv := accSetup(t)
	src := largeSource(t)
	dst := filepath.Join(t.TempDir(), "site")
	logPath := filepath.Join(t.TempDir(), "terraform.log")
	config := providerConfig(srv, nil) + rsyncDir("site", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "delete": "true",
	})
	tf := newBinRunner(t, map[string]string{"main.tf": config}, "TF_LOG_PROVIDER=DEBUG", "TF_LOG_PATH="+logPath)
	streamedPlans := func() int {
		b, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "planned from the source and the stored listing as streams")
	}
	tf.run(0, "apply", "-input=false", "-auto-approve")

	writeFile(t, filepath.Join(dst, "d050", "f50.txt"), "edited on the server\n")
	before := streamedPlans()
	tf.run(2, "plan", "-input=false", "-detailed-exitcode", "-out=tfplan")
	if n := streamedPlans() - before; n != 1 {
		t.Fatalf("the plan was made as a stream %d times, want 1", n)
	}
	before = streamedPlans()
	out := tf.run(0, "apply", "-input=false", "tfplan").output()
	if n := streamedPlans() - before; n != 1 {
		t.Errorf("the apply walk's re-plan was made as a stream %d times, want 1:\n%s", n, out)
	}
	if log, _ := os.ReadFile(logPath); !strings.Contains(string(log), "using the transfer estimate of the approved plan") {
		t.Error("the re-plan estimated the transfer again instead of taking the approved plan's")
	}
	if err := checkTreesEqual(src, dst)(nil); err != nil {
		t.Fatal(err)
	}

	writeFile(t, filepath.Join(src, "d000", "f00.txt"), "edited in the source\n")
	tf.run(2, "plan", "-input=false", "-detailed-exitcode", "-out=tfplan")
	writeFile(t, filepath.Join(src, "d000", "f00.txt"), "edited again after the plan\n")
	res := tf.exec(5*time.Minute, "apply", "-input=false", "-no-color", "tfplan")
	if res.code == 0 || !strings.Contains(res.output(), "Source changed since the plan") {
		t.Fatalf("the apply of a plan whose source changed since exited %d:\n%s", res.code, res.output())
	}
	if b, err := os.ReadFile(filepath.Join(dst, "d000", "f00.txt")); err != nil || string(b) != "0/0\n" {
		t.Fatalf("the refused apply copied d000/f00.txt: %q, %v", b, err)
	}
}
