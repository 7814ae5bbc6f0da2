package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The scale scenarios (issue 15) take a tree of tiny files (the tiny
// generator: 0-1023 bytes each, 100 per directory) through terraform at
// several sizes, against the rsync CLI on the same sshd in the same run.
// Per round and tool, a fresh working directory and an empty destination:
//
//   - scale-apply-N: ours `terraform apply` of one rsync_directory
//     (delete = true), the peer `rsync -a --delete SRC/ host:DST/`;
//   - scale-plan-N: right after, with nothing changed, ours `terraform
//     plan -detailed-exitcode` (refresh lists the destination with
//     checksums, the plan hashes the source; exit 0 required), the peer
//     `rsync -ac -n --delete -i` (which must itemize nothing);
//   - scale-edit-N: then, with 1% of the destination's files edited on
//     the server (a byte appended to every 100th), ours `terraform plan`
//     (which must propose the change and estimate it), the peer the same
//     `rsync -ac -n --delete -i` (which must itemize exactly those).
//
// Besides terraform's own usage (which includes its plugins, and whose
// peak RSS is terraform's ~75 MB), every provider process terraform starts
// records its own (pluginWrapper): the issue bounds how the provider's
// peak RSS grows with the tree against how rsync's does.

// ScaleScenario selects the scale scenarios (every size in
// Config.ScaleFiles).
const ScaleScenario = "scale"

// scaleName is the scenario name of step ("apply", "plan" or "edit") at n files:
// scale-apply-300k.
func scaleName(step string, n int) string {
	return "scale-" + step + "-" + shortCount(n)
}

// shortCount writes 1000 as 1k and 1000000 as 1m (other counts in full).
func shortCount(n int) string {
	switch {
	case n >= 1e6 && n%1e6 == 0:
		return fmt.Sprintf("%dm", n/1e6)
	case n >= 1e3 && n%1e3 == 0:
		return fmt.Sprintf("%dk", n/1e3)
	}
	return fmt.Sprint(n)
}

// runScale runs the scale scenarios for the trees in order (smallest
// first: each larger size's results carry the smallest's as their
// baseline, for the RSS growth).
func (s *suite) runScale(ctx context.Context, scaleTrees []*Tree, dir string) []ScenarioResult {
	var out []ScenarioResult
	var base []*ScenarioResult
	for _, t := range scaleTrees {
		n := len(t.Files)
		res := s.runScaleSize(ctx, t, filepath.Join(dir, shortCount(n)))
		for i := range res {
			if res[i].Err != nil {
				s.logf("scenario %s FAILED: %v", res[i].Name, res[i].Err)
			}
		}
		first := base == nil
		for i := range res {
			if first {
				base = append(base, &res[i])
			} else {
				res[i].Baseline = base[i]
			}
		}
		out = append(out, res...)
	}
	return out
}

// scaleEditEvery: the edit step appends a byte to every scaleEditEvery-th
// file of the destination (1%).
const scaleEditEvery = 100

// editDest appends a byte to every scaleEditEvery-th file of t in dst,
// as an edit on the server would, and returns how many it edited.
func editDest(t *Tree, dst string) (int, error) {
	n := 0
	for i := 0; i < len(t.Files); i += scaleEditEvery {
		f, err := os.OpenFile(filepath.Join(dst, filepath.FromSlash(t.Files[i].Path)), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return n, err
		}
		_, err = f.WriteString("+")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// runScaleSize runs the steps at one size.
func (s *suite) runScaleSize(ctx context.Context, t *Tree, dir string) []ScenarioResult {
	n := len(t.Files)
	apply := ScenarioResult{Name: scaleName("apply", n), Op: OpApply, Peer: peerPush, Link: s.rig.lan.Link(),
		Title:   fmt.Sprintf("terraform apply, initial: %s tiny files (%s, 100 per directory), empty destination", count(n), FormatBytes(t.Bytes)),
		Checked: "after each apply or push the destination mirrors the source (types, permissions, sizes, mtimes)"}
	plan := ScenarioResult{Name: scaleName("plan", n), Op: OpPlan, Peer: peerDrift, Link: s.rig.lan.Link(),
		Title:   fmt.Sprintf("terraform plan, nothing changed: %s tiny files", count(n)),
		Checked: "every plan exited 0 with \"No changes.\" (-detailed-exitcode); rsync -ac -n --delete -i itemized nothing"}
	edit := ScenarioResult{Name: scaleName("edit", n), Op: OpPlan, Peer: peerDrift, Link: s.rig.lan.Link(),
		Title:   fmt.Sprintf("terraform plan, 1%% of the files edited on the server: %s tiny files", count(n)),
		Checked: "every plan proposed a change and estimated it; rsync -ac -n --delete -i itemized exactly the edited files"}
	steps := []*ScenarioResult{&apply, &plan, &edit}
	results := func() []ScenarioResult { return []ScenarioResult{apply, plan, edit} }
	fail := func(err error) []ScenarioResult {
		for _, st := range steps {
			if st.Err == nil {
				st.Err = err
			}
		}
		return results()
	}
	if s.tf == nil || s.tf.Err != nil {
		err := errors.New("terraform is not set up")
		if s.tf != nil {
			err = s.tf.Err
		}
		return fail(err)
	}
	if err := warmTree(t.Root); err != nil {
		return fail(err)
	}
	tf := func(step int, usage string) TerraformRunner {
		return TerraformRunner{Kind: TFRsyncDirectory, Terraform: s.tf.Terraform, CLIConfig: s.tf.CLIConfig, Launch: s.cfg.Launch,
			DebugLog: s.cfg.TerraformLog, Plan: step > 0, NoChange: step == 1, PluginUsage: usage, ProfileDir: s.profileDir(usage)}
	}
	cli := CLIRunner{Rsync: s.cfg.Rsync, SSH: s.cfg.SSH, Launch: s.cfg.Launch}
	endpoint := s.endpoint(s.rig.lan)
	for round := range s.cfg.Rounds {
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			name := [2]string{"ours", "rsync"}[i]
			base := filepath.Join(dir, fmt.Sprintf("%d-%s", round, name))
			work, dst := filepath.Join(base, "tf"), filepath.Join(base, "dst")
			if err := os.MkdirAll(base, 0o755); err != nil {
				return fail(err)
			}
			if err := resetDest(ctx, s.cfg.Rsync, "", dst); err != nil {
				return fail(err)
			}
			job := Job{Source: t.Root, Dest: dst, Delete: true, Endpoint: endpoint, WorkDir: work, TreeID: "scale-" + shortCount(n)}
			var runs [3]Run
			edited := 0
			for step := range 3 {
				job.Op = [3]Op{OpPush, OpDrift, OpDrift}[step]
				job.UsageFile = filepath.Join(base, fmt.Sprintf("usage-%d.json", step))
				if step == 2 {
					var err error
					if edited, err = editDest(t, dst); err != nil {
						return fail(fmt.Errorf("round %d, %s: editing the destination: %w", round+1, name, err))
					}
				}
				var r Runner = cli
				if i == 0 {
					r = tf(step, filepath.Join(base, fmt.Sprintf("plugins-%d", step)))
				}
				run, err := s.through(ctx, s.rig.lan, func(ctx context.Context) (Run, error) { return r.Run(ctx, job) })
				switch {
				case err != nil:
				case step == 0:
					err = CompareTrees(t.Root, dst, nil)
				case i == 1 && step == 1 && !run.Changes.Equal(&Changes{}):
					err = fmt.Errorf("rsync -ac -n --delete found changes in a destination just synced: %s", run.Changes)
				case i == 1 && step == 2 && (len(run.Changes.Update) != edited || run.Changes.Count() != edited):
					err = fmt.Errorf("rsync -ac -n --delete found %s, want %d files updated", run.Changes.Summary(), edited)
				}
				if err != nil {
					err = fmt.Errorf("round %d, %s: %w", round+1, name, err)
					if step == 0 {
						apply.Err = err
						return fail(fmt.Errorf("%s failed: %w", apply.Name, err))
					}
					return fail(err)
				}
				runs[step] = run
				s.logRun(round, steps[step].Name+" "+name, run)
				if len(run.Plugins) > 0 {
					p := maxPluginRSS(run)
					s.logf("    provider processes: %d, largest peak RSS %s", len(run.Plugins), FormatBytes(p))
				}
			}
			for step, st := range steps {
				if i == 0 {
					st.Ours = append(st.Ours, runs[step])
				} else {
					st.Rsync = append(st.Rsync, runs[step])
				}
			}
		}
	}
	return results()
}

// maxPluginRSS is the largest peak RSS among the provider processes of a
// terraform run (0 when they were not measured).
func maxPluginRSS(run Run) int64 {
	var m int64
	for _, u := range run.Plugins {
		m = max(m, u.MaxRSS)
	}
	return m
}

// toolRSS is the peak RSS that counts for the scale scenarios: the
// provider's for a terraform run, the CLI's (rsync and its ssh child) for
// the peer.
func toolRSS(run Run) float64 {
	if len(run.Plugins) > 0 {
		return float64(maxPluginRSS(run))
	}
	return float64(run.Client.MaxRSS)
}

// rssGrowth is how much more the provider's peak RSS grew from the
// baseline size to this one than the rsync CLI's did, in MB (10^6 bytes):
// the issue allows 8.
func (r ScenarioResult) rssGrowth() (float64, bool) {
	b := r.Baseline
	if b == nil || b.Err != nil || len(r.Ours) == 0 || len(r.Rsync) == 0 || len(b.Ours) == 0 || len(b.Rsync) == 0 {
		return 0, false
	}
	ours := median(r.Ours, toolRSS) - median(b.Ours, toolRSS)
	theirs := median(r.Rsync, toolRSS) - median(b.Rsync, toolRSS)
	return (ours - theirs) / 1e6, true
}

// isScale reports whether a result is one of the scale scenarios.
func (r ScenarioResult) isScale() bool { return strings.HasPrefix(r.Name, "scale-") }

// writeScaleSection reports the scale scenarios: wall and CPU against the
// rsync CLI, and the provider's peak RSS against rsync's, per size.
func writeScaleSection(w func(string, ...any), list []ScenarioResult) {
	var rows []ScenarioResult
	for _, s := range list {
		if s.isScale() {
			rows = append(rows, s)
		}
	}
	if len(rows) == 0 {
		return
	}
	w("\n## Through terraform at scale (issue 15)\n\n")
	w("Tiny files (0–1023 bytes, 100 per directory, two directory levels), one `rsync_directory` with `delete = true`. ")
	w("Per round and tool a fresh working directory and an empty destination: ours `terraform apply`, then with nothing changed `terraform plan -detailed-exitcode` ")
	w("(refresh has the server list the destination with checksums, the plan hashes the source), then with a byte appended to every 100th file of the destination `terraform plan` ")
	w("(which must propose the change and estimate it); the peer `rsync -a --delete`, then `rsync -ac -n --delete -i` twice (both sides read every file; the second must itemize exactly the edited files). ")
	w("Wall and CPU are terraform and every process it started; **provider RSS** is the largest peak RSS among the provider processes terraform started ")
	w("(each runs under the launcher, see pluginWrapper; terraform's own ~75 MB is not the provider's), against the rsync CLI's (rsync and its ssh child, the larger). ")
	w("Growth: how much more the provider's peak RSS grew than rsync's from the smallest size (the issue allows 8 MB).\n\n")
	w("| Scenario | Wall ours | Wall peer | × | CPU ours | CPU peer | provider RSS (processes) | rsync RSS | growth beyond rsync's |\n")
	w("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range rows {
		if s.Err != nil {
			w("| %s | **FAILED**: %s ||||||||\n", s.Title, oneLine(s.Err.Error()))
			continue
		}
		secs := func(runs []Run, f func(Run) float64) string {
			return FormatDuration(time.Duration(median(runs, f) * float64(time.Second)))
		}
		wall := func(x Run) float64 { return x.Client.Wall.Seconds() }
		cpu := func(x Run) float64 { return x.Client.CPU().Seconds() }
		ratio := "–"
		if v, ok := s.Value(Wall); ok {
			ratio = fmt.Sprintf("%.2f", v)
		}
		growth := "(baseline)"
		if g, ok := s.rssGrowth(); ok {
			growth = fmt.Sprintf("%+.1f MB", g)
		}
		procs := 0
		for _, x := range s.Ours {
			procs = max(procs, len(x.Plugins))
		}
		w("| %s | %s | %s | %s | %s | %s | %s (%d) | %s | %s |\n", s.Title,
			secs(s.Ours, wall), secs(s.Rsync, wall), ratio, secs(s.Ours, cpu), secs(s.Rsync, cpu),
			FormatBytes(int64(median(s.Ours, toolRSS))), procs, FormatBytes(int64(median(s.Rsync, toolRSS))), growth)
	}
}

// scaleSizes names the trees' sizes for a progress line.
func scaleSizes(ts []*Tree) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = count(len(t.Files))
	}
	return out
}

// profileDir is where the provider processes of one terraform run write
// their profiles (-provider-profile), named after its usage directory.
func (s *suite) profileDir(usage string) string {
	if s.cfg.ProviderProfile == "" {
		return ""
	}
	rel, err := filepath.Rel(s.dstRoot, usage)
	if err != nil {
		rel = filepath.Base(usage)
	}
	root, err := filepath.Abs(s.cfg.ProviderProfile)
	if err != nil {
		root = s.cfg.ProviderProfile
	}
	dir := filepath.Join(root, strings.ReplaceAll(rel, string(filepath.Separator), "-"))
	_ = os.MkdirAll(dir, 0o755)
	return dir
}
