//go:build unix

package provider

// Acceptance test: what a stock rsync that does not run as root leaves on
// the server, planned without a perpetual diff.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccDirectory_nonRootReceiverDirModes: a source directory of mode
// 0311 (no read bit for its owner) pushed to a remote rsync that runs as
// nobody lands as 0711 — the stock rsync keeps u+rwx on the directories it
// writes when it is not root, and itemizes this one again on every run of
// its own. The plan after the apply is empty (before the fix it listed
// locked/ for update on every plan, and the apply changed nothing); a
// change to a file inside is still planned and applied, and the plan
// settles again.
func TestAccDirectory_nonRootReceiverDirModes(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	locked := filepath.Join(src, "locked")
	writeFile(t, filepath.Join(locked, "note.txt"), "v1\n")
	if err := os.Chmod(locked, 0o311); err != nil {
		t.Fatal(err)
	}
	dst := nobodysDestination(t)
	r := newTFRunner(t, providerConfig(srv, map[string]string{"rsync_path": asNobody})+rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "delete": "true",
	}))
	r.run(0, "apply", "-input=false", "-auto-approve")
	fi, err := os.Stat(filepath.Join(dst, "locked"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o711 {
		t.Fatalf("locked/ on the server is %o: this test is about the 0711 a non-root stock rsync leaves for a 0311 source", got)
	}
	r.run(0, "plan", "-input=false", "-detailed-exitcode")

	writeFile(t, filepath.Join(locked, "note.txt"), "v2, longer\n")
	out := r.run(0, "apply", "-input=false", "-auto-approve")
	if !strings.Contains(out, "1 changed") {
		t.Errorf("apply after a change inside locked/:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "locked/note.txt")); err != nil || string(b) != "v2, longer\n" {
		t.Errorf("locked/note.txt on the server: %q, %v", b, err)
	}
	r.run(0, "plan", "-input=false", "-detailed-exitcode")
}

// nobodysDestination makes an empty destination directory owned by nobody
// (uid 65534), which the remote rsync run as nobody (asNobody) can write
// and every directory above it lets nobody reach (t.TempDir's are 0700).
func nobodysDestination(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test gives the destination to nobody and needs root; CI runs as root")
	}
	dst := filepath.Join(t.TempDir(), "www")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(filepath.Dir(dst)), filepath.Dir(dst)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(dst, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	return dst
}
