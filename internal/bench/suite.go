package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/bench/enginechild"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/delta"
)

// Config is one run of the suite.
type Config struct {
	Work string // trees are kept (and reused) here; "" = a temporary directory
	// DstDir holds the destinations ("" = the work directory). Another
	// file system (e.g. a tmpfs) takes the destination disk out of the
	// numbers: both tools' servers then write to memory.
	DstDir    string
	Seed      uint64
	Files     int   // web root files
	Size      int64 // web root bytes
	BigSize   int64 // the big random file
	EditFrac  float64
	BigEdit   int
	TinyFiles int
	// ScaleFiles are the sizes of the scale scenarios (tiny files through
	// terraform, scale.go), smallest first.
	ScaleFiles []int
	// FleetFiles and FleetDests size the fleet scenarios (fleet.go): one
	// source of FleetFiles tiny files, FleetDests destinations.
	FleetFiles int
	FleetDests int
	HashSize   int64 // the hash-1g tree (0: no such scenario)
	HashFiles  int
	Rounds     int
	// WANApplyRounds caps the rounds of the WAN terraform scenarios, whose
	// four applies per round take ~2 minutes at full size (0: Rounds).
	WANApplyRounds int
	WAN            Link
	Only           []string // scenario names to run; empty = all
	ProfileDir     string   // when set, one extra profiled run of our engine per scenario
	Exe            string   // the bench binary, re-executed for our engine's profiled runs
	EngineChild    string   // the small engine binary our engine runs in ("": Exe)
	Launch         Launcher // starts every measured process
	Rsync          string
	SSH            string
	SSHD           string
	Terraform      string // the terraform binary (name or path)
	// Keep leaves the destinations in place at the end (the next run
	// removes them).
	Keep bool
	// TerraformLog has every terraform run write a debug log into its
	// working directory (under the destinations; see TerraformRunner).
	TerraformLog bool
	// ProviderProfile, when set, has every provider process terraform
	// starts write CPU and peak-heap profiles into this directory (the
	// provider is then built with profiling, see profprovider).
	ProviderProfile string
	// ProviderSrc is the module directory the provider is built from for
	// the terraform scenarios ("" = the current directory).
	ProviderSrc string
	// ServerUsage measures the remote rsync of both tools by making the
	// launcher their rsync path.
	ServerUsage bool
	// LoginBashrc lets bash source the login user's ~/.bashrc before
	// every remote command, as it does by default (see noBashrc).
	LoginBashrc bool
	Log         io.Writer // progress lines
}

// ScenarioNames lists every scenario, in the order they run.
var ScenarioNames = []string{
	"initial", "noop", "edit-1pct", "drift", "drift-changed", "manifest", "tiny-initial", "hash", "hash-1g",
	"tf-initial", "tf-edit-1pct", "wan-initial", "wan-edit-1pct", "wan-tf-initial", "wan-tf-edit-1pct", "delta-31b",
	"tf-plan-initial", "tf-plan-1pct", ScaleScenario, FleetPlan, FleetApply,
}

// ScenarioResult is every round of one scenario.
type ScenarioResult struct {
	Name, Title string
	Op          Op
	Peer        string // what our engine is compared with ("" = nothing)
	Link        Link
	Ours, Rsync []Run  // Rsync: the peer's runs (the rsync CLI, or Terraform's file provisioner)
	Checked     string // what was asserted about every run's result, beyond the destination check
	Err         error
	BlockLen    int64 // the receiver's block length for the big file (delta scenario)
	// Baseline is the same scale scenario at the smallest size, for the
	// peak RSS growth (scale.go).
	Baseline *ScenarioResult
	Profiles []string // profile files written for our engine
}

type scenario struct {
	name, title string
	op          Op
	peer        string // the peer's label; "" = our engine alone
	proxy       *Proxy // nil: no network (hash)
	src         string
	base        string   // dst is reset to a copy of base before each run; "" = empty
	content     []string // files whose bytes are compared after each run
	blockLen    int64
	warm        []string        // trees read once before the first round, so that every round finds them page-cached
	check       func(Run) error // checks a run's result; nil: dst must mirror src (a push)
	checked     string          // what check asserts, for the report
	rounds      int             // 0: Config.Rounds
	edit        *scenario       // apply: the re-apply that follows each initial apply
	web         *Tree           // apply: the initial source
	edited      *Mutation       // apply: the source of the re-apply
	pending     int             // push: the paths it changes, as the provider's plan counts them (Job.Pending)
}

