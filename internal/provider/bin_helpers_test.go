//go:build unix

package provider

// Some tests need what only a provider started by Terraform has: its own
// process, in the directory Terraform runs in (relative paths), logging
// through Terraform (TF_LOG_PATH), run as another user. They build the
// provider binary once and point Terraform at it with dev_overrides, as
// `make demo` does.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// TestMain removes the provider binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// providerBinary builds the provider (once per test run) and returns the
// directory holding it.
func providerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "rsync-provider-bin-") //nolint:usetesting // outlives the test: all tests of the run share it, TestMain removes it
		if buildErr != nil {
			return
		}
		// Readable by any user: tests run terraform as nobody too.
		if buildErr = os.Chmod(buildDir, 0o755); buildErr != nil {
			return
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, "terraform-provider-rsync"), ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

// binRunner runs terraform in a working directory against the built
// provider binary.
type binRunner struct {
	t    *testing.T
	dir  string
	env  []string
	cred *syscall.Credential // run as this user; nil: as the test
}

// newBinRunner writes files into a fresh working directory. env adds to
// the environment (TF_LOG and the like).
func newBinRunner(t *testing.T, files map[string]string, env ...string) *binRunner {
	t.Helper()
	bin := providerBinary(t)
	dir := t.TempDir()
	rc := filepath.Join(dir, ".terraformrc")
	var overrides strings.Builder
	for _, a := range providerAddrs() {
		fmt.Fprintf(&overrides, "    %q = %q\n", a, bin)
	}
	cfg := fmt.Sprintf("provider_installation {\n  dev_overrides {\n%s  }\n  direct {}\n}\n", overrides.String())
	if err := os.WriteFile(rc, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TF_CLI_CONFIG_FILE=" + rc,
		"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1"}
	return &binRunner{t: t, dir: dir, env: append(base, env...)}
}

// asUser makes terraform (and so the provider) run as uid:gid, owning the
// working directory.
func (r *binRunner) asUser(uid, gid uint32) {
	r.t.Helper()
	err := filepath.Walk(r.dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			err = os.Lchown(p, int(uid), int(gid))
		}
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	openPath(r.t, r.dir)
	r.cred = &syscall.Credential{Uid: uid, Gid: gid}
}

// openPath makes every directory above p searchable by anyone (t.TempDir
// makes them 0700).
func openPath(t *testing.T, p string) {
	t.Helper()
	for d := filepath.Dir(p); d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o005 != 0o005 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o005); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// exec runs terraform with args (no -no-color added: callers choose).
func (r *binRunner) exec(limit time.Duration, args ...string) tfResult {
	r.t.Helper()
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		tf = "terraform"
	}
	tr := &tfRunner{t: r.t, dir: r.dir, env: r.env}
	if r.cred == nil {
		return tr.exec(limit, args...)
	}
	// As another user: the same, with credentials.
	return tr.execAs(limit, r.cred, tf, args...)
}

// run runs terraform and fails the test unless it exits with want.
func (r *binRunner) run(want int, args ...string) tfResult {
	r.t.Helper()
	res := r.exec(5*time.Minute, args...)
	if res.code != want || res.timedOut {
		r.t.Fatalf("terraform %v exited %d, want %d (after %v)\n%s", args, res.code, want, res.elapsed, res.output())
	}
	return res
}
