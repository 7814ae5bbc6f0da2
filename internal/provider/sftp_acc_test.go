//go:build unix

package provider

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// noRsyncHost is an sshd whose sessions cannot run rsync (nor any other
// program found through PATH) and that serves SFTP in process.
func noRsyncHost(t *testing.T) *sshtest.Server {
	t.Helper()
	return accSetupWith(t, sshtest.WithExtraConfig("SetEnv PATH=/nonexistent\nSubsystem sftp internal-sftp"))
}

// sftpOracle is what rsync -a would still change to make dst equal src,
// deleting too: nothing, after an exact sync.
func sftpOracle(t *testing.T, src, dst string) {
	t.Helper()
	if err := testtree.Compare(src, dst); err != nil {
		t.Error(err)
	}
	out, err := exec.Command("rsync", "-rlptnic", "--delete", src+"/", dst+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("rsync -rlptnic --delete: %v: %s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("rsync -rlptnic --delete %s/ %s/ would still change:\n%s", src, dst, s)
	}
}

func sftpProvider(srv *sshtest.Server, extra string) string {
	return fmt.Sprintf("provider \"rsync\" {\n  port = %d\n  private_key_file = %s\n  known_hosts_file = %s\n  ssh_config_file = \"\"\n%s}\n",
		srv.Port, hclString(srv.ClientKeyFile), hclString(srv.KnownHostsFile), extra)
}

// TestAccSFTP_autoFallback: against a host whose sessions cannot run
// rsync, transport "auto" (the default) falls back to SFTP with a warning
// saying why and how drift is detected; the push (with delete) leaves what
// rsync -a would (rsync -rlptnic --delete says nothing); the second plan
// is empty; a file edited on the server is drift, and is repaired.
func TestAccSFTP_autoFallback(t *testing.T) {
	srv := noRsyncHost(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())
	dst := filepath.Join(t.TempDir(), "site")
	writeFile(t, filepath.Join(dst, "stale", "old.txt"), "deleted by the push\n")
	r := newBinRunner(t, map[string]string{
		"main.tf": sftpProvider(srv, "") + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "delete": "true",
		}),
	})

	plan := r.run(0, "plan", "-input=false", "-no-color")
	for _, want := range []string{
		"Warning: Syncing over SFTP … reached over SFTP: `rsync --version` exited with status 127",
		"Drift is detected by size, modification time, type and permissions only",
	} {
		if !words(want).MatchString(plan.output()) {
			t.Errorf("the plan does not say %q:\n%s", want, plan.output())
		}
	}
	if n := strings.Count(plan.output(), "Syncing over SFTP"); n != 1 {
		t.Errorf("the plan warns %d times about SFTP, want once:\n%s", n, plan.output())
	}
	r.run(0, "apply", "-input=false", "-auto-approve", "-no-color")
	sftpOracle(t, src, dst)
	if res := r.exec(10*time.Minute, "plan", "-input=false", "-no-color", "-detailed-exitcode"); res.code != 0 {
		t.Fatalf("the second plan is not empty (exit %d):\n%s", res.code, res.output())
	}

	// An edit on the server is drift, named in the plan, and repaired.
	writeFile(t, filepath.Join(dst, "index.html"), "<h1>defaced</h1>\n")
	res := r.exec(10*time.Minute, "plan", "-input=false", "-no-color", "-detailed-exitcode")
	if res.code != 2 || !strings.Contains(res.output(), `"index.html"`) {
		t.Fatalf("the plan after a server edit (exit %d) does not name index.html:\n%s", res.code, res.output())
	}
	r.run(0, "apply", "-input=false", "-auto-approve", "-no-color")
	sftpOracle(t, src, dst)
	if res := r.exec(10*time.Minute, "plan", "-input=false", "-no-color", "-detailed-exitcode"); res.code != 0 {
		t.Fatalf("the plan after the repair is not empty (exit %d):\n%s", res.code, res.output())
	}

	// on_destroy = "delete" removes the tree over SFTP.
	r.writeMain(t, sftpProvider(srv, "")+rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "delete": "true",
		"on_destroy": `"delete"`,
	}))
	r.run(0, "apply", "-input=false", "-auto-approve", "-no-color")
	r.run(0, "destroy", "-input=false", "-auto-approve", "-no-color")
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		t.Errorf("destroy left %s (%v)", dst, err)
	}
}

