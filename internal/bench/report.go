package bench

import (
	"fmt"
	"strings"
	"time"
)

// Report is one run of the suite.
type Report struct {
	Machine   Machine
	Config    Config
	Command   string // how the suite was invoked
	Started   time.Time
	Took      time.Duration
	DstFS     string // the file system the destinations were on
	LoadStart string // /proc/loadavg's 1-minute figure
	LoadEnd   string
	WebBytes  int64
	TinyBytes int64
	// HashBigBytes and HashBigFiles describe the hash-1g tree.
	HashBigBytes int64
	HashBigFiles int
	Terraform    string // terraform version, when the terraform scenarios ran
	Scenarios    []ScenarioResult
}

// Failures are the reasons to exit non-zero: failed scenarios and
// exceeded thresholds (the measured gates only at the size they were
// measured at, see FullSize).
func (r *Report) Failures() []string {
	var out []string
	for _, s := range r.Scenarios {
		if s.Err != nil {
			out = append(out, fmt.Sprintf("%s: scenario failed: %v", s.Name, s.Err))
		}
	}
	for _, v := range Evaluate(Thresholds, r.Scenarios) {
		if !v.OK && (r.Config.FullSize() || !v.measured()) {
			out = append(out, v.String())
		}
	}
	return out
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m, c := r.Machine, r.Config

	w("# Benchmarks: our engine vs the rsync command line\n\n")
	w("Our engine and its peer — the rsync CLI (OpenSSH client) for pushes, drift checks and listings, Terraform's `file` provisioner for `terraform apply` — ")
	w("talk to the same throwaway OpenSSH sshd on 127.0.0.1 (stock `rsync --server` on the other end), through the same byte-counting proxy, in the same run, ")
	w("%d round(s) per scenario, alternating which tool goes first; the tables show medians. ", c.Rounds)
	w("**ratio = ours / peer: below 1 we are faster, leaner or send less.**\n\n")
	w("- Run: %s, took %s — `%s`\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Took.Round(time.Second), r.Command)
	w("- Machine: %d CPUs (nproc), %s, %s RAM, %s; load average %s at the start, %s at the end (other work on the machine shows here)\n",
		m.CPUs, m.CPUModel, m.Memory, m.Kernel, r.LoadStart, r.LoadEnd)
	w("- rsync (CLI and server): %s; OpenSSH (client and sshd): %s; Go %s; engine at commit %s\n", m.Rsync, m.OpenSSH, m.Go, m.Commit)
	if r.Terraform != "" {
		w("- Terraform: %s (the provider built from the same commit, used through dev_overrides; no network)\n", r.Terraform)
	}
	if r.WebBytes > 0 {
		w("- Web root: %s files, %s (one %s random file, four more large binaries, the rest text/JS/CSS-like and image-like files in nested directories), seed %d\n",
			count(c.Files), FormatBytes(r.WebBytes), FormatBytes(c.BigSize), c.Seed)
	}
	if r.HashBigBytes > 0 {
		w("- Larger tree for the hash: %s files, %s, the same generator (seed %d)\n", count(r.HashBigFiles), FormatBytes(r.HashBigBytes), c.Seed+3)
	}
	if r.TinyBytes > 0 {
		w("- Tiny tree: %s files, %s in all\n", count(c.TinyFiles), FormatBytes(r.TinyBytes))
	}
	w("- Links: loopback through a byte-counting proxy; WAN: the same proxy throttling to %s. Destinations on %s\n", c.WAN, r.DstFS)
	if c.LoginBashrc {
		w("- The login user's ~/.bashrc runs before every remote command (-login-bashrc)\n\n")
	} else {
		w("- sshd sets SHLVL=2 in every session (`SetEnv`), so bash does not source the login user's ~/.bashrc before each remote command; ")
		w("on this machine root's ~/.bashrc (pyenv init) costs ~100 ms per SSH session, the same for every tool (`-login-bashrc` measures with it)\n\n")
	}

	w("| Scenario | Peer | Wall ours | Wall peer | × | CPU ours | CPU peer | × | Wire ours | Wire peer | × | RSS ours | RSS peer | × | Goals |\n")
	w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	goals := Evaluate(Goals, r.Scenarios)
	for _, s := range r.Scenarios {
		if s.isScale() {
			continue // their own section, writeScaleSection
		}
		if s.Err != nil {
			w("| %s | %s | **FAILED**: %s |||||||||||||\n", s.Title, peerCell(s), oneLine(s.Err.Error()))
			continue
		}
		cell := func(f func(Run) float64, format func(float64) string) (string, string) {
			if len(s.Rsync) == 0 {
				return format(median(s.Ours, f)), "–"
			}
			return format(median(s.Ours, f)), format(median(s.Rsync, f))
		}
		ratio := func(m Metric) string {
			v, ok := s.Value(m)
			if !ok {
				return "–"
			}
			return fmt.Sprintf("%.2f", v)
		}
		secs := func(v float64) string { return FormatDuration(time.Duration(v * float64(time.Second))) }
		bytesOf := func(v float64) string { return FormatBytes(int64(v)) }
		wo, wr := cell(func(x Run) float64 { return x.Client.Wall.Seconds() }, secs)
		co, cr := cell(func(x Run) float64 { return x.Client.CPU().Seconds() }, secs)
		bo, br := "–", "–"
		if s.Op != OpHash {
			bo, br = cell(func(x Run) float64 { return float64(x.Wire()) }, bytesOf)
		}
		ro, rr := rssCell(s.Ours, func(x Run) *Usage { return &x.Client }), "–"
		if len(s.Rsync) > 0 {
			rr = rssCell(s.Rsync, func(x Run) *Usage { return &x.Client })
		}
		w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s.Title, peerCell(s),
			wo, wr, ratio(Wall), co, cr, ratio(CPU), bo, br, ratio(Wire), ro, rr, ratio(RSS), goalCell(goals, s))
	}

	var hashes []ScenarioResult
	for _, s := range r.Scenarios {
		if s.Op == OpHash && s.Err == nil {
			hashes = append(hashes, s)
		}
	}
	if len(hashes) > 0 {
		w("\n## Plan-time local tree hash (no rsync counterpart)\n\n")
		w("What `rsync_directory` does at every plan to compute `source_hash`: `tree.Local(ctx, src, nil, tree.Content, csum.XXH128)` — ")
		w("walk, then hash every file with xxh128 on one worker per CPU — and `Manifest.Hash()`, on a page-cached tree (read once before the first round). ")
		w("Throughput is bytes hashed per second of that call, in the process; wall is the whole child process (start, the call, exit).\n\n")
		w("| Tree | tree.Local | throughput | wall (process) | CPU | RSS |\n|---|--:|--:|--:|--:|--:|\n")
		for _, s := range hashes {
			gbps, _ := s.Value(Throughput)
			w("| %s | %s | **%.2f GB/s** | %s | %s | %s |\n", s.Title,
				FormatDuration(time.Duration(median(s.Ours, func(x Run) float64 { return float64(x.Work) }))), gbps,
				FormatDuration(time.Duration(median(s.Ours, func(x Run) float64 { return float64(x.Client.Wall) }))),
				FormatDuration(time.Duration(median(s.Ours, func(x Run) float64 { return float64(x.Client.CPU()) }))),
				rssCell(s.Ours, func(x Run) *Usage { return &x.Client }))
		}
	}

	if d := findScenario(r.Scenarios, "delta-31b"); d != nil && d.Err == nil {
		w("\n## Delta efficiency (issue 3)\n\n")
		w("%s. The receiver's block length for this file is %s bytes.\n\n", d.Title, count(int(d.BlockLen)))
		w("| | ours | rsync | ratio |\n|---|--:|--:|--:|\n")
		row := func(name string, f func(Run) float64) {
			o, t := median(d.Ours, f), median(d.Rsync, f)
			ratio := "–"
			if t != 0 {
				ratio = fmt.Sprintf("%.3f", o/t)
			}
			w("| %s | %s | %s | %s |\n", name, count(int(o)), count(int(t)), ratio)
		}
		row("literal data (bytes)", func(x Run) float64 { return float64(x.Literal) })
		row("matched data (bytes)", func(x Run) float64 { return float64(x.Matched) })
		row("total bytes sent, as the tool counts (ours: Stats.BytesSent; rsync: --stats \"Total bytes sent\")", func(x Run) float64 { return float64(x.Sent) })
		row("client→server bytes through the proxy (SSH framing included)", func(x Run) float64 { return float64(x.Up) })
		row("server→client bytes through the proxy", func(x Run) float64 { return float64(x.Down) })
		if v, ok := d.Value(LiteralBlocks); ok {
			w("\nOur literal data is %.2f blocks (limit 2).\n", v)
		}
	}

	writePlanSection(w, r.Scenarios)
	writeScaleSection(w, r.Scenarios)

	w("\n## Goals (the issues' Done-when; reported, not gating)\n\n")
	writeVerdicts(&b, goals, "met", "NOT met")
	var unmet []string
	for _, v := range goals {
		if !v.OK && !contains(unmet, v.Scenario) {
			unmet = append(unmet, v.Scenario)
		}
	}
	if len(unmet) > 0 {
		w("\n### What bounds the goals not met\n\n")
		for _, name := range unmet {
			note := Bounds[name]
			if note == "" {
				note = "(no analysis recorded)"
			}
			w("- **%s**: %s\n", name, note)
		}
	}
	w("\n## Regression thresholds (make bench exits non-zero past these)\n\n")
	if !c.FullSize() {
		w("Not at the full size (the defaults of make bench) the measured gates are shown but do not fail the run: they were set from a full-size run, and ratios change with size. The issues' bounds still apply.\n\n")
	}
	writeVerdicts(&b, Evaluate(Thresholds, r.Scenarios), "pass", "FAIL")
	for _, s := range r.Scenarios {
		if s.Err != nil {
			w("- %s: scenario **FAILED**: %s\n", s.Name, oneLine(s.Err.Error()))
		}
	}

	var checks []string
	for _, s := range r.Scenarios {
		if s.Err == nil && s.Checked != "" {
			checks = append(checks, fmt.Sprintf("- %s: %s", s.Name, s.Checked))
		}
	}
	if len(checks) > 0 {
		w("\n## What every run was checked for\n\n")
		w("Besides the pushes' check that the destination mirrors the source:\n\n%s\n", strings.Join(checks, "\n"))
	}

	w("\n## Details\n\n")
	w("| Scenario | remote rsync wall (ours / peer) | remote rsync CPU (ours / peer) | remote rsync peak RSS | bytes sent by tool (ours / peer) | wire up / down, ours | wire up / down, peer | literal data (ours / peer) | files sent (ours / peer) | SSH connections (ours / peer) |\n")
	w("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.Scenarios {
		if s.Err != nil || len(s.Rsync) == 0 {
			continue
		}
		med := func(runs []Run, f func(Run) float64) int64 { return int64(median(runs, f)) }
		srvCPU := func(runs []Run) string {
			if runs[0].Server == nil {
				return "–"
			}
			return FormatDuration(time.Duration(med(runs, func(x Run) float64 { return float64(x.Server.CPU()) })))
		}
		srvWall := func(runs []Run) string {
			if runs[0].Server == nil {
				return "–"
			}
			return FormatDuration(time.Duration(med(runs, func(x Run) float64 { return float64(x.Server.Wall) })))
		}
		srvRSS := func(runs []Run) string {
			if runs[0].Server == nil {
				return "–"
			}
			return rssCell(runs, func(x Run) *Usage { return x.Server })
		}
		pair := func(f func(Run) float64) string {
			return FormatBytes(med(s.Ours, f)) + " / " + FormatBytes(med(s.Rsync, f))
		}
		w("| %s | %s / %s | %s / %s | %s / %s | %s | %s | %s | %s | %d / %d | %d / %d |\n", s.Name,
			srvWall(s.Ours), srvWall(s.Rsync), srvCPU(s.Ours), srvCPU(s.Rsync), srvRSS(s.Ours), srvRSS(s.Rsync),
			pair(func(x Run) float64 { return float64(x.Sent) }),
			FormatBytes(med(s.Ours, func(x Run) float64 { return float64(x.Up) }))+" / "+FormatBytes(med(s.Ours, func(x Run) float64 { return float64(x.Down) })),
			FormatBytes(med(s.Rsync, func(x Run) float64 { return float64(x.Up) }))+" / "+FormatBytes(med(s.Rsync, func(x Run) float64 { return float64(x.Down) })),
			pair(func(x Run) float64 { return float64(x.Literal) }),
			med(s.Ours, func(x Run) float64 { return float64(x.Files) }), med(s.Rsync, func(x Run) float64 { return float64(x.Files) }),
			med(s.Ours, func(x Run) float64 { return float64(x.Conns) }), med(s.Rsync, func(x Run) float64 { return float64(x.Conns) }))
	}

	w("\n### SSH as negotiated (read off the KEXINIT packets in the proxy)\n\n")
	if s := firstGood(r.Scenarios); s != nil {
		w("- ours (%s): %s\n", s.Ours[0].SSH.Client, s.Ours[0].SSH.Summary())
		w("- rsync CLI (%s): %s\n", s.Rsync[0].SSH.Client, s.Rsync[0].SSH.Summary())
		w("- server: %s\n", s.Ours[0].SSH.Server)
		if s.Ours[0].Note != "" {
			w("- our engine negotiated: %s (first round of %s)\n", s.Ours[0].Note, s.Name)
		}
	}
	if s := firstOp(r.Scenarios, OpApply); s != nil {
		w("- terraform's file provisioner (%s): %s\n", s.Rsync[0].SSH.Client, s.Rsync[0].SSH.Summary())
	}

	w("\n### How it is measured\n\n")
	w("- Every measured process (each tool's client process, and the remote `rsync --server` of both) starts through the same small launcher, ")
	w("which records the kernel's rusage of it; see internal/bench/rusage. Peak RSS is never reported below the launcher's own RSS when it started the process ")
	w("(Go starts children with vfork, and the kernel folds the launcher's peak into the child's); that floor was %s here, and a value at the floor shows as \"≤\".\n", FormatBytes(maxFloor(r.Scenarios)))
	w("- **Wall**: from starting the tool's process to reaping it (process start, SSH handshake and the work; ")
	w("for our engine a child process — the small enginechild binary beside the bench binary (the engine without the harness), else and for profiled runs the bench binary itself — that dials with x/crypto/ssh and runs the engine's API, as below).\n")
	w("- **CPU** and **RSS**: the kernel's rusage of that process from wait4, which includes the descendants it reaped itself: ")
	w("for the rsync CLI that is rsync plus its `ssh` child (SSH encryption happens there), ")
	w("for our engine the one process that does both, for `terraform apply` terraform plus the provider plugin processes it started. RSS is the peak resident set of the largest single process ")
	w("(the kernel keeps a maximum over rsync and ssh, not a sum).\n")
	w("- **Wire**: bytes through the proxy in front of sshd, both directions, SSH handshake and framing included — identical for both tools.\n")
	if c.ServerUsage {
		w("- **Remote rsync**: both tools start the server as `LAUNCHER FILE rsync --server ...` (their rsync path), ")
		w("so the server rsync's CPU time and peak RSS (its receiver child included) are recorded — one extra short-lived process on the server side of both tools alike ")
		w("(not in the terraform scenarios: the provider runs the remote rsync several times per apply, and the file provisioner runs scp).\n")
	}
	w("- Destinations are reset before every run (a new empty directory, or restored to the base tree by a local rsync) and `sync`ed; ")
	w("on disk nothing is deleted until the suite ends (on ext4, creating files soon after many were deleted is slower, which would charge one run for the last one's cleanup); ")
	w("after every push the destination is checked against the source (types, permissions, sizes, mtimes; content of the edited and large files).\n")
	w("- Pushes: `rsync -a --delete --stats -e \"ssh -p PORT -i KEY -o UserKnownHostsFile=F -o StrictHostKeyChecking=yes -o BatchMode=yes\" SRC/ USER@127.0.0.1:DST/`")
	w(" (`--stats` only prints the client's counters) vs `rsync.Push` with `Options{Delete: true}`.\n")
	w("- Drift checks: `rsync -ac -n --delete -i -e ... SRC/ USER@127.0.0.1:DST/` (`-i` prints the paths, which are compared) vs ")
	w("`tree.Local(SRC/, xxh128)` on one worker per CPU, started before the dial and running while `rsync.List(DST/, Options{Checksum: true})` has the server hash its side, then `tree.Diff(local, remote, delete=true)`. ")
	w("The destination is a synced copy of the web root, and a copy that drifted: files whose bytes changed with size and mtime kept (only a content check sees them), ")
	w("a permission change, a missing file, an extra file and an extra directory; directory times are the source's, so neither tool reports a directory.\n")
	w("- Manifest: `rsync -r -c --list-only -e ... USER@127.0.0.1:DST/` vs `rsync.List(DST/, Options{Checksum: true})` of the synced copy.\n")
	if r.Terraform != "" {
		w("- Terraform: per round and tool a fresh working directory and state, a source directory of hard links to the web root, and an empty destination; ")
		w("`terraform apply -auto-approve -input=false` (no init: our provider comes through dev_overrides, terraform_data and the file provisioner are built in; ")
		w("TF_CLI_CONFIG_FILE is the bench's own, whose only other installation method is an empty filesystem mirror, CHECKPOINT_DISABLE=1), ")
		w("then the 1%% edit made in that source (edited files swapped in, directory times kept) and `terraform apply` again. ")
		w("Ours: `rsync_directory` with `delete = true` (refresh lists the destination with checksums, plan hashes the source, apply pushes). ")
		w("Peer: `terraform_data` with `triggers_replace = var.tree_id` (the bench passes the tree generator's key; a real configuration would have to hash the tree itself, which is not charged here) ")
		w("and `provisioner \"file\"` with a `connection` block (the throwaway sshd's key, `host_key` pinned, `agent = false`): Terraform's built-in scp client, which copies every file on every change ")
		w("and neither preserves permissions and times nor deletes; its destination is checked for the same files, sizes and content.\n")
	}
	if ranFleet(r.Scenarios) {
		writeFleetMethod(w, c)
	}

	w("\n<details><summary>Every round</summary>\n\n")
	w("| Scenario | round | tool | wall | user | sys | RSS | wire up | wire down | sent (tool) | literal | remote CPU | note |\n")
	w("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, s := range r.Scenarios {
		peerName := "rsync"
		switch {
		case s.isScale():
		case s.Op == OpApply:
			peerName = "file"
		case s.Op == OpPlan:
			peerName = "no-estimate"
		}
		for i := range max(len(s.Ours), len(s.Rsync)) {
			for _, set := range []struct {
				name string
				runs []Run
			}{{"ours", s.Ours}, {peerName, s.Rsync}} {
				if i >= len(set.runs) {
					continue
				}
				x := set.runs[i]
				srv := "–"
				if x.Server != nil {
					srv = FormatDuration(x.Server.CPU())
				}
				w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s.Name, i+1, set.name,
					FormatDuration(x.Client.Wall), FormatDuration(x.Client.User), FormatDuration(x.Client.Sys), FormatBytes(x.Client.MaxRSS),
					FormatBytes(x.Up), FormatBytes(x.Down), FormatBytes(x.Sent), FormatBytes(x.Literal), srv, oneLine(x.Note))
			}
		}
	}
	w("\n</details>\n")
	return b.String()
}

