package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// terraform-plugin-testing cannot read the state of a resource with
// for_each (its legacy state shim rejects string instance keys), so the
// for_each test drives the terraform binary itself, against this provider
// served in-process in debug mode (TF_REATTACH_PROVIDERS), as the harness
// does.

// tfRunner runs terraform commands in one working directory against the
// in-process provider.
type tfRunner struct {
	t   *testing.T
	dir string
	env []string
}

func newTFRunner(t *testing.T, config string) *tfRunner {
	t.Helper()
	return newTFRunnerFiles(t, map[string]string{"main.tf": config})
}

// newTFRunnerFiles is newTFRunner for a configuration of several files.
func newTFRunnerFiles(t *testing.T, files map[string]string) *tfRunner {
	t.Helper()
	return newTFRunnerServing(t, files, New("test")())
}

// newTFRunnerServing is newTFRunnerFiles serving the provider p (a test
// may give it hooks, e.g. rsyncProvider.sourceWalked).
func newTFRunnerServing(t *testing.T, files map[string]string, p provider.Provider) *tfRunner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfgCh := make(chan *plugin.ReattachConfig, 1)
	closeCh := make(chan struct{})
	go func() {
		err := tf6server.Serve(providerAddrs()[0], providerserver.NewProtocol6(p),
			tf6server.WithDebug(ctx, cfgCh, closeCh),
			tf6server.WithGoPluginLogger(hclog.NewNullLogger()),
			tf6server.WithLoggingSink(t))
		if err != nil {
			t.Errorf("serve provider: %v", err)
		}
	}()
	rc := <-cfgCh
	t.Cleanup(func() {
		cancel()
		<-closeCh
	})
	server := map[string]any{
		"Protocol": string(rc.Protocol), "ProtocolVersion": rc.ProtocolVersion, "Pid": rc.Pid, "Test": true,
		"Addr": map[string]string{"Network": rc.Addr.Network(), "String": rc.Addr.String()},
	}
	// Configurations name the provider either way: without
	// required_providers (hashicorp/rsync) or as published.
	addrs := map[string]any{}
	for _, a := range providerAddrs() {
		addrs[a] = server
	}
	reattach, err := json.Marshal(addrs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := &tfRunner{t: t, dir: dir, env: append(os.Environ(), "TF_REATTACH_PROVIDERS="+string(reattach), "TF_IN_AUTOMATION=1")}
	r.run(0, "init", "-input=false")
	return r
}

// run runs terraform with args and fails the test unless it exits with
// want; it returns stdout.
func (r *tfRunner) run(want int, args ...string) string {
	r.t.Helper()
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		tf = "terraform"
	}
	cmd := exec.Command(tf, append(append([]string{}, args...), "-no-color")...)
	cmd.Dir, cmd.Env = r.dir, r.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	planned := r.guardPlan(args)
	err := cmd.Run()
	planned()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	if code != want {
		r.t.Fatalf("terraform %s exited %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// planActions plans and returns each resource instance's actions.
func (r *tfRunner) planActions(wantExit int) map[string]string {
	r.t.Helper()
	r.run(wantExit, "plan", "-input=false", "-detailed-exitcode", "-out=tfplan")
	var plan struct {
		ResourceChanges []struct {
			Address string `json:"address"`
			Change  struct {
				Actions []string `json:"actions"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(r.run(0, "show", "-json", "tfplan")), &plan); err != nil {
		r.t.Fatal(err)
	}
	out := map[string]string{}
	for _, rc := range plan.ResourceChanges {
		out[rc.Address] = strings.Join(rc.Change.Actions, ",")
	}
	return out
}

// TestAccDirectory_forEach: three destinations through one provider block,
// with for_each: two paths on one server and one on a second server (its
// own port, key and host key, through the ssh override); drift on one of
// them plans an update of that one only.
func TestAccDirectory_forEach(t *testing.T) {
	srv := accSetup(t)
	srv2 := sshtest.Start(t)
	src := smallTree(t)
	base := t.TempDir()
	hosts := map[string]string{}
	var entries []string
	for i, name := range []string{"web1", "web2", "web3"} {
		s := srv
		if i == 2 {
			s = srv2
		}
		hosts[name] = filepath.Join(base, name)
		entries = append(entries, fmt.Sprintf("    %s = { dest = %s, port = %d, key = %s, known_hosts = %s }", name,
			hclString(remoteDest(s, hosts[name]+"/")), s.Port, hclString(s.ClientKeyFile), hclString(s.KnownHostsFile)))
	}
	config := providerConfig(srv, nil) + fmt.Sprintf("\nlocals {\n  hosts = {\n%s\n  }\n}\n", strings.Join(entries, "\n")) +
		rsyncDir("web", map[string]string{
			"for_each": "local.hosts", "source": hclString(src + "/"), "destination": "each.value.dest",
			"ssh": "{\n    port             = each.value.port\n    private_key_file = each.value.key\n    known_hosts_file = each.value.known_hosts\n  }",
		})
	tf := newTFRunner(t, config)

	tf.run(0, "apply", "-input=false", "-auto-approve")
	for _, dst := range hosts {
		if err := checkTreesEqual(src, dst)(nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := tf.planActions(0); len(got) != 3 || got[`rsync_directory.web["web1"]`] != "no-op" {
		t.Fatalf("plan after apply: %v", got)
	}

	writeFile(t, filepath.Join(hosts["web2"], "index.html"), "drift on web2 only\n")
	got := tf.planActions(2)
	want := map[string]string{
		`rsync_directory.web["web1"]`: "no-op", `rsync_directory.web["web2"]`: "update", `rsync_directory.web["web3"]`: "no-op",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("plan after drift on web2: %v, want %v", got, want)
	}
	tf.run(0, "apply", "-input=false", "tfplan")
	if err := checkTreesEqual(src, hosts["web2"])(nil); err != nil {
		t.Fatal(err)
	}
	tf.planActions(0)
	tf.run(0, "destroy", "-input=false", "-auto-approve")
}

// TestAccExamplesValidate: every example configuration in examples/ (the
// ones the docs show) passes terraform validate against this provider's
// schema and validators.
func TestAccExamplesValidate(t *testing.T) {
	accSetup(t)
	dirs, err := filepath.Glob("../../examples/*/*")
	if err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, "../../examples/provider", "../../examples/demo")
	for _, dir := range dirs {
		tfs, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
		if len(tfs) == 0 {
			continue
		}
		t.Run(strings.TrimPrefix(dir, "../../"), func(t *testing.T) {
			files := map[string]string{}
			for _, f := range tfs {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				files[filepath.Base(f)] = string(b)
			}
			tf := newTFRunnerFiles(t, files)
			tf.run(0, "validate")
		})
	}
}
