package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// The plan scenarios (issue 18) time `terraform plan` of rsync_directory
// with the transfer estimate (ours) against the same plan with
// estimate_transfer = false (the reference): what the estimate adds to a
// plan. tf-plan-initial plans the create of the web root (every file is
// new and counted whole: the estimate needs no server work);
// tf-plan-1pct plans the update after the 1% edit (the server computes
// block signatures of the 100 edited files and the big file, and the
// plan matches them).

// transferBytesLine finds pending.transfer_bytes in terraform's plan
// output ("transfer_bytes = 123" or "transfer_bytes = 0 -> 123").
var transferBytesLine = regexp.MustCompile(`transfer_bytes\s*=\s*(?:\S+\s*->\s*)?(\S+)`)

// runPlan runs a plan scenario: per round and variant (alternating which
// goes first), a fresh working directory, source (hard links to the web
// root) and empty destination; for tf-plan-1pct an unmeasured apply of
// the web root and the 1% edit; then the measured plan.
func (s *suite) runPlan(ctx context.Context, sc scenario, dir string) ScenarioResult {
	res := ScenarioResult{Name: sc.name, Title: sc.title, Op: OpPlan, Peer: sc.peer, Link: sc.proxy.Link(),
		Checked: "every plan proposes the change (create or update); with the estimate it shows pending.transfer_bytes, without it none"}
	if s.tf == nil || s.tf.Err != nil {
		res.Err = errors.New("terraform is not set up")
		if s.tf != nil {
			res.Err = s.tf.Err
		}
		return res
	}
	tf := func(plan, noEstimate bool) TerraformRunner {
		return TerraformRunner{Kind: TFRsyncDirectory, Terraform: s.tf.Terraform, CLIConfig: s.tf.CLIConfig, Launch: s.cfg.Launch,
			DebugLog: s.cfg.TerraformLog, Plan: plan, NoEstimate: noEstimate}
	}
	runners := []TerraformRunner{tf(true, false), tf(true, true)}
	for round := range s.cfg.Rounds {
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			r := runners[i]
			base := filepath.Join(dir, fmt.Sprintf("%d-%s", round, r.Name()))
			work, src, dst := filepath.Join(base, "tf"), filepath.Join(base, "src"), filepath.Join(base, "dst")
			if err := linkTree(ctx, sc.web.Root, src); err != nil {
				res.Err = err
				return res
			}
			if err := copyDirTimes(sc.web.Root, src); err != nil {
				res.Err = err
				return res
			}
			if err := resetDest(ctx, s.cfg.Rsync, "", dst); err != nil {
				res.Err = err
				return res
			}
			job := Job{Op: OpPlan, Source: src, Dest: dst, Delete: true, Endpoint: s.endpoint(sc.proxy), WorkDir: work,
				TreeID: fmt.Sprintf("web-%d", s.cfg.Seed), UsageFile: filepath.Join(base, "usage-plan.json")}
			if sc.edited != nil {
				apply := job
				apply.Op, apply.UsageFile = OpApply, filepath.Join(base, "usage-apply.json")
				if _, err := tf(false, r.NoEstimate).Run(ctx, apply); err != nil {
					res.Err = fmt.Errorf("round %d, %s: the apply before the plan: %w", round+1, r.Name(), err)
					return res
				}
				if err := replaceWithEdits(src, sc.web, sc.edited); err != nil {
					res.Err = err
					return res
				}
				syncDisks()
			}
			run, err := s.through(ctx, sc.proxy, func(ctx context.Context) (Run, error) { return r.Run(ctx, job) })
			if err != nil {
				res.Err = fmt.Errorf("round %d, %s: %w", round+1, r.Name(), err)
				return res
			}
			s.logRun(round, sc.name+" "+r.Name(), run)
			if i == 0 {
				res.Ours = append(res.Ours, run)
			} else {
				res.Rsync = append(res.Rsync, run)
			}
		}
	}
	return res
}

// planRun checks a plan's output: a change proposed, and
// pending.transfer_bytes known exactly when the estimate is on.
func planRun(u Usage, stdout []byte, err error, noEstimate bool) (Run, error) {
	if err != nil {
		return Run{}, fmt.Errorf("terraform plan: %w", err)
	}
	if !regexp.MustCompile(`Plan: [1-9][0-9]* to add|Plan: 0 to add, [1-9][0-9]* to change`).Match(stdout) {
		return Run{}, fmt.Errorf("terraform plan proposed no change: %s", lastLines(string(stdout), 10))
	}
	m := transferBytesLine.FindSubmatch(stdout)
	switch {
	case noEstimate && m != nil && string(m[1]) != "null":
		return Run{}, fmt.Errorf("the plan without the estimate shows transfer_bytes = %s", m[1])
	case !noEstimate && (m == nil || string(m[1]) == "null" || string(m[1]) == "(known"):
		return Run{}, fmt.Errorf("the plan shows no transfer_bytes: %s", lastLines(string(stdout), 30))
	}
	run := Run{Client: u, Note: "rsync_directory plan, no estimate"}
	if !noEstimate {
		run.Note = "rsync_directory plan: pending.transfer_bytes = " + string(m[1])
	}
	return run, nil
}

// writePlanSection reports the plan scenarios: the plan's wall time with
// the transfer estimate and without it, and what the estimate said.
func writePlanSection(w func(string, ...any), list []ScenarioResult) {
	var plans []ScenarioResult
	for _, s := range list {
		if s.Op == OpPlan && !s.isScale() && s.Err == nil && len(s.Ours) > 0 && len(s.Rsync) > 0 {
			plans = append(plans, s)
		}
	}
	if len(plans) == 0 {
		return
	}
	w("\n## Plan time with and without the transfer estimate\n\n")
	w("`terraform plan` of one `rsync_directory` (`delete = true`, checksum drift detection), with `pending.transfer_bytes` estimated ")
	w("(the default) and with `estimate_transfer = false`. Per round a fresh working directory, state, source (hard links to the web root) and destination; ")
	w("for the update, an unmeasured apply of the web root and the 1%% edit first. Wall and CPU are terraform and the provider processes it started; ")
	w("the plan includes refresh (the server lists the destination with checksums) and the source hash. The estimate of a create counts new files ")
	w("whole and asks the server nothing; that of the update has the server compute block signatures of the changed files only ")
	w("(`--only-write-batch`, nothing written) and matches the local files against them.\n\n")
	w("| Plan | with estimate | without | overhead | CPU with | CPU without | wire with | wire without | transfer_bytes planned |\n|---|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, s := range plans {
		wall := func(runs []Run) float64 { return median(runs, func(x Run) float64 { return x.Client.Wall.Seconds() }) }
		cpu := func(runs []Run) float64 { return median(runs, func(x Run) float64 { return x.Client.CPU().Seconds() }) }
		wire := func(runs []Run) int64 { return int64(median(runs, func(x Run) float64 { return float64(x.Wire()) })) }
		secs := func(v float64) string { return FormatDuration(time.Duration(v * float64(time.Second))) }
		with, without := wall(s.Ours), wall(s.Rsync)
		w("| %s | %s | %s | %+.0f%% (%s) | %s | %s | %s | %s | %s |\n", s.Title, secs(with), secs(without), 100*(with/without-1),
			secs(with-without), secs(cpu(s.Ours)), secs(cpu(s.Rsync)), FormatBytes(wire(s.Ours)), FormatBytes(wire(s.Rsync)),
			oneLine(strings.TrimPrefix(s.Ours[0].Note, "rsync_directory plan: ")))
	}
}