type suite struct {
	cfg     Config
	rig     *rig
	runners []Runner
	logf    func(format string, args ...any)
	tmpfs   bool // destinations are in memory: each run's is removed after it
	tf      *terraformSetup
	dstRoot string
}

// RunSuite generates (or reuses) the trees, starts sshd and the proxies,
// and runs the selected scenarios. A scenario that fails is reported in
// its result; the error is for what stops the whole suite.
func RunSuite(ctx context.Context, cfg Config) (_ *Report, err error) {
	started := time.Now()
	if cfg.Rounds < 1 {
		return nil, errors.New("rounds must be at least 1")
	}
	want := map[string]bool{}
	for _, n := range cfg.Only {
		if !contains(ScenarioNames, n) {
			return nil, fmt.Errorf("unknown scenario %q (have %s)", n, strings.Join(ScenarioNames, ", "))
		}
		want[n] = true
	}
	selected := func(n string) bool { return len(want) == 0 || want[n] }
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "bench: "+format+"\n", args...)
		}
	}

	work := cfg.Work
	if work == "" {
		if work, err = os.MkdirTemp("", "rsync-bench-"); err != nil {
			return nil, err
		}
		defer func() {
			if rerr := os.RemoveAll(work); rerr != nil && err == nil {
				err = rerr
			}
		}()
	}
	if work, err = filepath.Abs(work); err != nil {
		return nil, err
	}
	if !shellSafe(work) {
		return nil, fmt.Errorf("work directory %q must not need shell quoting (the rsync CLI's -e and the remote command line carry paths)", work)
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, err
	}
	// Destinations live under a directory of this run, removed at the end
	// (see runScenario); what an interrupted run left behind goes first.
	dstParent := work
	if cfg.DstDir != "" {
		if dstParent, err = filepath.Abs(cfg.DstDir); err != nil {
			return nil, err
		}
		if !shellSafe(dstParent) {
			return nil, fmt.Errorf("destination directory %q must not need shell quoting", dstParent)
		}
	}
	stale, _ := filepath.Glob(filepath.Join(dstParent, "dst-*"))
	for _, d := range stale {
		logf("removing %s, left by an earlier run", d)
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
		syncDisks()
	}
	dstRoot := filepath.Join(dstParent, fmt.Sprintf("dst-%d", os.Getpid()))
	defer func() {
		if cfg.Keep {
			logf("kept the destinations (and usage records, terraform working directories) in %s", dstRoot)
			return
		}
		if rerr := os.RemoveAll(dstRoot); rerr != nil && err == nil {
			err = rerr
		}
		syncDisks() // shortens the slow-create window for whatever runs next
	}()

	tr, err := prepareTrees(ctx, cfg, filepath.Join(work, "trees"), selected, logf)
	if err != nil {
		return nil, err
	}
	r, err := startRig(ctx, filepath.Join(work, "rig"), cfg.SSHD, cfg.WAN, cfg.LoginBashrc)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := r.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	logf("sshd on %s; loopback proxy on port %d; WAN proxy (%v) on port %d", r.sshd.Addr(), r.lan.Port(), cfg.WAN, r.wan.Port())

	s := &suite{cfg: cfg, rig: r, logf: logf, tmpfs: FSType(dstParent) == "tmpfs", dstRoot: dstRoot, runners: []Runner{
		EngineRunner{Exe: cfg.Exe, Child: cfg.EngineChild, Launch: cfg.Launch},
		CLIRunner{Rsync: cfg.Rsync, SSH: cfg.SSH, Launch: cfg.Launch},
	}}
	rep := &Report{Machine: DescribeMachine(ctx, cfg.Rsync, cfg.SSH), Config: cfg, Started: started, LoadStart: LoadAverage(), DstFS: FSType(dstParent)}
	if selected("tf-initial") || selected("tf-edit-1pct") || selected("wan-tf-initial") || selected("wan-tf-edit-1pct") ||
		selected("tf-plan-initial") || selected("tf-plan-1pct") || (selected(ScaleScenario) && len(cfg.ScaleFiles) > 0) ||
		selectedFleet(selected) {
		src := cfg.ProviderSrc
		if src == "" {
			src = "."
		}
		logf("terraform: building the provider from %s", src)
		s.tf = setupTerraform(ctx, filepath.Join(work, "terraform"), cfg.Terraform, src, cfg.Launch, cfg.ProviderProfile != "")
		rep.Terraform = s.tf.Version
		if s.tf.Err != nil {
			logf("terraform scenarios cannot run: %v", s.tf.Err)
		}
	}
	if tr.web != nil {
		rep.WebBytes = tr.web.Bytes
	}
	if tr.tiny != nil {
		rep.TinyBytes = tr.tiny.Bytes
	}
	if tr.hashBig != nil {
		rep.HashBigBytes, rep.HashBigFiles = tr.hashBig.Bytes, len(tr.hashBig.Files)
	}
	for _, sc := range scenarios(cfg, tr, r) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if sc.op == OpApply {
			if !selected(sc.name) && !selected(sc.edit.name) {
				continue
			}
			logf("scenarios %s and %s: %s, then %s", sc.name, sc.edit.name, sc.title, sc.edit.title)
			for _, res := range s.runApply(ctx, sc, filepath.Join(dstRoot, sc.name)) {
				if res.Err != nil {
					logf("scenario %s FAILED: %v", res.Name, res.Err)
				}
				if selected(res.Name) {
					rep.Scenarios = append(rep.Scenarios, res)
				}
			}
			continue
		}
		if !selected(sc.name) {
			continue
		}
		if sc.op == OpPlan {
			logf("scenario %s: %s", sc.name, sc.title)
			res := s.runPlan(ctx, sc, filepath.Join(dstRoot, sc.name))
			if res.Err != nil {
				logf("scenario %s FAILED: %v", sc.name, res.Err)
			}
			rep.Scenarios = append(rep.Scenarios, res)
			continue
		}
		logf("scenario %s: %s", sc.name, sc.title)
		res := s.runScenario(ctx, sc, filepath.Join(dstRoot, sc.name))
		if res.Err != nil {
			logf("scenario %s FAILED: %v", sc.name, res.Err)
		}
		rep.Scenarios = append(rep.Scenarios, res)
	}
	if len(tr.scale) > 0 {
		logf("scenarios %s: %s tiny files through terraform", ScaleScenario, strings.Join(scaleSizes(tr.scale), ", "))
		rep.Scenarios = append(rep.Scenarios, s.runScale(ctx, tr.scale, filepath.Join(dstRoot, ScaleScenario))...)
	}
	if tr.fleet != nil {
		logf("scenarios %s and %s: %d destinations of one %d-file source", FleetPlan, FleetApply, cfg.FleetDests, cfg.FleetFiles)
		for _, res := range s.runFleet(ctx, tr.fleet, filepath.Join(dstRoot, "fleet")) {
			if res.Err != nil {
				logf("scenario %s FAILED: %v", res.Name, res.Err)
			}
			if selected(res.Name) {
				rep.Scenarios = append(rep.Scenarios, res)
			}
		}
	}
	rep.Took = time.Since(started)
	rep.LoadEnd = LoadAverage()
	return rep, nil
}

