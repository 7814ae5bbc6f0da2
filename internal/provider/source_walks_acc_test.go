//go:build unix

package provider

import (
	"fmt"

	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// walkCounter counts the source walks the provider starts, per terraform
// command (reset before each).
type walkCounter struct {
	mu sync.Mutex
	n  int
}

func (w *walkCounter) walked(string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
}

// take returns the count since the last take and resets it.
func (w *walkCounter) take() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.n
	w.n = 0
	return n
}

// readingsCounter sums the directory readings the pushes of each
// terraform command shared (flist.DirReadings.Hits).
type readingsCounter struct {
	mu  sync.Mutex
	all []*flist.DirReadings
}

func (r *readingsCounter) made(d *flist.DirReadings) {
	d.SetRacyWindow(-time.Hour) // the test's source was written just now
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, d)
}

// take returns the readings shared since the last take.
func (r *readingsCounter) take() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, d := range r.all {
		n += d.Hits()
	}
	r.all = nil
	return n
}

// TestAccDirectory_forEachSourceWalkedOnce: one source pushed by for_each
// to six destinations on one sshd is walked and hashed once per provider
// walk — once by a plan (refresh and plan), twice by an apply (its plan
// walk, and its apply walk afresh) — and listed by one push whose
// directory readings the others take, and a source edited between a saved
// plan and its apply is still refused, every resource reading the edit.
func TestAccDirectory_forEachSourceWalkedOnce(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	base := t.TempDir()
	const n = 6
	dests := map[string]string{}
	var entries []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("web%d", i)
		dests[name] = filepath.Join(base, name)
		entries = append(entries, fmt.Sprintf("    %s = %s", name, hclString(remoteDest(srv, dests[name]+"/"))))
	}
	config := providerConfig(srv, nil) + fmt.Sprintf("\nlocals {\n  hosts = {\n%s\n  }\n}\n", strings.Join(entries, "\n")) +
		rsyncDir("web", map[string]string{
			"for_each": "local.hosts", "source": hclString(src + "/"), "destination": "each.value", "delete": "true",
		})
	var walks walkCounter
	var shared readingsCounter
	tf := newTFRunnerServing(t, map[string]string{"main.tf": config},
		&rsyncProvider{version: "test", sourceWalked: walks.walked, sourceReadings: shared.made})
	walks.take()

	// smallTree's directories: the top and css.
	const dirs = 2
	tf.run(0, "apply", "-input=false", "-auto-approve")
	if got := walks.take(); got != 2 {
		t.Errorf("create apply of %d resources: %d source walks, want 2 (its plan walk and its apply walk)", n, got)
	}
	// A push lists a directory another push read (or is reading) from
	// that reading, once at least two resources planned with the source:
	// at least the pushes of all resources but the first share.
	if got := shared.take(); got < dirs {
		t.Errorf("create apply of %d resources: the pushes shared %d directory readings, want at least %d", n, got, dirs)
	}
	for _, dst := range dests {
		if err := checkTreesEqual(src, dst)(nil); err != nil {
			t.Fatal(err)
		}
	}
	tf.run(0, "plan", "-input=false", "-detailed-exitcode")
	if got := walks.take(); got != 1 {
		t.Errorf("no-change plan of %d resources: %d source walks, want 1", n, got)
	}

	writeFile(t, filepath.Join(src, "index.html"), "one file edited\n")
	shared.take()
	tf.run(0, "apply", "-input=false", "-auto-approve")
	if got := walks.take(); got != 2 {
		t.Errorf("one-file-edit apply of %d resources: %d source walks, want 2", n, got)
	}
	if got := shared.take(); got < dirs {
		t.Errorf("one-file-edit apply of %d resources: the pushes shared %d directory readings, want at least %d", n, got, dirs)
	}
	for _, dst := range dests {
		if err := checkTreesEqual(src, dst)(nil); err != nil {
			t.Fatal(err)
		}
	}

	// A saved plan, then an edit: the apply walk reads the source itself
	// (not the plan walk's reading) and refuses, for every resource.
	writeFile(t, filepath.Join(src, "css/site.css"), "planned\n")
	tf.run(2, "plan", "-input=false", "-detailed-exitcode", "-out=tfplan")
	if got := walks.take(); got != 1 {
		t.Errorf("plan of %d updates: %d source walks, want 1", n, got)
	}
	writeFile(t, filepath.Join(src, "index.html"), "changed after the plan\n")
	got := tf.exec(2*time.Minute, "apply", "-input=false", "tfplan")
	if got.code == 0 {
		t.Fatalf("apply of a stale saved plan succeeded:\n%s", got.output())
	}
	if w := walks.take(); w != 1 {
		t.Errorf("apply walk of a saved plan: %d source walks, want 1", w)
	}
	out := errorText(got.output())
	if c := strings.Count(out, "Source changed since the plan"); c != n {
		t.Errorf("%d of %d resources refused the stale plan:\n%s", c, n, got.output())
	}
	for name, dst := range dests {
		if err := checkTreesEqual(src, dst)(nil); err == nil {
			t.Errorf("%s: the refused apply copied the source", name)
		}
	}
	tf.run(0, "apply", "-input=false", "-auto-approve")
	for _, dst := range dests {
		if err := checkTreesEqual(src, dst)(nil); err != nil {
			t.Fatal(err)
		}
	}
	tf.run(0, "plan", "-input=false", "-detailed-exitcode")
}
