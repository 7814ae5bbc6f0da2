//go:build unix

package provider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// TestAccDirectory_digestCacheSeesEdits: with the digests of the source's
// files kept between runs (tree.DigestCache; here trusted as soon as
// made, where the provider waits out the clock's tick), an edit that keeps
// a file's size and modification time is still planned, and still refused
// when made between a saved plan and its apply: the change time the cache
// checks moves with every write.
func TestAccDirectory_digestCacheSeesEdits(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	cacheDir := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("web", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "delete": "true",
	})
	tf := newTFRunnerServing(t, map[string]string{"main.tf": config},
		&rsyncProvider{version: "test", digests: tree.NewDigestCacheWindow(cacheDir, 0)})
	tf.run(0, "apply", "-input=false", "-auto-approve")
	tf.run(0, "plan", "-input=false", "-detailed-exitcode")
	if files, err := os.ReadDir(cacheDir); err != nil || len(files) != 1 {
		t.Fatalf("digest cache holds %d files (%v), want the source's one", len(files), err)
	}

	// Same length, modification time put back.
	sameSizeAndTime := func(name, body string) {
		t.Helper()
		p := filepath.Join(src, name)
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(body)) != info.Size() {
			t.Fatalf("%s: %d bytes for a %d-byte file", name, len(body), info.Size())
		}
		writeFile(t, p, body)
		if err := os.Chtimes(p, info.ModTime(), info.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	sameSizeAndTime("index.html", "<h1>HELLO</h1>\n")
	tf.run(2, "plan", "-input=false", "-detailed-exitcode")
	tf.run(0, "apply", "-input=false", "-auto-approve")
	if err := checkTreesEqual(src, dst)(nil); err != nil {
		t.Fatal(err)
	}

	writeFile(t, filepath.Join(src, "css/site.css"), "body { margin: 1px }\n")
	tf.run(2, "plan", "-input=false", "-detailed-exitcode", "-out=tfplan")
	sameSizeAndTime("index.html", "<h1>hello</h1>\n")
	got := tf.exec(2*time.Minute, "apply", "-input=false", "tfplan")
	if got.code == 0 {
		t.Fatalf("apply of a saved plan whose source changed (same size and time) succeeded:\n%s", got.output())
	}
	if out := errorText(got.output()); !strings.Contains(out, "Source changed since the plan") {
		t.Fatalf("want the stale-plan error, got:\n%s", got.output())
	}
	tf.run(0, "apply", "-input=false", "-auto-approve")
	if err := checkTreesEqual(src, dst)(nil); err != nil {
		t.Fatal(err)
	}
	tf.run(0, "plan", "-input=false", "-detailed-exitcode")
}