// Peers, as the report names them.
const (
	peerPush     = "rsync -a --delete"
	peerDrift    = "rsync -ac -n --delete"
	peerManifest = "rsync -r -c --list-only"
	peerFile     = "file provisioner"
	// peerNoEstimate is the plan scenarios' reference: the same plan
	// without the transfer estimate.
	peerNoEstimate = "estimate_transfer = false"
)

// scenarios lists every scenario the prepared trees allow, in the order
// of ScenarioNames; a terraform scenario comes as its initial apply with
// the re-apply in its edit field.
func scenarios(cfg Config, tr *trees, r *rig) []scenario {
	var all []scenario
	if tr.web != nil {
		sample := contentSample(tr.web)
		push := func(name, title string, p *Proxy, base string, content []string, pending int) scenario {
			return scenario{name: name, title: title, op: OpPush, peer: peerPush, proxy: p, src: tr.web.Root, base: base, content: content, pending: pending}
		}
		all = append(all,
			push("initial", fmt.Sprintf("initial push, %s files / %s, empty destination", count(cfg.Files), FormatBytes(tr.web.Bytes)), r.lan, "", sample, tr.web.entries()),
			push("noop", "no-op push (nothing changed)", r.lan, tr.web.Root, nil, 0),
			push("wan-initial", "WAN: initial push", r.wan, "", sample, tr.web.entries()),
			driftScenario("drift", "drift check, destination in sync (no differences)", tr.web, tr.web.Root, &Changes{}, r.lan),
			manifestScenario(tr.web, r.lan),
			hashScenario("hash", fmt.Sprintf("plan-time local tree hash, %s files / %s, page-cached", count(len(tr.web.Files)), FormatBytes(tr.web.Bytes)), tr.web),
		)
	}
	if tr.drifted != nil {
		all = append(all, driftScenario("drift-changed", "drift check, destination drifted ("+tr.drifted.Expect.Summary()+")",
			tr.web, tr.drifted.Root, &tr.drifted.Expect, r.lan))
	}
	if tr.hashBig != nil {
		all = append(all, hashScenario("hash-1g", fmt.Sprintf("plan-time local tree hash, %s files / %s, page-cached", count(len(tr.hashBig.Files)), FormatBytes(tr.hashBig.Bytes)), tr.hashBig))
	}
	if tr.edited != nil {
		title := fmt.Sprintf("%s of files edited (%d files) + %d B in the %s file", percent(cfg.EditFrac), len(tr.edited.Edited), cfg.BigEdit, FormatBytes(cfg.BigSize))
		content := append([]string{tr.web.Big}, tr.edited.Edited...)
		all = append(all,
			scenario{name: "edit-1pct", title: title, op: OpPush, peer: peerPush, proxy: r.lan, src: tr.edited.Root, base: tr.web.Root, content: content, pending: len(content)},
			scenario{name: "wan-edit-1pct", title: "WAN: " + title, op: OpPush, peer: peerPush, proxy: r.wan, src: tr.edited.Root, base: tr.web.Root, content: content, pending: len(content)},
		)
		apply := func(prefix string, p *Proxy, rounds int) scenario {
			label := ""
			if prefix != "" {
				label = "WAN: "
			}
			return scenario{
				name: prefix + "tf-initial", op: OpApply, peer: peerFile, proxy: p, rounds: rounds,
				title:   fmt.Sprintf("%sterraform apply, initial (%s files / %s, empty destination)", label, count(cfg.Files), FormatBytes(tr.web.Bytes)),
				content: contentSample(tr.web), web: tr.web, edited: tr.edited,
				edit: &scenario{
					name: prefix + "tf-edit-1pct", op: OpApply, peer: peerFile, proxy: p,
					title:   fmt.Sprintf("%sterraform re-apply after %s", label, title),
					content: content,
				},
			}
		}
		wanRounds := cfg.Rounds
		if cfg.WANApplyRounds > 0 {
			wanRounds = min(wanRounds, cfg.WANApplyRounds)
		}
		all = append(all, apply("", r.lan, 0), apply("wan-", r.wan, wanRounds))
		all = append(all,
			scenario{name: "tf-plan-initial", op: OpPlan, peer: peerNoEstimate, proxy: r.lan, web: tr.web,
				title: fmt.Sprintf("terraform plan, create (%s files / %s, empty destination)", count(cfg.Files), FormatBytes(tr.web.Bytes))},
			scenario{name: "tf-plan-1pct", op: OpPlan, peer: peerNoEstimate, proxy: r.lan, web: tr.web, edited: tr.edited,
				title: "terraform plan after " + title},
		)
	}
	if tr.tiny != nil {
		all = append(all, scenario{name: "tiny-initial", title: fmt.Sprintf("%s tiny files (%s), initial push", count(cfg.TinyFiles), FormatBytes(tr.tiny.Bytes)),
			op: OpPush, peer: peerPush, proxy: r.lan, src: tr.tiny.Root, pending: tr.tiny.entries()})
	}
	if tr.deltaNew != "" {
		all = append(all, scenario{
			name: "delta-31b", title: fmt.Sprintf("one %s random file, %d-byte overwrite in the middle", FormatBytes(cfg.BigSize), cfg.BigEdit),
			op: OpPush, peer: peerPush, proxy: r.lan, src: tr.deltaNew, base: tr.deltaBase, content: []string{filepath.Base(tr.web.Big)}, pending: 1,
			blockLen: int64(delta.NewSumHead(cfg.BigSize, 16, false).BlockLen),
		})
	}
	var ordered []scenario
	for _, name := range ScenarioNames {
		for _, sc := range all {
			if sc.name == name {
				ordered = append(ordered, sc)
			}
		}
	}
	return ordered
}