// TestAccSFTP_rsyncTransportRefused: transport = "rsync" against the same
// host fails at plan, saying rsync does not run there and what to do.
func TestAccSFTP_rsyncTransportRefused(t *testing.T) {
	srv := noRsyncHost(t)
	src := smallTree(t)
	dst := filepath.Join(t.TempDir(), "site")
	r := newBinRunner(t, map[string]string{
		"main.tf": sftpProvider(srv, "  transport = \"rsync\"\n") + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
		}),
	})
	plan := r.run(1, "plan", "-input=false", "-no-color")
	want := words("Error: rsync does not run on the destination host … `rsync --version` exited with status 127 … transport = \"rsync\" asks for rsync")
	if !want.MatchString(plan.output()) {
		t.Errorf("the plan does not fail as %q:\n%s", want, plan.output())
	}
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		t.Errorf("the failed plan created %s (%v)", dst, err)
	}
}

// TestAccSFTP_refusedOptions: an option SFTP cannot honour fails the
// plan, naming the attribute and the transport.
func TestAccSFTP_refusedOptions(t *testing.T) {
	srv := noRsyncHost(t)
	src := smallTree(t)
	dst := filepath.Join(t.TempDir(), "site")
	r := newBinRunner(t, map[string]string{
		"main.tf": sftpProvider(srv, "") + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
			"hard_links": "true", "owner": `"nobody"`,
		}),
	})
	plan := r.run(1, "plan", "-input=false", "-no-color")
	for _, want := range []string{
		"Error: Not possible over SFTP … hard_links = true (keeping hard links) cannot be honoured over SFTP",
		"Error: Not possible over SFTP … owner (SFTP sets numeric ids only) cannot be honoured over SFTP",
	} {
		if !words(want).MatchString(plan.output()) {
			t.Errorf("the plan does not fail with %q:\n%s", want, plan.output())
		}
	}
}

// TestAccSFTP_contentDrift: transport = "sftp" on a host that runs
// commands: drift is by content, with the server's md5sum, so an edit
// that keeps size and mtime is found and repaired (by checksum).
func TestAccSFTP_contentDrift(t *testing.T) {
	srv := accSetupWith(t, sshtest.WithExtraConfig("Subsystem sftp internal-sftp"))
	src := smallTree(t)
	dst := filepath.Join(t.TempDir(), "site")
	r := newBinRunner(t, map[string]string{
		"main.tf": sftpProvider(srv, "") + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
			"ssh": `{ transport = "sftp" }`,
		}),
	})
	plan := r.run(0, "plan", "-input=false", "-no-color")
	want := words("Warning: Syncing over SFTP … transport = \"sftp\" … Drift is detected by content: md5 digests computed on the server with `md5sum`")
	if !want.MatchString(plan.output()) {
		t.Errorf("the plan does not say %q:\n%s", want, plan.output())
	}
	r.run(0, "apply", "-input=false", "-auto-approve", "-no-color")
	sftpOracle(t, src, dst)
	if res := r.exec(10*time.Minute, "plan", "-input=false", "-no-color", "-detailed-exitcode"); res.code != 0 {
		t.Fatalf("the second plan is not empty (exit %d):\n%s", res.code, res.output())
	}
	// Same size, same mtime, other content: only a digest sees it.
	p := filepath.Join(dst, "index.html")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	edited := []byte(strings.ToUpper(string(old)))
	if err := os.WriteFile(p, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	res := r.exec(10*time.Minute, "plan", "-input=false", "-no-color", "-detailed-exitcode")
	if res.code != 2 || !strings.Contains(res.output(), `"index.html"`) {
		t.Fatalf("the plan after a same-size edit (exit %d) does not name index.html:\n%s", res.code, res.output())
	}
	r.run(0, "apply", "-input=false", "-auto-approve", "-no-color")
	sftpOracle(t, src, dst)
}

