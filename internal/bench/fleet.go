package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// The fleet scenarios (issue 15): one source of tiny files pushed to many
// destinations on one sshd, the common `for_each` over a server list.
// Ours is one configuration with an rsync_directory per destination
// (for_each, delete = true, checksum drift detection), run by terraform
// at its default parallelism of 10; the peer is the rsync CLI run once per
// destination, 10 at a time (xargs -P 10), doing what refresh does: read
// every file on both sides (-c).
//
//   - fleet-plan: a no-change `terraform plan` against `rsync -ac -n
//     --delete` per destination.
//   - fleet-apply: `terraform apply` after one file of the source was
//     edited against `rsync -ac --delete` per destination.
//
// Each tool has its own source (hard links to the generated tree) and its
// own destinations, set up unmeasured before the first round (terraform:
// an initial apply; the CLI: a local copy); each round edits one file of
// the tool's own source, by writing a new file in its place (never
// through the hard link). Wall and CPU cover terraform and every provider
// process it starts, or xargs and every rsync and ssh it starts; peak RSS
// is the largest single process.

// The fleet scenario names.
const (
	FleetPlan  = "fleet-plan"
	FleetApply = "fleet-apply"
)

// fleetParallel is terraform's default -parallelism, and how many rsync
// CLI runs go at once.
const fleetParallel = 10

// fleetConfig is our side: one rsync_directory per destination.
const fleetConfig = `terraform {
  required_providers {
    rsync = {
      source = "rsyncprovider/rsync"
    }
  }
}

variable "source_dir" { type = string }
variable "destinations" { type = list(string) }
variable "port" { type = number }
variable "user" { type = string }
variable "private_key_file" { type = string }
variable "known_hosts_file" { type = string }

provider "rsync" {
  port             = var.port
  user             = var.user
  private_key_file = var.private_key_file
  known_hosts_file = var.known_hosts_file
}

resource "rsync_directory" "fleet" {
  for_each    = toset(var.destinations)
  source      = var.source_dir
  destination = "${var.user}@127.0.0.1:${each.value}/"
  delete      = true
}
`

// selectedFleet reports whether a fleet scenario is selected.
func selectedFleet(selected func(string) bool) bool {
	return selected(FleetPlan) || selected(FleetApply)
}

// fleetSide is one tool's source, destinations and records.
type fleetSide struct {
	dir, src, work string
	dests          []string
}

func newFleetSide(dir string, n int) fleetSide {
	s := fleetSide{dir: dir, src: filepath.Join(dir, "src"), work: filepath.Join(dir, "tf")}
	for i := range n {
		s.dests = append(s.dests, filepath.Join(dir, fmt.Sprintf("d%02d", i)))
	}
	return s
}