// driftScenario compares the web root (source) with a destination made
// from base; both tools must report exactly want, every round.
func driftScenario(name, title string, web *Tree, base string, want *Changes, p *Proxy) scenario {
	return scenario{
		name: name, title: title, op: OpDrift, peer: peerDrift, proxy: p, src: web.Root, base: base,
		warm: []string{web.Root},
		check: func(run Run) error {
			if !run.Changes.Equal(want) {
				return fmt.Errorf("drift check reported %s; want %s", run.Changes, want)
			}
			return nil
		},
		checked: fmt.Sprintf("both tools reported exactly the paths the bench changed (%s) in every round", want.Summary()),
	}
}

// manifestScenario lists a synced copy of the web root with checksums;
// both tools must list every entry of the tree.
func manifestScenario(web *Tree, p *Proxy) scenario {
	var want string
	var n int
	names, err := treeNames(web.Root)
	if err == nil {
		want, n = enginechild.NamesDigest(names), len(names)
	}
	return scenario{
		name: "manifest", title: fmt.Sprintf("remote manifest with checksums (%s files)", count(len(web.Files))), op: OpList, peer: peerManifest,
		proxy: p, base: web.Root,
		check: func(run Run) error {
			if err != nil {
				return err
			}
			if run.Listed != n || run.ListDigest != want {
				return fmt.Errorf("listed %d entries (names digest %s); want the tree's %d (%s)", run.Listed, run.ListDigest, n, want)
			}
			return nil
		},
		checked: fmt.Sprintf("both tools listed exactly the tree's %s entries (the same names) in every round; ours carried a checksum for every file", count(n)),
	}
}