// peerCell names a scenario's peer for the table.
func peerCell(s ScenarioResult) string {
	if s.Peer == "" {
		return "(none)"
	}
	return "`" + s.Peer + "`"
}

func firstOp(list []ScenarioResult, op Op) *ScenarioResult {
	for i := range list {
		if list[i].Op == op && list[i].Err == nil && len(list[i].Rsync) > 0 {
			return &list[i]
		}
	}
	return nil
}

// rssCell is the median peak RSS of runs, marked "≤" when a run's peak was
// at its launcher's floor (the true peak may be lower).
func rssCell(runs []Run, u func(Run) *Usage) string {
	atFloor := false
	for _, x := range runs {
		if v := u(x); v != nil && v.MaxRSS <= v.Floor {
			atFloor = true
		}
	}
	s := FormatBytes(int64(median(runs, func(x Run) float64 { return float64(u(x).MaxRSS) })))
	if atFloor {
		s = "≤ " + s
	}
	return s
}

func maxFloor(list []ScenarioResult) int64 {
	var f int64
	for _, s := range list {
		for _, runs := range [][]Run{s.Ours, s.Rsync} {
			for _, x := range runs {
				f = max(f, x.Client.Floor)
				if x.Server != nil {
					f = max(f, x.Server.Floor)
				}
			}
		}
	}
	return f
}

