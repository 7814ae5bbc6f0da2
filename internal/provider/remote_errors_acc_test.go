//go:build unix

package provider

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// mountTmpfs mounts a tmpfs of size on a fresh directory (the tests run as
// root, in CI too) and unmounts it when the test ends.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a tmpfs and needs root; CI runs as root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

func remount(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s %s: %v: %s", dir, opts, err, out)
	}
}

// asNobody is an rsync_path that runs the remote rsync as nobody.
const asNobody = `"setpriv --reuid=65534 --regid=65534 --clear-groups rsync"`

// TestAccRemoteErrors: failures on the server come back as diagnostics
// that name the path and the cause in rsync's own words, leave the files
// that were there intact, and once the cause is fixed the next apply
// converges and its plan is empty.
func TestAccRemoteErrors(t *testing.T) {
	srv := accSetup(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<16) // 4 MiB

	t.Run("permission denied on a file", func(t *testing.T) {
		// The remote rsync runs as nobody; the destination is open to
		// it except a root-owned directory holding index.html.
		src := smallTree(t)
		writeFile(t, filepath.Join(src, "locked/index.html"), "the new version\n")
		settleDirTime(t, src)
		dst := filepath.Join(t.TempDir(), "www")
		writeFile(t, filepath.Join(dst, "locked/index.html"), "old\n")
		for _, d := range []string{filepath.Dir(filepath.Dir(dst)), filepath.Dir(dst)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(dst, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		config := providerConfig(srv, map[string]string{"rsync_path": asNobody}) + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
		})
		failThenRecover(t, "remote/permission-denied", config, func() {
			if b, _ := os.ReadFile(filepath.Join(dst, "locked/index.html")); string(b) != "old\n" {
				t.Errorf("locked/index.html was changed: %q", b)
			}
			if err := os.Chown(filepath.Join(dst, "locked"), 65534, 65534); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(filepath.Join(dst, "locked/index.html"), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, checkTreesEqualExceptOwner(src, dst))
	})

	t.Run("read-only destination", func(t *testing.T) {
		src := smallTree(t)
		dst := mountTmpfs(t, "4m")
		writeFile(t, filepath.Join(dst, "index.html"), "old\n")
		remount(t, dst, "ro")
		config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
		})
		failThenRecover(t, "remote/read-only", config, func() {
			if b, _ := os.ReadFile(filepath.Join(dst, "index.html")); string(b) != "old\n" {
				t.Errorf("index.html was changed: %q", b)
			}
			remount(t, dst, "rw")
		}, checkTreesEqual(src, dst))
	})

	t.Run("disk full", func(t *testing.T) {
		src := smallTree(t)
		writeFileBytes(t, filepath.Join(src, "big.bin"), big)
		settleDirTime(t, src)
		dst := mountTmpfs(t, "1m")
		writeFile(t, filepath.Join(dst, "big.bin"), "the old good version\n")
		config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
		})
		failThenRecover(t, "remote/disk-full", config, func() {
			if b, _ := os.ReadFile(filepath.Join(dst, "big.bin")); string(b) != "the old good version\n" {
				t.Errorf("the old big.bin was damaged: %d bytes", len(b))
			}
			if tmp, _ := filepath.Glob(filepath.Join(dst, ".big.bin.*")); len(tmp) > 0 {
				t.Errorf("temporary files left by the failed apply: %v", tmp)
			}
			remount(t, dst, "size=16m")
		}, checkTreesEqual(src, dst))
	})

	t.Run("missing parent directory", func(t *testing.T) {
		src := smallTree(t)
		dst := filepath.Join(t.TempDir(), "a/b/www")
		config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
		})
		failThenRecover(t, "remote/missing-parent", config, nil, nil)
	})

	t.Run("rsync missing on the server", func(t *testing.T) {
		src := smallTree(t)
		config := providerConfig(srv, map[string]string{"rsync_path": `"/nonexistent/rsync"`}) + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, t.TempDir()+"/")),
		})
		failThenRecover(t, "remote/rsync-missing", config, nil, nil)
	})
}

// failThenRecover: an apply of config fails with the outcome id (its
// message recorded for docs/reliability.md). With fix, which also checks
// what the failed apply left, the next apply succeeds and check holds, and
// the plan after it is empty; without, the failure is the whole case.
func failThenRecover(t *testing.T, id, config string, fix func(), check resource.TestCheckFunc) {
	t.Helper()
	steps := []resource.TestStep{{Config: config, ExpectError: expectOutcome(id)}}
	if fix != nil {
		steps = append(steps,
			resource.TestStep{PreConfig: fix, Config: config, Check: check},
			resource.TestStep{Config: config, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
		)
	}
	accTest(t, resource.TestCase{
		ErrorCheck:               recordErrors(t, id),
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps:                    steps,
	})
}

func writeFileBytes(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkTreesEqualExceptOwner is checkTreesEqual for a copy written by
// another user (its owner differs; rsync -a as nobody cannot keep root's).
func checkTreesEqualExceptOwner(src, dst string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		err := checkTreesEqual(src, dst)(s)
		if err != nil && strings.Contains(err.Error(), "owner") {
			return nil
		}
		return err
	}
}