// hashScenario hashes a page-cached tree with our engine alone.
func hashScenario(name, title string, t *Tree) scenario {
	var first string
	return scenario{
		name: name, title: title, op: OpHash, src: t.Root, warm: []string{t.Root},
		check: func(run Run) error {
			if run.HashBytes != t.Bytes {
				return fmt.Errorf("hashed %d bytes; the tree holds %d", run.HashBytes, t.Bytes)
			}
			if first == "" {
				first = run.TreeHash
			} else if run.TreeHash != first {
				return fmt.Errorf("tree hash %s differs from the first round's %s", run.TreeHash, first)
			}
			return nil
		},
		checked: "every round hashed every byte of the tree and got the same tree hash",
	}
}

// runScenario runs every round of one scenario; the tools alternate which
// goes first from round to round. A scenario that starts from a copy of a
// base tree reuses one destination under dir, restored incrementally; one
// that starts empty gets a fresh directory per run, and none is deleted
// until the suite ends: on ext4, creating files soon after many were
// deleted is slower (perf shows the inode allocator probing the recently
// deleted ones, ialloc.c:recently_deleted; sync does not cure it), so
// deleting the last run's 10,000 or 100,000 files would slow the next
// run's server — both tools alike, but the numbers would be ext4's.
func (s *suite) runScenario(ctx context.Context, sc scenario, dir string) ScenarioResult {
	res := ScenarioResult{Name: sc.name, Title: sc.title, Op: sc.op, Peer: sc.peer, Checked: sc.checked, BlockLen: sc.blockLen}
	if sc.proxy != nil {
		res.Link = sc.proxy.Link()
	}
	usageDir := filepath.Join(dir, "usage")
	if err := os.MkdirAll(usageDir, 0o700); err != nil {
		res.Err = err
		return res
	}
	for _, t := range sc.warm {
		if err := warmTree(t); err != nil {
			res.Err = err
			return res
		}
	}
	runners := s.runners
	if sc.peer == "" {
		runners = runners[:1]
	}
	rounds := s.cfg.Rounds
	if sc.rounds > 0 {
		rounds = sc.rounds
	}
	for round := range rounds {
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			if i >= len(runners) {
				continue
			}
			r := runners[i]
			usage := filepath.Join(usageDir, fmt.Sprintf("%s-%d-%s", sc.name, round, r.Name()))
			dst := runDir(sc, dir, fmt.Sprintf("%d-%s", round, r.Name()))
			run, err := s.measure(ctx, sc, r, dst, usage, Job{})
			if err != nil {
				res.Err = fmt.Errorf("round %d, %s: %w", round+1, r.Name(), err)
				return res
			}
			if s.tmpfs && sc.base == "" && sc.op == OpPush {
				// In memory: no slow-create aftermath, and the space matters.
				if err := os.RemoveAll(dst); err != nil {
					res.Err = err
					return res
				}
			}
			s.logRun(round, r.Name(), run)
			if i == 0 {
				res.Ours = append(res.Ours, run)
			} else {
				res.Rsync = append(res.Rsync, run)
			}
		}
	}
	if s.cfg.ProfileDir != "" {
		if err := os.MkdirAll(s.cfg.ProfileDir, 0o755); err != nil {
			res.Err = err
			return res
		}
		extra := Job{
			CPUProfile: filepath.Join(s.cfg.ProfileDir, sc.name+".cpu.pprof"),
			MemProfile: filepath.Join(s.cfg.ProfileDir, sc.name+".allocs.pprof"),
		}
		if _, err := s.measure(ctx, sc, s.runners[0], runDir(sc, dir, "profiled"), filepath.Join(usageDir, sc.name+"-profiled"), extra); err != nil {
			res.Err = fmt.Errorf("profiled run: %w", err)
			return res
		}
		res.Profiles = []string{extra.CPUProfile, extra.MemProfile}
		s.logf("  profiles: %s", strings.Join(res.Profiles, ", "))
	}
	return res
}

