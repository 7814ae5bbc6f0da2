//go:build wine && linux

package winetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// commandLimit bounds one terraform.exe command: under Wine on a busy
// 2-core machine a plan takes seconds, so a command still running after
// this has hung, and failing beats stalling CI.
const commandLimit = 5 * time.Minute

// winPath is how a Windows program under Wine names the Linux path p:
// Wine maps drive Z: to /.
func winPath(p string) string {
	return `Z:` + strings.ReplaceAll(p, "/", `\`)
}

// hclString quotes s as an HCL string literal.
func hclString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "${", "$${", "%{", "%%{")
	return `"` + r.Replace(s) + `"`
}

// repoRoot is the module's root directory (this file is two levels down).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("runtime.Caller: no file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// wineRunner runs terraform.exe under Wine in a working directory.
type wineRunner struct {
	t         *testing.T
	wineExec  string // .ci/wine-exec
	terraform string // terraform.exe, a Linux path
	dir       string
	env       []string
}

type result struct {
	code   int
	output string
}

// run runs terraform.exe with args and fails the test unless it exits
// with want.
func (r *wineRunner) run(want int, args ...string) result {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandLimit)
	defer cancel()
	args = append(append([]string{r.terraform}, args...), "-no-color")
	cmd := exec.CommandContext(ctx, r.wineExec, args...)
	cmd.Dir, cmd.Env = r.dir, r.env
	// A Wine helper process that kept our pipes open would otherwise hold
	// Wait after terraform.exe exits.
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		r.t.Fatalf("terraform.exe %v: %v\n%s", args[1:], err, out.String())
	}
	if ctx.Err() != nil {
		r.t.Fatalf("terraform.exe %v still running after %v, killed\n%s", args[1:], commandLimit, out.String())
	}
	if code != want {
		r.t.Fatalf("terraform.exe %v exited %d, want %d (after %v)\n%s", args[1:], code, want, time.Since(start).Round(time.Millisecond), out.String())
	}
	return result{code: code, output: out.String()}
}

// buildProvider builds the provider for windows/amd64 into dir, as
// terraform-provider-rsync.exe: the name dev_overrides looks for on
// Windows.
func buildProvider(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-rsync.exe"), ".")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go build: %v\n%s", err, out)
	}
}

// checkLanded checks dst against the source tree's entries as a Windows
// runner sends them: every file 0644 and directory 0755 (root included)
// whatever the source's Unix modes, the same contents, and the source's
// modification times.
func checkLanded(t *testing.T, src, dst string, entries []testtree.Entry) {
	t.Helper()
	paths := []string{"."}
	for _, e := range entries {
		paths = append(paths, e.Path)
	}
	for _, rel := range paths {
		s, err := os.Lstat(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		d, err := os.Lstat(filepath.Join(dst, rel))
		if err != nil {
			t.Errorf("%s did not land: %v", rel, err)
			continue
		}
		want := fs.FileMode(0o644)
		if s.IsDir() {
			want = fs.ModeDir | 0o755
		}
		if d.Mode() != want {
			t.Errorf("%s landed %v, want %v (the source on Linux is %v)", rel, d.Mode(), want, s.Mode())
		}
		if !d.ModTime().Equal(s.ModTime()) {
			t.Errorf("%s: mtime %v, source %v", rel, d.ModTime(), s.ModTime())
		}
		if s.Mode().IsRegular() {
			a, err := os.ReadFile(filepath.Join(src, rel))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dst, rel))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s: %d bytes landed, differing from the source's %d", rel, len(b), len(a))
			}
		}
	}
	// Nothing more than the source: the walk above went from the source.
	n := 0
	if err := filepath.WalkDir(dst, func(string, fs.DirEntry, error) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != len(paths) {
		t.Errorf("%d entries in %s, want %d", n, dst, len(paths))
	}
}

// TestWineWindowsRunnerPush is a Windows runner end to end: terraform.exe
// (v1.5.7, windows/amd64) runs the provider's .exe through dev_overrides,
// both under Wine, and pushes a tree named by a Windows path (Z:\…\site\,
// backslashes, the trailing one meaning "the contents") to the test sshd,
// with the private key named by a Windows path and the host key pinned.
// On the Linux side the tree must land with Windows-runner modes (files
// 0644, directories 0755, while the source holds 0600/0640/0700/0755), the
// contents and the mtimes; the second plan must be empty; a file edited on
// the server must show as drift (plan exit 2, the file named) and the next
// apply must repair it, leaving the plan empty again.
//
// It fails, never skips, when Wine or terraform.exe is missing: make
// test-wine runs .ci/wine-setup and .ci/fetch-terraform-exe first.
func TestWineWindowsRunnerPush(t *testing.T) {
	tfExe := os.Getenv("TF_ACC_TERRAFORM_EXE")
	if tfExe == "" {
		t.Fatal("TF_ACC_TERRAFORM_EXE is not set: run make test-wine (or set it to the path .ci/fetch-terraform-exe prints)")
	}
	if _, err := os.Stat(tfExe); err != nil {
		t.Fatalf("TF_ACC_TERRAFORM_EXE: %v", err)
	}
	wineExec := filepath.Join(repoRoot(t), ".ci", "wine-exec")

	bin := t.TempDir()
	buildProvider(t, bin)
	srv := sshtest.Start(t)

	entries := []testtree.Entry{
		{Path: "index.html", Mode: 0o600, Content: []byte("<h1>hello from Windows</h1>\n")},
		{Path: "empty.txt", Mode: 0o640, Content: []byte{}},
		{Path: "run.cmd", Mode: 0o755, Content: []byte("@echo off\r\necho run\r\n")},
		{Path: "css", Dir: true, Mode: 0o700},
		{Path: "css/site.css", Mode: 0o644, Content: []byte("body { margin: 0 }\n")},
		{Path: "docs", Dir: true, Mode: 0o750},
		{Path: "docs/deep", Dir: true, Mode: 0o755},
		{Path: "docs/deep/page.md", Mode: 0o600, Content: bytes.Repeat([]byte("a page of text\n"), 4096)},
	}
	src := filepath.Join(t.TempDir(), "site")
	if err := os.Mkdir(src, 0o700); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, entries)
	if err := os.Chmod(src, 0o700); err != nil { // Write leaves it 0755
		t.Fatal(err)
	}
	dst := t.TempDir()

	work := t.TempDir()
	rc := filepath.Join(work, "terraform.rc")
	var overrides strings.Builder
	for _, addr := range []string{"registry.terraform.io/hashicorp/rsync", "registry.terraform.io/rsyncprovider/rsync"} {
		fmt.Fprintf(&overrides, "    %s = %s\n", hclString(addr), hclString(winPath(bin)))
	}
	if err := os.WriteFile(rc, []byte("provider_installation {\n  dev_overrides {\n"+overrides.String()+"  }\n  direct {}\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`provider "rsync" {
  port             = %d
  private_key_file = %s
  host_key         = %s
  timeout          = "60s"
}

resource "rsync_directory" "site" {
  source      = %s
  destination = %s
}
`, srv.Port, hclString(winPath(srv.ClientKeyFile)), hclString(srv.HostKeyAuthorized),
		hclString(winPath(src)+`\`), hclString(fmt.Sprintf("%s@%s:%s/", srv.User, srv.Host, dst)))
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("main.tf:\n%s", config)

	// The caller's environment (Wine finds its prefix through it), less
	// any Terraform settings of the caller's.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") && !strings.HasPrefix(kv, "CHECKPOINT_") {
			env = append(env, kv)
		}
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+winPath(rc), "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	tf := &wineRunner{t: t, wineExec: wineExec, terraform: tfExe, dir: work, env: env}

	tf.run(0, "version")
	tf.run(0, "apply", "-auto-approve", "-input=false")
	checkLanded(t, src, dst, entries)
	if t.Failed() {
		t.FailNow()
	}
	tf.run(0, "plan", "-detailed-exitcode", "-input=false")

	// Drift: a file edited on the server, with a new time as an editor
	// would leave.
	edited := filepath.Join(dst, "css", "site.css")
	if err := os.WriteFile(edited, []byte("body { background: red }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(edited, later, later); err != nil {
		t.Fatal(err)
	}
	plan := tf.run(2, "plan", "-detailed-exitcode", "-input=false")
	if !strings.Contains(plan.output, "css/site.css") {
		t.Errorf("the drift plan does not name css/site.css:\n%s", plan.output)
	}
	tf.run(0, "apply", "-auto-approve", "-input=false")
	checkLanded(t, src, dst, entries)
	tf.run(0, "plan", "-detailed-exitcode", "-input=false")
}
