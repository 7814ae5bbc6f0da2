package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The terraform scenarios run the real terraform binary twice per tool
// and round: an initial apply into an empty destination, then a re-apply
// after the 1% edit. Our side is an rsync_directory resource (the
// provider built from this repository, used through dev_overrides); the
// peer is what Terraform offers without it, a terraform_data resource
// whose file provisioner copies the directory over SSH (Terraform's own
// scp client) and re-runs, copying everything, whenever its
// triggers_replace changes. Neither configuration needs terraform init or
// the network: terraform_data and the file provisioner are built in.

// ProviderAddress is the provider's registry address in dev_overrides.
const ProviderAddress = "registry.terraform.io/rsyncprovider/rsync"

// Terraform kinds: the resource that does the copy.
const (
	TFRsyncDirectory  = "rsync_directory"
	TFFileProvisioner = "file"
)

// tfVariables are the variables the bench sets for both configurations
// (each uses what it needs).
const tfVariables = `variable "source_dir" { type = string }
variable "destination" { type = string }
variable "tree_id" { type = string }
variable "port" { type = number }
variable "user" { type = string }
variable "private_key_file" { type = string }
variable "known_hosts_file" { type = string }
variable "host_key" { type = string }
variable "estimate" {
  type    = bool
  default = true
}
`

// ourConfig is the configuration of our side: one rsync_directory with
// delete = true, as the push scenarios (drift detection is the default,
// checksum).
const ourConfig = `terraform {
  required_providers {
    rsync = {
      source = "rsyncprovider/rsync"
    }
  }
}

` + tfVariables + `
provider "rsync" {
  port             = var.port
  user             = var.user
  private_key_file = var.private_key_file
  known_hosts_file = var.known_hosts_file
}

resource "rsync_directory" "site" {
  source      = var.source_dir
  destination = "${var.user}@127.0.0.1:${var.destination}/"
  delete      = true

  estimate_transfer = var.estimate
}
`

// fileConfig is the peer: terraform_data + provisioner "file". The
// provisioner runs when the resource is created; triggers_replace on a
// value that changes with the tree (the bench passes the generator's key
// of the tree) replaces it, so it runs again and copies everything.
const fileConfig = tfVariables + `
resource "terraform_data" "site" {
  triggers_replace = var.tree_id

  connection {
    type        = "ssh"
    host        = "127.0.0.1"
    port        = var.port
    user        = var.user
    private_key = file(var.private_key_file)
    host_key    = var.host_key
    agent       = false
  }

  # Trailing slash: the contents of source_dir go into destination.
  provisioner "file" {
    source      = var.source_dir
    destination = var.destination
  }
}
`

// TerraformRunner runs `terraform apply` of one tool's configuration in
// job.WorkDir, through the launcher (so terraform and the provider plugin
// processes it reaps are measured together).
type TerraformRunner struct {
	Kind      string // TFRsyncDirectory or TFFileProvisioner
	Terraform string // the terraform binary
	CLIConfig string // TF_CLI_CONFIG_FILE: dev_overrides for our provider
	Launch    Launcher
	// DebugLog makes terraform write TF_LOG=debug logs (its own and the
	// provider's, with timestamps) into the working directory: for finding
	// where an apply spends its time, not for measuring (logging costs).
	DebugLog bool
	// Plan runs `terraform plan` instead of apply (rsync_directory only);
	// NoEstimate sets estimate_transfer = false (plan.go).
	Plan       bool
	NoEstimate bool
	// NoChange makes the plan `terraform plan -detailed-exitcode`, which
	// must find nothing to change (the scale scenarios' second step).
	NoChange bool
	// PluginUsage is a directory where every provider process terraform
	// starts records its own usage (see pluginWrapper); Run reads them
	// into Run.Plugins.
	PluginUsage string
	// ProfileDir: where the provider (built with profiling) writes its
	// profiles; "" = none.
	ProfileDir string
}

// Name is the label of the run in progress lines and the per-round table.
func (r TerraformRunner) Name() string {
	switch {
	case r.Kind != TFRsyncDirectory:
		return "file"
	case r.NoEstimate:
		return "no-estimate"
	}
	return "ours"
}