func (s *suite) logRun(round int, name string, run Run) {
	extra := "literal " + FormatBytes(run.Literal)
	switch {
	case run.Changes != nil:
		extra = "found: " + run.Changes.Summary()
	case run.Listed > 0:
		extra = fmt.Sprintf("listed %d", run.Listed)
	case run.HashBytes > 0:
		extra = fmt.Sprintf("tree.Local %s = %.2f GB/s", FormatDuration(run.Work), float64(run.HashBytes)/run.Work.Seconds()/1e9)
	}
	s.logf("  round %d %-5s wall %-8s cpu %-8s wire %-9s rss %-8s %s",
		round+1, name, FormatDuration(run.Client.Wall), FormatDuration(run.Client.CPU()),
		FormatBytes(run.Wire()), FormatBytes(run.Client.MaxRSS), extra)
}

// runTimeout bounds one tool run; the slowest full-size runs (400 MB
// over the 100 Mbit/s link, the file provisioner's per-file round trips
// over it) take a few minutes.
const runTimeout = 30 * time.Minute

// runDir is the destination of one run.
func runDir(sc scenario, dir, run string) string {
	if sc.base != "" {
		return filepath.Join(dir, "dst")
	}
	return filepath.Join(dir, run)
}

// endpoint is how the tools reach sshd through p.
func (s *suite) endpoint(p *Proxy) Endpoint {
	return Endpoint{
		Host: "127.0.0.1", Port: p.Port(), User: s.rig.sshd.User, KeyFile: s.rig.sshd.ClientKeyFile,
		KnownHostsFile: s.rig.knownHosts, HostKey: s.rig.sshd.HostKeyAuthorized,
	}
}

