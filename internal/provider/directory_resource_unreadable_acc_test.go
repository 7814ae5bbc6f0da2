//go:build unix

package provider

// Acceptance test: destination files and directories the remote rsync's
// user cannot read.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccDirectory_unreadableDestination: the SSH user cannot read
// everything in the destination — a file it pushed itself with the
// source's mode 000, and a directory of another user (root's lost+found,
// 0700) that it cannot list. The remote rsync runs as nobody through
// rsync_path, as in TestAccRemoteErrors (sshtest logs in only as the user
// running the tests). The apply works; the plan after it is empty, with
// one warning naming both paths and saying how they are compared (the
// file by size, time and permissions; the directory's contents not at
// all); a later change elsewhere is applied and the plan settles again.
// Before the fix the apply failed: the listing after it ended with the
// remote rsync's exit code 23 (opendir failed); and the file's checksum,
// which rsync reports as zeros when it cannot read a file, differed from
// the source's on every plan.
func TestAccDirectory_unreadableDestination(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	writeFile(t, filepath.Join(src, "secret.txt"), "only root reads this\n")
	if err := os.Chmod(filepath.Join(src, "secret.txt"), 0); err != nil {
		t.Fatal(err)
	}
	settleDirTime(t, src)
	dst := nobodysDestination(t)
	writeFile(t, filepath.Join(dst, "lost+found/x"), "root's\n")
	if err := os.Chmod(filepath.Join(dst, "lost+found"), 0o700); err != nil {
		t.Fatal(err)
	}
	r := newTFRunner(t, providerConfig(srv, map[string]string{"rsync_path": asNobody})+rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
	}))
	r.run(0, "apply", "-input=false", "-auto-approve")
	if fi, err := os.Stat(filepath.Join(dst, "secret.txt")); err != nil || fi.Mode().Perm() != 0 {
		t.Fatalf("secret.txt on the server: %v, %v", fi, err)
	}

	warning := words("Warning: Destination partly unreadable … the SSH user cannot read all of it. " +
		"Files it cannot read, compared by size, time and permissions … secret.txt. " +
		"Directories it cannot list, whose contents are not compared … lost+found/.")
	out := r.run(0, "plan", "-input=false", "-detailed-exitcode")
	if !warning.MatchString(out) {
		t.Fatalf("plan: want one warning naming the unreadable paths:\n%s", out)
	}
	if n := strings.Count(out, "Destination partly unreadable"); n != 1 {
		t.Errorf("the warning appears %d times, want once:\n%s", n, out)
	}

	writeFile(t, filepath.Join(src, "index.html"), "<h1>new</h1>\n")
	out = r.run(0, "apply", "-input=false", "-auto-approve")
	if !strings.Contains(out, "1 changed") {
		t.Errorf("apply after a local edit:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "index.html")); err != nil || string(b) != "<h1>new</h1>\n" {
		t.Errorf("index.html on the server: %q, %v", b, err)
	}
	r.run(0, "plan", "-input=false", "-detailed-exitcode")
}