// Run applies the configuration with job.Source as source_dir, job.Dest
// as destination and job.TreeID as tree_id.
func (r TerraformRunner) Run(ctx context.Context, job Job) (Run, error) {
	config := fileConfig
	if r.Kind == TFRsyncDirectory {
		config = ourConfig
	}
	if err := os.MkdirAll(job.WorkDir, 0o755); err != nil {
		return Run{}, err
	}
	if err := os.WriteFile(filepath.Join(job.WorkDir, "main.tf"), []byte(config), 0o644); err != nil {
		return Run{}, err
	}
	e := job.Endpoint
	verb := []string{"apply", "-auto-approve"}
	switch {
	case r.Plan && r.NoChange:
		verb = []string{"plan", "-detailed-exitcode"}
	case r.Plan:
		verb = []string{"plan"}
	}
	args := append(append([]string{"-chdir=" + job.WorkDir}, verb...), "-input=false", "-no-color",
		"-var", "source_dir="+job.Source+"/",
		"-var", "destination="+job.Dest,
		"-var", "tree_id="+job.TreeID,
		"-var", fmt.Sprintf("port=%d", e.Port),
		"-var", "user="+e.User,
		"-var", "private_key_file="+e.KeyFile,
		"-var", "known_hosts_file="+e.KnownHostsFile,
		"-var", "host_key="+e.HostKey,
	)
	if r.NoEstimate {
		args = append(args, "-var", "estimate=false")
	}
	env := terraformEnv(r.CLIConfig)
	if r.DebugLog {
		env = append(env, "TF_LOG=debug", "TF_LOG_PATH="+filepath.Join(job.WorkDir, fmt.Sprintf("debug-%s.log", job.TreeID)))
	}
	if r.PluginUsage != "" {
		if err := os.RemoveAll(r.PluginUsage); err != nil {
			return Run{}, err
		}
		if err := os.MkdirAll(r.PluginUsage, 0o755); err != nil {
			return Run{}, err
		}
		env = append(env, pluginUsageEnv+"="+r.PluginUsage)
	}
	if r.ProfileDir != "" {
		env = append(env, "BENCH_PROVIDER_PROFILE_DIR="+r.ProfileDir)
	}
	u, stdout, err := r.Launch.Run(ctx, job.UsageFile, nil, env, r.Terraform, args...)
	_ = os.WriteFile(filepath.Join(job.WorkDir, fmt.Sprintf("%s-%s.log", verb[0], job.TreeID)), stdout, 0o644)
	var plugins []Usage
	if err == nil && r.PluginUsage != "" {
		if plugins, err = readPluginUsage(r.PluginUsage); err != nil {
			return Run{}, err
		}
	}
	if r.Plan && r.NoChange {
		if err != nil {
			return Run{}, fmt.Errorf("terraform plan -detailed-exitcode (exit 2: it found changes): %w: %s", err, lastLines(string(stdout), 30))
		}
		if !bytes.Contains(stdout, []byte("No changes.")) {
			return Run{}, fmt.Errorf("terraform plan: no \"No changes.\" in its output: %s", lastLines(string(stdout), 10))
		}
		return Run{Client: u, Plugins: plugins, Note: "terraform plan: No changes."}, nil
	}
	if r.Plan {
		run, err := planRun(u, stdout, err, r.NoEstimate)
		run.Plugins = plugins
		return run, err
	}
	if err != nil {
		return Run{}, fmt.Errorf("terraform apply (%s): %w", r.Kind, err)
	}
	if !bytes.Contains(stdout, []byte("Apply complete!")) {
		return Run{}, fmt.Errorf("terraform apply (%s): no \"Apply complete!\" in its output: %s", r.Kind, lastLines(string(stdout), 10))
	}
	run := Run{Client: u, Plugins: plugins}
	if r.Kind == TFRsyncDirectory {
		ls, err := lastSync(filepath.Join(job.WorkDir, "terraform.tfstate"))
		if err != nil {
			return Run{}, err
		}
		run.Sent, run.Literal, run.Matched, run.Files = ls.BytesSent, ls.LiteralBytes, ls.MatchedBytes, int(ls.FilesTransferred)
		run.Note = "rsync_directory last_sync: " + ls.String()
	} else {
		run.Note = "terraform_data + provisioner \"file\" (re-copies the whole tree)"
	}
	return run, nil
}

// terraformEnv is the environment of every terraform run: our CLI config,
// no checkpoint (update check) calls, no prompts, and nothing inherited
// that changes what terraform does (TF_CLI_ARGS*, TF_LOG, another CLI
// config, an ssh-agent).
func terraformEnv(cliConfig string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TF_") || name == "CHECKPOINT_DISABLE" || name == "SSH_AUTH_SOCK" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1", "TF_INPUT=0", "TF_IN_AUTOMATION=1")
}

// lastSyncStats is rsync_directory's last_sync attribute.
type lastSyncStats struct {
	FilesTransferred int64 `json:"files_transferred"`
	BytesSent        int64 `json:"bytes_sent"`
	BytesReceived    int64 `json:"bytes_received"`
	LiteralBytes     int64 `json:"literal_bytes"`
	MatchedBytes     int64 `json:"matched_bytes"`
}

func (s lastSyncStats) String() string {
	return fmt.Sprintf("%d files, literal %s, matched %s, sent %s",
		s.FilesTransferred, FormatBytes(s.LiteralBytes), FormatBytes(s.MatchedBytes), FormatBytes(s.BytesSent))
}