// measure resets the destination, runs one tool (through the scenario's
// proxy, if any) and checks the result. The launcher's records go to
// usage+".client" and usage+".server".
func (s *suite) measure(ctx context.Context, sc scenario, r Runner, dst, usage string, extra Job) (Run, error) {
	if sc.op != OpHash {
		if err := resetDest(ctx, s.cfg.Rsync, sc.base, dst); err != nil {
			return Run{}, err
		}
	}
	job := Job{
		Op: sc.op, Source: sc.src, Dest: dst, Delete: true, Pending: sc.pending,
		UsageFile:  usage + ".client.json",
		CPUProfile: extra.CPUProfile, MemProfile: extra.MemProfile,
	}
	// A file per remote rsync, named by its login shell's pid: a parallel
	// push starts several.
	serverUsage := usage + ".server.json"
	if err := removeUsages(serverUsage); err != nil {
		return Run{}, err
	}
	withServer := s.cfg.ServerUsage && sc.proxy != nil
	if sc.proxy != nil {
		job.Endpoint = s.endpoint(sc.proxy)
		if withServer {
			job.RsyncPath = s.cfg.Launch.RemoteCommand(serverUsage + ".$$")
		}
	}
	run, err := s.through(ctx, sc.proxy, func(ctx context.Context) (Run, error) { return r.Run(ctx, job) })
	if err != nil {
		return Run{}, err
	}
	if withServer {
		u, err := readUsages(serverUsage, max(run.Sessions, 1), 10*time.Second)
		if err != nil {
			return Run{}, fmt.Errorf("remote rsync: %w", err)
		}
		run.Server = u
	}
	if sc.check != nil {
		err = sc.check(run)
	} else {
		err = CompareTrees(sc.src, dst, sc.content)
	}
	if err != nil {
		return Run{}, fmt.Errorf("after the run: %w", err)
	}
	return run, nil
}

// through runs one tool run and adds what p saw of it: the bytes in each
// direction, the SSH negotiation, and any forwarding error. p may be nil
// (a run that does not touch the network).
func (s *suite) through(ctx context.Context, p *Proxy, f func(context.Context) (Run, error)) (Run, error) {
	var up0, down0 int64
	var hs0, errs0 int
	if p != nil {
		up0, down0 = p.Counters()
		hs0 = len(p.Handshakes(0))
		errs0 = len(p.Errors())
	}
	runCtx, stop := context.WithTimeout(ctx, runTimeout)
	run, err := f(runCtx)
	stop()
	if err != nil || p == nil {
		return run, err
	}
	idleCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.WaitIdle(idleCtx); err != nil {
		return Run{}, err
	}
	up1, down1 := p.Counters()
	run.Up, run.Down = up1-up0, down1-down0
	if hs := p.Handshakes(hs0); len(hs) > 0 {
		run.SSH = hs[len(hs)-1]
		run.Conns = len(hs)
	}
	if errs := p.Errors(); len(errs) > errs0 {
		return Run{}, errors.Join(errs[errs0:]...)
	}
	return run, nil
}