// runFleet runs the fleet scenarios on the tree t, in dir, and returns
// fleet-plan's result and fleet-apply's.
func (s *suite) runFleet(ctx context.Context, t *Tree, dir string) []ScenarioResult {
	p := s.rig.lan
	title := fmt.Sprintf("%d destinations on one sshd, one source of %s tiny files, %d at a time", s.cfg.FleetDests, count(len(t.Files)), fleetParallel)
	plan := ScenarioResult{Name: FleetPlan, Op: OpFleet, Peer: "rsync -ac -n --delete ×" + fmt.Sprint(s.cfg.FleetDests), Link: p.Link(),
		Title:   "fleet: no-change terraform plan, " + title,
		Checked: "every plan found nothing to do (exit 0, \"No changes.\"); every CLI dry run itemized nothing"}
	apply := ScenarioResult{Name: FleetApply, Op: OpFleet, Peer: "rsync -ac --delete ×" + fmt.Sprint(s.cfg.FleetDests), Link: p.Link(),
		Title:   "fleet: terraform apply after a one-file edit, " + title,
		Checked: fmt.Sprintf("each apply changed all %d resources and left every destination equal to the source", s.cfg.FleetDests)}
	fail := func(err error) []ScenarioResult {
		plan.Err, apply.Err = err, err
		return []ScenarioResult{plan, apply}
	}
	if s.tf == nil || s.tf.Err != nil {
		err := errors.New("terraform is not set up")
		if s.tf != nil {
			err = s.tf.Err
		}
		return fail(err)
	}
	ours, cli := newFleetSide(filepath.Join(dir, "ours"), s.cfg.FleetDests), newFleetSide(filepath.Join(dir, "cli"), s.cfg.FleetDests)
	for _, side := range []fleetSide{ours, cli} {
		if err := linkTree(ctx, t.Root, side.src); err != nil {
			return fail(err)
		}
		if err := copyDirTimes(t.Root, side.src); err != nil {
			return fail(err)
		}
	}
	for _, d := range ours.dests {
		if err := resetDest(ctx, s.cfg.Rsync, "", d); err != nil {
			return fail(err)
		}
	}
	for _, d := range cli.dests {
		if err := resetDest(ctx, s.cfg.Rsync, cli.src, d); err != nil {
			return fail(err)
		}
	}
	e := s.endpoint(p)
	if err := s.writeFleetConfig(ours, e); err != nil {
		return fail(err)
	}
	s.logf("  fleet: initial apply of %d resources (unmeasured)", len(ours.dests))
	if _, err := s.fleetTerraform(ctx, ours, filepath.Join(ours.dir, "usage-setup.json"), "apply"); err != nil {
		return fail(fmt.Errorf("the initial apply: %w", err))
	}
	edited := t.Files[0].Path
	for round := range s.cfg.Rounds {
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			var run Run
			var err error
			if i == 0 {
				run, err = s.through(ctx, p, func(ctx context.Context) (Run, error) {
					return s.fleetTerraform(ctx, ours, filepath.Join(ours.dir, fmt.Sprintf("usage-plan-%d.json", round)), "plan")
				})
			} else {
				run, err = s.through(ctx, p, func(ctx context.Context) (Run, error) {
					return s.fleetCLI(ctx, cli, e, filepath.Join(cli.dir, fmt.Sprintf("usage-plan-%d.json", round)), true)
				})
			}
			if err != nil {
				plan.Err = fmt.Errorf("round %d, %s: %w", round+1, []string{"ours", "rsync"}[i], err)
				return []ScenarioResult{plan, apply}
			}
			s.logRun(round, FleetPlan+" "+[]string{"ours", "rsync"}[i], run)
			if i == 0 {
				plan.Ours = append(plan.Ours, run)
			} else {
				plan.Rsync = append(plan.Rsync, run)
			}
		}
		for _, i := range order {
			side := []fleetSide{ours, cli}[i]
			if err := editFleetFile(filepath.Join(side.src, filepath.FromSlash(edited)), round); err != nil {
				return fail(err)
			}
			usage := filepath.Join(side.dir, fmt.Sprintf("usage-apply-%d.json", round))
			run, err := s.through(ctx, p, func(ctx context.Context) (Run, error) {
				if i == 0 {
					return s.fleetTerraform(ctx, side, usage, "apply")
				}
				return s.fleetCLI(ctx, side, e, usage, false)
			})
			for _, d := range side.dests {
				if err != nil {
					break
				}
				err = CompareTrees(side.src, d, []string{edited})
			}
			if err != nil {
				apply.Err = fmt.Errorf("round %d, %s: %w", round+1, []string{"ours", "rsync"}[i], err)
				return []ScenarioResult{plan, apply}
			}
			s.logRun(round, FleetApply+" "+[]string{"ours", "rsync"}[i], run)
			if i == 0 {
				apply.Ours = append(apply.Ours, run)
			} else {
				apply.Rsync = append(apply.Rsync, run)
			}
		}
	}
	return []ScenarioResult{plan, apply}
}

// writeFleetConfig writes our configuration and its variables.
func (s *suite) writeFleetConfig(side fleetSide, e Endpoint) error {
	if err := os.MkdirAll(side.work, 0o755); err != nil {
		return err
	}
	vars, err := json.Marshal(map[string]any{
		"source_dir": side.src + "/", "destinations": side.dests, "port": e.Port, "user": e.User,
		"private_key_file": e.KeyFile, "known_hosts_file": e.KnownHostsFile,
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(side.work, "terraform.tfvars.json"), vars, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(side.work, "main.tf"), []byte(fleetConfig), 0o644)
}

// fleetApplied finds what terraform apply did.
var fleetApplied = regexp.MustCompile(`Apply complete! Resources: (\d+) added, (\d+) changed, (\d+) destroyed`)

// fleetTerraform runs terraform plan (which must find nothing to do) or
// apply (which must change every resource, or create every one the first
// time) in side's working directory.
func (s *suite) fleetTerraform(ctx context.Context, side fleetSide, usage, verb string) (Run, error) {
	args := []string{"-chdir=" + side.work, verb, "-input=false", "-no-color"}
	if verb == "plan" {
		args = append(args, "-detailed-exitcode")
	} else {
		args = append(args, "-auto-approve")
	}
	base := strings.TrimSuffix(usage, ".json")
	env := terraformEnv(s.tf.CLIConfig)
	if s.cfg.TerraformLog {
		env = append(env, "TF_LOG=debug", "TF_LOG_PATH="+base+".debug.log")
	}
	// Each provider process records its own usage (pluginWrapper), and
	// writes profiles with -provider-profile.
	plugins := base + ".providers"
	if err := os.RemoveAll(plugins); err != nil {
		return Run{}, err
	}
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		return Run{}, err
	}
	env = append(env, pluginUsageEnv+"="+plugins)
	if dir := s.profileDir(base); dir != "" {
		env = append(env, "BENCH_PROVIDER_PROFILE_DIR="+dir)
	}
	u, stdout, err := s.cfg.Launch.Run(ctx, usage, nil, env, s.tf.Terraform, args...)
	_ = os.WriteFile(base+".log", stdout, 0o644)
	if err != nil {
		return Run{}, fmt.Errorf("terraform %s: %w", verb, err)
	}
	run := Run{Client: u}
	if run.Plugins, err = readPluginUsage(plugins); err != nil {
		return Run{}, err
	}
	n := len(side.dests)
	procs := fmt.Sprintf("%d provider processes, the largest's peak RSS %s", len(run.Plugins), FormatBytes(maxPluginRSS(run)))
	if verb == "plan" {
		if !bytes.Contains(stdout, []byte("No changes.")) {
			return Run{}, fmt.Errorf("terraform plan: no \"No changes.\" in its output: %s", lastLines(string(stdout), 10))
		}
		run.Note = fmt.Sprintf("terraform plan: no changes in %d resources; %s", n, procs)
		return run, nil
	}
	m := fleetApplied.FindSubmatch(stdout)
	if m == nil || (string(m[2]) != fmt.Sprint(n) && string(m[1]) != fmt.Sprint(n)) {
		return Run{}, fmt.Errorf("terraform apply: want all %d resources changed: %s", n, lastLines(string(stdout), 10))
	}
	run.Note = string(m[0]) + "; " + procs
	return run, nil
}