// writeMain replaces the runner's main.tf.
func (r *binRunner) writeMain(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, "main.tf"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAccSFTP_pullImportManifest: over SFTP (a host without rsync) a pull
// lands what rsync -a would; the rsync_manifest data source reads the
// remote tree; a resource imported by its destination plans nothing to
// send (pending unchanged: empty) and its next plan after the apply is
// empty.
func TestAccSFTP_pullImportManifest(t *testing.T) {
	srv := noRsyncHost(t)
	remote := filepath.Join(t.TempDir(), "remote")
	if err := os.Mkdir(remote, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, remote, testtree.Rich())
	local := filepath.Join(t.TempDir(), "pulled")
	pulled := rsyncDir("pull", map[string]string{
		"source": hclString(remoteDest(srv, remote+"/")), "destination": hclString(local + "/"), "delete": "true",
	})
	manifest := fmt.Sprintf("\ndata \"rsync_manifest\" \"m\" {\n  path = %s\n  mode = \"metadata\"\n}\noutput \"files\" {\n  value = data.rsync_manifest.m.file_count\n}\n",
		hclString(remoteDest(srv, remote+"/")))
	r := newBinRunner(t, map[string]string{"main.tf": sftpProvider(srv, "") + pulled + manifest})
	r.run(0, "apply", "-input=false", "-auto-approve", "-no-color")
	sftpOracle(t, remote, local)
	out := r.run(0, "output", "-no-color", "files")
	if strings.TrimSpace(out.stdout) != "9" {
		t.Errorf("rsync_manifest over SFTP counts %q files, want 9", strings.TrimSpace(out.stdout))
	}
	if res := r.exec(10*time.Minute, "plan", "-input=false", "-no-color", "-detailed-exitcode"); res.code != 0 {
		t.Fatalf("the second plan of the pull is not empty (exit %d):\n%s", res.code, res.output())
	}

	// Import a push destination that already holds the source.
	src := smallTree(t)
	dst := filepath.Join(t.TempDir(), "site")
	preload(t, src, dst)
	dest := remoteDest(srv, dst+"/")
	r2 := newBinRunner(t, map[string]string{"main.tf": sftpProvider(srv, "") + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(dest),
	})})
	r2.run(0, "import", "-input=false", "-no-color", "rsync_directory.test", dest)
	plan := r2.run(0, "plan", "-input=false", "-no-color")
	if !strings.Contains(plan.output(), "Syncing over SFTP") || strings.Contains(plan.output(), "pending") {
		t.Errorf("the plan after import is not over SFTP with nothing pending:\n%s", plan.output())
	}
	r2.run(0, "apply", "-input=false", "-auto-approve", "-no-color")
	sftpOracle(t, src, dst)
	if res := r2.exec(10*time.Minute, "plan", "-input=false", "-no-color", "-detailed-exitcode"); res.code != 0 {
		t.Fatalf("the plan after the import's apply is not empty (exit %d):\n%s", res.code, res.output())
	}
}

// TestAccSFTP_forceCommandHost: a host that runs every session as
// internal-sftp (sshd's ForceCommand), whatever the command: auto finds
// no rsync there (internal-sftp exits 1 on EOF; a 0 without a version
// line counts as no rsync too) and syncs over SFTP, drift by metadata.
func TestAccSFTP_forceCommandHost(t *testing.T) {
	srv := accSetupWith(t, sshtest.WithExtraConfig("Subsystem sftp internal-sftp\nForceCommand internal-sftp"))
	src := smallTree(t)
	dst := filepath.Join(t.TempDir(), "site")
	r := newBinRunner(t, map[string]string{
		"main.tf": sftpProvider(srv, "") + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "delete": "true",
		}),
	})
	plan := r.run(0, "plan", "-input=false", "-no-color")
	want := words("Warning: Syncing over SFTP … reached over SFTP: `rsync --version` … Drift is detected by size, modification time, type and permissions only")
	if !want.MatchString(plan.output()) {
		t.Errorf("the plan does not say %q:\n%s", want, plan.output())
	}
	r.run(0, "apply", "-input=false", "-auto-approve", "-no-color")
	sftpOracle(t, src, dst)
	if res := r.exec(10*time.Minute, "plan", "-input=false", "-no-color", "-detailed-exitcode"); res.code != 0 {
		t.Fatalf("the second plan is not empty (exit %d):\n%s", res.code, res.output())
	}
}

// TestAccSFTP_specials: a fifo in the source fails the plan over SFTP,
// naming specials; with specials = false it is left out and the sync
// settles.
func TestAccSFTP_specials(t *testing.T) {
	srv := noRsyncHost(t)
	src := smallTree(t)
	if err := syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "site")
	main := func(extra map[string]string) string {
		attrs := map[string]string{"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/"))}
		for k, v := range extra {
			attrs[k] = v
		}
		return sftpProvider(srv, "") + rsyncDir("test", attrs)
	}
	r := newBinRunner(t, map[string]string{"main.tf": main(nil)})
	plan := r.run(1, "plan", "-input=false", "-no-color")
	if want := words("Error: Not possible over SFTP … The source holds 1 fifos or sockets (pipe) … Set specials = false"); !want.MatchString(plan.output()) {
		t.Errorf("the plan does not fail with %q:\n%s", want, plan.output())
	}
	r.writeMain(t, main(map[string]string{"specials": "false"}))
	r.run(0, "apply", "-input=false", "-auto-approve", "-no-color")
	if _, err := os.Lstat(filepath.Join(dst, "pipe")); !os.IsNotExist(err) {
		t.Errorf("the fifo landed: %v", err)
	}
	if res := r.exec(10*time.Minute, "plan", "-input=false", "-no-color", "-detailed-exitcode"); res.code != 0 {
		t.Fatalf("the second plan is not empty (exit %d):\n%s", res.code, res.output())
	}
}