// runApply runs the terraform pair: per round and tool (alternating which
// goes first), a fresh working directory and source (hard links to the
// web root), an initial apply into an empty destination, then the 1% edit
// applied to that source and a re-apply. It returns the initial apply's
// result and the re-apply's.
func (s *suite) runApply(ctx context.Context, sc scenario, dir string) []ScenarioResult {
	ini := ScenarioResult{Name: sc.name, Title: sc.title, Op: OpApply, Peer: sc.peer, Link: sc.proxy.Link(),
		Checked: "after each apply the destination holds the source's files with their content (ours: also permissions and times)"}
	ed := ScenarioResult{Name: sc.edit.name, Title: sc.edit.title, Op: OpApply, Peer: sc.peer, Link: sc.proxy.Link(), Checked: ini.Checked}
	fail := func(err error) []ScenarioResult {
		ini.Err, ed.Err = err, err
		return []ScenarioResult{ini, ed}
	}
	if s.tf == nil || s.tf.Err != nil {
		err := errors.New("terraform is not set up")
		if s.tf != nil {
			err = s.tf.Err
		}
		return fail(err)
	}
	runners := []Runner{
		TerraformRunner{Kind: TFRsyncDirectory, Terraform: s.tf.Terraform, CLIConfig: s.tf.CLIConfig, Launch: s.cfg.Launch, DebugLog: s.cfg.TerraformLog},
		TerraformRunner{Kind: TFFileProvisioner, Terraform: s.tf.Terraform, CLIConfig: s.tf.CLIConfig, Launch: s.cfg.Launch, DebugLog: s.cfg.TerraformLog},
	}
	rounds := s.cfg.Rounds
	if sc.rounds > 0 {
		rounds = sc.rounds
	}
	ids := [2]string{fmt.Sprintf("web-%d", s.cfg.Seed), fmt.Sprintf("web-%d-edited", s.cfg.Seed)}
	for round := range rounds {
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			r := runners[i]
			base := filepath.Join(dir, fmt.Sprintf("%d-%s", round, r.Name()))
			work, src, dst := filepath.Join(base, "tf"), filepath.Join(base, "src"), filepath.Join(base, "dst")
			if err := linkTree(ctx, sc.web.Root, src); err != nil {
				return fail(err)
			}
			if err := copyDirTimes(sc.web.Root, src); err != nil {
				return fail(err)
			}
			if err := resetDest(ctx, s.cfg.Rsync, "", dst); err != nil {
				return fail(err)
			}
			for step, st := range []*ScenarioResult{&ini, &ed} {
				if step == 1 {
					if err := replaceWithEdits(src, sc.web, sc.edited); err != nil {
						return fail(err)
					}
					syncDisks()
				}
				content := sc.content
				if step == 1 {
					content = sc.edit.content
				}
				job := Job{
					Op: OpApply, Source: src, Dest: dst, Delete: true, Endpoint: s.endpoint(sc.proxy),
					WorkDir: work, TreeID: ids[step],
					UsageFile: filepath.Join(base, fmt.Sprintf("usage-%d.json", step)),
				}
				run, err := s.through(ctx, sc.proxy, func(ctx context.Context) (Run, error) { return r.Run(ctx, job) })
				if err == nil {
					if i == 0 {
						err = CompareTrees(src, dst, content)
					} else {
						err = CompareContent(src, dst, content)
					}
				}
				if err != nil {
					st.Err = fmt.Errorf("round %d, %s: %w", round+1, r.Name(), err)
					if step == 0 {
						ed.Err = fmt.Errorf("%s failed: %w", ini.Name, st.Err)
					}
					return []ScenarioResult{ini, ed}
				}
				s.logRun(round, st.Name+" "+r.Name(), run)
				if i == 0 {
					st.Ours = append(st.Ours, run)
				} else {
					st.Rsync = append(st.Rsync, run)
				}
			}
		}
	}
	return []ScenarioResult{ini, ed}
}

// warmTree reads every regular file under root once, so that the rounds
// that follow find the tree in the page cache.
func warmTree(root string) error {
	buf := make([]byte, 1<<20)
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
		return err
	})
}

// resetDest puts dst in the state a run starts from: a new empty
// directory, or a copy of base (made by a local rsync -a --delete, which
// after a run rewrites only what the run changed). It then flushes dirty
// pages so that no run pays for writeback the previous one caused.
func resetDest(ctx context.Context, rsyncBin, base, dst string) error {
	if base == "" {
		if err := os.Mkdir(dst, 0o755); err != nil {
			return fmt.Errorf("reset %s: %w", dst, err)
		}
	} else {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("reset %s: %w", dst, err)
		}
		out, err := exec.CommandContext(ctx, rsyncBin, "-a", "--delete", base+"/", dst+"/").CombinedOutput()
		if err != nil {
			return fmt.Errorf("reset %s from %s: %w: %s", dst, base, err, out)
		}
	}
	syncDisks()
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// count writes 10000 as "10,000".
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func percent(f float64) string { return strconv.FormatFloat(f*100, 'g', 3, 64) + "%" }