// fleetCLI runs the rsync CLI once per destination, fleetParallel at a
// time under one xargs, measured together: rsync -ac -n --delete -i (dry
// run: it must itemize nothing) or rsync -ac --delete.
func (s *suite) fleetCLI(ctx context.Context, side fleetSide, e Endpoint, usage string, dryRun bool) (Run, error) {
	for _, p := range append([]string{e.KeyFile, e.KnownHostsFile, side.src}, side.dests...) {
		if !shellSafe(p) {
			return Run{}, fmt.Errorf("rsync CLI: path %q would need quoting in -e; use a work directory without special characters", p)
		}
	}
	rsh := fmt.Sprintf("%s -p %d -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes",
		s.cfg.SSH, e.Port, e.KeyFile, e.KnownHostsFile)
	args := []string{"-P", fmt.Sprint(fleetParallel), "-I", "{}", s.cfg.Rsync, "-ac", "--delete"}
	if dryRun {
		args = append(args, "-n", "-i")
	}
	args = append(args, "-e", rsh, side.src+"/", fmt.Sprintf("%s@%s:{}/", e.User, e.Host))
	stdin := strings.NewReader(strings.Join(side.dests, "\n") + "\n")
	u, stdout, err := s.cfg.Launch.Run(ctx, usage, stdin, append(os.Environ(), "LC_ALL=C"), "xargs", args...)
	if err != nil {
		return Run{}, fmt.Errorf("rsync CLI ×%d: %w", len(side.dests), err)
	}
	if dryRun && len(bytes.TrimSpace(stdout)) > 0 {
		return Run{}, fmt.Errorf("rsync -ac -n found differences in destinations that should be in sync: %s", lastLines(string(stdout), 10))
	}
	return Run{Client: u, Note: fmt.Sprintf("%d rsync runs, %d at a time", len(side.dests), fleetParallel)}, nil
}

// editFleetFile replaces the file at p by a new one (p is a hard link to
// the generated tree, which must stay as generated) with content that
// differs every round.
func editFleetFile(p string, round int) error {
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("edit the source: %w", err)
	}
	content := fmt.Sprintf("fleet edit, round %d, %s\n", round+1, time.Now().UTC().Format(time.RFC3339Nano))
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		return fmt.Errorf("edit the source: %w", err)
	}
	return nil
}

// ranFleet reports whether a fleet scenario is in the report.
func ranFleet(list []ScenarioResult) bool {
	for _, s := range list {
		if s.Op == OpFleet {
			return true
		}
	}
	return false
}

// writeFleetMethod is the report's note on how the fleet scenarios run.
func writeFleetMethod(w func(string, ...any), c Config) {
	w("- Fleet (issue 15): one source of %s tiny files (100 per directory), %d destinations on the same sshd. ", count(c.FleetFiles), c.FleetDests)
	w("Ours: one configuration, `rsync_directory` with `for_each` over the destinations (`delete = true`, checksum drift detection, the transfer estimate on), ")
	w("terraform at its default parallelism of %d; set up once by an unmeasured apply. Peer: `xargs -P %d` running the rsync CLI once per destination, ", fleetParallel, fleetParallel)
	w("its destinations set up by a local copy. Each tool has its own source (hard links to the generated tree) and destinations. ")
	w("fleet-plan: a no-change `terraform plan -detailed-exitcode` (must exit 0) vs `rsync -ac -n --delete -i` per destination (must itemize nothing); ")
	w("fleet-apply: one file of the tool's source replaced by new content, then `terraform apply` (must change every resource) vs `rsync -ac --delete` per destination; ")
	w("every destination is then compared with the source. Both sides read every file (refresh has the server checksum each destination; -c reads both ends). ")
	w("Wall, CPU and peak RSS cover terraform and every provider process it starts, or xargs with every rsync and ssh; RSS is the largest single process ")
	w("(terraform's own, for ours; each round's note gives the largest provider process's, recorded by pluginWrapper). The wire gate does not apply: the apply reads each destination in refresh and then pushes, two file lists to rsync -ac's one.\n")
}
