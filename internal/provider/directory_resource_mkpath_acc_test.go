//go:build unix

package provider

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// noMkpathRsync writes a wrapper that behaves as an rsync without
// --mkpath (older than 3.2.3, or openrsync): it exits as rsync does on an
// unknown option when it sees --mkpath, and otherwise runs the stock rsync.
// It leaves a mark at every run, so a test can tell it was the server.
func noMkpathRsync(t *testing.T) (wrapper, mark string) {
	t.Helper()
	dir := t.TempDir()
	openPath(t, filepath.Join(dir, "x"))
	mark = filepath.Join(dir, "ran")
	stock, err := exec.LookPath("rsync")
	if err != nil {
		t.Fatal("rsync is not installed: the test needs a real server")
	}
	wrapper = filepath.Join(dir, "rsync-without-mkpath")
	script := fmt.Sprintf(`#!/bin/sh
: > %s
for a in "$@"; do
  case "$a" in
  --mkpath) echo "rsync: --mkpath: unknown option" >&2
    echo "rsync error: syntax or usage error (code 1) at main.c(1795) [server=3.1.3]" >&2
    exit 1 ;;
  esac
done
exec %s "$@"
`, shellQuote(mark), shellQuote(stock))
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper, mark
}

// checkModes checks the permission bits of directories.
func checkModes(want os.FileMode, dirs ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, d := range dirs {
			fi, err := os.Stat(d)
			if err != nil {
				return err
			}
			if !fi.IsDir() || fi.Mode().Perm() != want {
				return fmt.Errorf("%s: mode %v, want a directory with %o", d, fi.Mode(), want)
			}
		}
		return nil
	}
}

// TestAccDirectory_mkpath: a destination whose parents are missing fails
// without mkpath, and with mkpath = true the parents are created (with
// chmod's directory mode, and given to owner and group) and the tree lands; against rsync 3.5.0, 3.2.7,
// a server that rejects --mkpath, and a local destination. The step after
// each apply checks that the next plan is empty.
func TestAccDirectory_mkpath(t *testing.T) {
	srv := accSetup(t)
	wrapper, mark := noMkpathRsync(t)
	for _, c := range []struct {
		name      string
		rsyncPath string
		local     bool
	}{
		{name: "rsync-3.5.0"},
		{name: "rsync-3.2.7", rsyncPath: sshtest.Rsync327(t)},
		{name: "rsync-without-mkpath", rsyncPath: wrapper},
		{name: "local", local: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := smallTree(t)
			base := t.TempDir()
			dst := filepath.Join(base, "a", "b c", "it's", "site")
			overrides := map[string]string{}
			if c.rsyncPath != "" {
				overrides["rsync_path"] = hclString(shellQuote(c.rsyncPath))
			}
			destination := remoteDest(srv, dst+"/")
			if c.local {
				destination = dst + "/"
			}
			config := func(mkpath bool) string {
				return providerConfig(srv, overrides) + rsyncDir("test", map[string]string{
					"source": hclString(src + "/"), "destination": hclString(destination),
					"chmod": `"D750,F640"`, "mkpath": fmt.Sprint(mkpath), "owner": `"nobody"`, "group": `"nogroup"`,
				})
			}
			// Without mkpath the create's plan finds the parent missing.
			missing := `Destination's parent directory is missing … does not exist`
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				Steps: []resource.TestStep{
					{Config: config(false), ExpectError: words(missing)},
					{
						Config: config(true),
						Check: resource.ComposeTestCheckFunc(
							checkModes(0o750, filepath.Join(base, "a"), filepath.Join(base, "a", "b c"),
								filepath.Join(base, "a", "b c", "it's"), dst),
							func(*terraform.State) error { return mustNotExist(filepath.Join(base, "PWNED")) },
							func(*terraform.State) error { return owners(base, 65534, 65534, "a", "a/b c", "a/b c/it's") },
							resource.TestCheckResourceAttr(res, "mkpath", "true"),
						),
					},
				},
			})
			if err := modes(dst, map[string]os.FileMode{"index.html": 0o640, "css": 0o750}); err != nil {
				t.Error(err)
			}
			if c.rsyncPath == wrapper {
				if _, err := os.Stat(mark); err != nil {
					t.Errorf("the wrapper never ran, so the test did not use it as the server: %v", err)
				}
			}
		})
	}
}