// lastSync reads last_sync of the one rsync_directory in a state file.
func lastSync(stateFile string) (lastSyncStats, error) {
	b, err := os.ReadFile(stateFile)
	if err != nil {
		return lastSyncStats{}, fmt.Errorf("terraform state: %w", err)
	}
	var st struct {
		Resources []struct {
			Type      string `json:"type"`
			Instances []struct {
				Attributes struct {
					LastSync *lastSyncStats `json:"last_sync"`
				} `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return lastSyncStats{}, fmt.Errorf("terraform state %s: %w", stateFile, err)
	}
	for _, r := range st.Resources {
		if r.Type == TFRsyncDirectory && len(r.Instances) == 1 && r.Instances[0].Attributes.LastSync != nil {
			return *r.Instances[0].Attributes.LastSync, nil
		}
	}
	return lastSyncStats{}, fmt.Errorf("terraform state %s: no rsync_directory with last_sync", stateFile)
}

// terraformSetup is what the terraform scenarios share: the provider
// binary, built once per suite run from this repository, and a CLI
// config that points Terraform at it.
type terraformSetup struct {
	Terraform string // resolved binary
	Version   string // first line of terraform version
	CLIConfig string
	Err       error // why the terraform scenarios cannot run
}

// setupTerraform builds the provider from the module in src into dir,
// puts pluginWrapper in front of it, and writes the CLI config there
// (profile: the provider with profiling, internal/cmd/bench/profprovider): dev_overrides for our provider, and as the
// only installation method an empty filesystem mirror, so that nothing
// can reach the network (nothing needs to: terraform_data is built in).
func setupTerraform(ctx context.Context, dir, terraformBin, src string, launch Launcher, profile bool) *terraformSetup {
	st := &terraformSetup{}
	bin, err := exec.LookPath(terraformBin)
	if err != nil {
		st.Err = fmt.Errorf("terraform not found (-terraform %s): install it, e.g. go install github.com/hashicorp/terraform@v1.11.4: %w", terraformBin, err)
		return st
	}
	st.Terraform = bin
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		st.Err = fmt.Errorf("terraform version: %w", err)
		return st
	}
	st.Version = firstLine(string(out))
	plugins, mirror := filepath.Join(dir, "plugins"), filepath.Join(dir, "empty-mirror")
	for _, d := range []string{plugins, mirror} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			st.Err = err
			return st
		}
	}
	providerBin := filepath.Join(dir, "provider", "terraform-provider-rsync")
	pkg := "."
	if profile {
		pkg = "./internal/cmd/bench/profprovider"
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", providerBin, pkg)
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		st.Err = fmt.Errorf("building the provider in %s: %w: %s", src, err, lastLines(string(out), 10))
		return st
	}
	if err := os.WriteFile(filepath.Join(plugins, "terraform-provider-rsync"), []byte(pluginWrapper(launch, providerBin)), 0o755); err != nil {
		st.Err = err
		return st
	}
	st.CLIConfig = filepath.Join(dir, "terraformrc")
	cfg := fmt.Sprintf(`disable_checkpoint = true

provider_installation {
  dev_overrides {
    %q = %q
  }
  filesystem_mirror {
    path = %q
  }
}
`, ProviderAddress, plugins, mirror)
	if err := os.WriteFile(st.CLIConfig, []byte(cfg), 0o644); err != nil {
		st.Err = err
	}
	return st
}

// replaceWithEdits turns a hard-linked copy of the web root into the
// edited tree: each edited file (and the big file) becomes a hard link to
// the edited tree's version, and directory times go back to the web
// root's (an in-place edit leaves its directory's time alone).
func replaceWithEdits(src string, web *Tree, edited *Mutation) error {
	files := append([]string{}, edited.Edited...)
	if edited.BigLen > 0 {
		files = append(files, web.Big)
	}
	for _, rel := range files {
		p := filepath.Join(src, filepath.FromSlash(rel))
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("edit the source: %w", err)
		}
		if err := os.Link(filepath.Join(edited.Root, filepath.FromSlash(rel)), p); err != nil {
			return fmt.Errorf("edit the source: %w", err)
		}
	}
	return copyDirTimes(web.Root, src)
}

// pluginUsageEnv names the directory where pluginWrapper has each provider
// process record its usage; unset, the wrapper only execs the provider.
const pluginUsageEnv = "BENCH_PLUGIN_USAGE_DIR"

// pluginWrapper is the script dev_overrides points terraform at: it execs
// the provider, through the launcher when pluginUsageEnv is set, so that
// each provider process terraform starts (schema, plan walk, apply walk)
// leaves its own record: terraform's rusage folds the plugins into
// terraform's own, whose peak RSS (~75 MB) hides theirs. Terraform talks
// to the plugin over the stdio the launcher passes on unchanged.
func pluginWrapper(launch Launcher, provider string) string {
	quoted := make([]string, len(launch.Argv))
	for i, a := range launch.Argv {
		quoted[i] = shellQuote(a)
	}
	return fmt.Sprintf(`#!/bin/sh
if [ -n "$%[1]s" ]; then
  exec %[2]s "$%[1]s/provider-$$.json" %[3]s "$@"
fi
exec %[3]s "$@"
`, pluginUsageEnv, strings.Join(quoted, " "), shellQuote(provider))
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// readPluginUsage reads the records pluginWrapper left in dir, one per
// provider process; terraform has reaped them all when it exits.
func readPluginUsage(dir string) ([]Usage, error) {
	names, err := filepath.Glob(filepath.Join(dir, "provider-*.json"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no provider usage records in %s: terraform started no provider through the wrapper", dir)
	}
	out := make([]Usage, 0, len(names))
	for _, n := range names {
		u, err := readUsage(n, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, nil
}
