//go:build unix

package provider

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMkpathCommand runs the generated command with sh, as the remote
// login shell would, in a directory standing for the login directory:
// hostile names create exactly the directories they name and run nothing;
// "~/" paths are relative to the login directory; existing parents are
// left alone; chmod gives the created ones their mode.
func TestMkpathCommand(t *testing.T) {
	home := t.TempDir()
	hostile := []string{`it's`, `$(touch PWNED)`, "a b;touch PWNED2", "`touch PWNED3`", "-n", "new\nline"}
	dir := "~/" + strings.Join(hostile, "/") + "/dst"
	cmd := mkpathCommand(dir, 0o750, true, "", "", "rsync")
	run := func(command string) {
		t.Helper()
		c := exec.Command("/bin/sh", "-c", command)
		c.Dir = home
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", command, err, out)
		}
	}
	run(cmd)
	p := home
	for _, name := range hostile {
		p = filepath.Join(p, name)
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			t.Fatalf("%q not created: %v", p, err)
		}
		if fi.Mode().Perm() != 0o750 {
			t.Errorf("%q has mode %o, want 750", p, fi.Mode().Perm())
		}
	}
	if _, err := os.Stat(filepath.Join(p, "dst")); !os.IsNotExist(err) {
		t.Errorf("the destination itself was created: %v", err)
	}
	entries, _ := os.ReadDir(home)
	if len(entries) != 1 {
		t.Errorf("the login directory holds %d entries, want only %q: a name escaped its quoting", len(entries), hostile[0])
	}
	// Again: everything exists, nothing changes (a parent's mode stays).
	if err := os.Chmod(filepath.Join(home, hostile[0]), 0o711); err != nil {
		t.Fatal(err)
	}
	run(cmd)
	if fi, _ := os.Stat(filepath.Join(home, hostile[0])); fi.Mode().Perm() != 0o711 {
		t.Errorf("an existing parent was changed to %o", fi.Mode().Perm())
	}
	if got := mkpathCommand("/srv/a/b", 0, false, "www", "", "sudo -u deploy /usr/bin/rsync"); !strings.HasPrefix(got, "sudo -u deploy sh -c ") {
		t.Errorf("privilege prefix lost: %s", got)
	}
	if got := mkpathCommand("/srv", 0, false, "", "", "rsync"); got != "" {
		t.Errorf("nothing to create under /, got %q", got)
	}
}