func goalCell(goals []Verdict, s ScenarioResult) string {
	var parts []string
	for _, v := range goals {
		if v.Scenario != s.Name {
			continue
		}
		op, bad := "≤", ">"
		if v.Metric.atLeast() {
			op, bad = "≥", "<"
		}
		if v.OK {
			parts = append(parts, fmt.Sprintf("✓ %s %s %s", v.Metric, op, formatValue(v.Metric, v.Max)))
		} else {
			parts = append(parts, fmt.Sprintf("✗ **%s %s %s %s**", v.Metric, formatValue(v.Metric, v.Value), bad, formatValue(v.Metric, v.Max)))
		}
	}
	if s.Op == OpHash {
		if v, ok := s.Value(Throughput); ok {
			parts = append(parts, fmt.Sprintf("%.2f GB/s (no peer)", v))
		}
	}
	return strings.Join(parts, "; ")
}

func writeVerdicts(b *strings.Builder, vs []Verdict, okWord, failWord string) {
	if len(vs) == 0 {
		b.WriteString("- (nothing measured)\n")
		return
	}
	for _, v := range vs {
		word := okWord
		if !v.OK {
			word = "**" + failWord + "**"
		}
		what := string(v.Metric)
		if v.Metric.isRatio() {
			what += " ratio"
		}
		fmt.Fprintf(b, "- %s — %s: %s %s (limit %s; %s)\n", word, v.Scenario, what, formatValue(v.Metric, v.Value), formatValue(v.Metric, v.Max), v.Source)
	}
}

func findScenario(list []ScenarioResult, name string) *ScenarioResult {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

func firstGood(list []ScenarioResult) *ScenarioResult {
	for i := range list {
		if list[i].Err == nil && list[i].Op != OpApply && !list[i].isScale() && len(list[i].Ours) > 0 && len(list[i].Rsync) > 0 {
			return &list[i]
		}
	}
	return nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
