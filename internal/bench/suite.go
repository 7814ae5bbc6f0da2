package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/delta"
)

// Config is one run of the suite.
type Config struct {
	Work string // trees are kept (and reused) here; "" = a temporary directory
	// DstDir holds the destinations ("" = the work directory). Another
	// file system (e.g. a tmpfs) takes the destination disk out of the
	// numbers: both tools' servers then write to memory.
	DstDir     string
	Seed       uint64
	Files      int   // web root files
	Size       int64 // web root bytes
	BigSize    int64 // the big random file
	EditFrac   float64
	BigEdit    int
	TinyFiles  int
	Rounds     int
	WAN        Link
	Only       []string // scenario names to run; empty = all
	ProfileDir string   // when set, one extra profiled run of our engine per scenario
	Exe        string   // the bench binary, re-executed for our engine
	Launch     Launcher // starts every measured process
	Rsync      string
	SSH        string
	SSHD       string
	// ServerUsage measures the remote rsync of both tools by making the
	// launcher their rsync path.
	ServerUsage bool
	// LoginBashrc lets bash source the login user's ~/.bashrc before
	// every remote command, as it does by default (see noBashrc).
	LoginBashrc bool
	Log         io.Writer // progress lines
}

// ScenarioNames lists every scenario, in the order they run.
var ScenarioNames = []string{"initial", "noop", "edit-1pct", "tiny-initial", "wan-initial", "wan-edit-1pct", "delta-31b"}

// ScenarioResult is every round of one scenario.
type ScenarioResult struct {
	Name, Title string
	Link        Link
	Ours, Rsync []Run
	Err         error
	BlockLen    int64    // the receiver's block length for the big file (delta scenario)
	Profiles    []string // profile files written for our engine
}

type scenario struct {
	name, title string
	proxy       *Proxy
	src         string
	base        string   // dst is reset to a copy of base before each run; "" = empty
	content     []string // files whose bytes are compared after each run
	blockLen    int64
}

type suite struct {
	cfg     Config
	rig     *rig
	runners []Runner
	logf    func(format string, args ...any)
	tmpfs   bool // destinations are in memory: each run's is removed after it
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
		syscall.Sync()
	}
	dstRoot := filepath.Join(dstParent, fmt.Sprintf("dst-%d", os.Getpid()))
	defer func() {
		if rerr := os.RemoveAll(dstRoot); rerr != nil && err == nil {
			err = rerr
		}
		syscall.Sync() // shortens the slow-create window for whatever runs next
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

	s := &suite{cfg: cfg, rig: r, logf: logf, tmpfs: FSType(dstParent) == "tmpfs", runners: []Runner{
		EngineRunner{Exe: cfg.Exe, Launch: cfg.Launch},
		CLIRunner{Rsync: cfg.Rsync, SSH: cfg.SSH, Launch: cfg.Launch},
	}}
	rep := &Report{Machine: DescribeMachine(ctx, cfg.Rsync, cfg.SSH), Config: cfg, Started: started, LoadStart: LoadAverage(), DstFS: FSType(dstParent)}
	if tr.web != nil {
		rep.WebBytes = tr.web.Bytes
	}
	if tr.tiny != nil {
		rep.TinyBytes = tr.tiny.Bytes
	}
	for _, sc := range scenarios(cfg, tr, r) {
		if !selected(sc.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		logf("scenario %s: %s", sc.name, sc.title)
		res := s.runScenario(ctx, sc, filepath.Join(dstRoot, sc.name))
		if res.Err != nil {
			logf("scenario %s FAILED: %v", sc.name, res.Err)
		}
		rep.Scenarios = append(rep.Scenarios, res)
	}
	rep.Took = time.Since(started)
	rep.LoadEnd = LoadAverage()
	return rep, nil
}

// scenarios lists every scenario the prepared trees allow, in the order
// of ScenarioNames.
func scenarios(cfg Config, tr *trees, r *rig) []scenario {
	var all []scenario
	if tr.web != nil {
		sample := contentSample(tr.web)
		all = append(all,
			scenario{name: "initial", title: fmt.Sprintf("initial push, %s files / %s, empty destination", count(cfg.Files), FormatBytes(tr.web.Bytes)),
				proxy: r.lan, src: tr.web.Root, content: sample},
			scenario{name: "noop", title: "no-op push (nothing changed)", proxy: r.lan, src: tr.web.Root, base: tr.web.Root},
			scenario{name: "wan-initial", title: "WAN: initial push", proxy: r.wan, src: tr.web.Root, content: sample},
		)
	}
	if tr.edited != nil {
		title := fmt.Sprintf("%s of files edited (%d files) + %d B in the %s file", percent(cfg.EditFrac), len(tr.edited.Edited), cfg.BigEdit, FormatBytes(cfg.BigSize))
		content := append([]string{tr.web.Big}, tr.edited.Edited...)
		all = append(all,
			scenario{name: "edit-1pct", title: title, proxy: r.lan, src: tr.edited.Root, base: tr.web.Root, content: content},
			scenario{name: "wan-edit-1pct", title: "WAN: " + title, proxy: r.wan, src: tr.edited.Root, base: tr.web.Root, content: content},
		)
	}
	if tr.tiny != nil {
		all = append(all, scenario{name: "tiny-initial", title: fmt.Sprintf("%s tiny files (%s), initial push", count(cfg.TinyFiles), FormatBytes(tr.tiny.Bytes)),
			proxy: r.lan, src: tr.tiny.Root})
	}
	if tr.deltaNew != "" {
		all = append(all, scenario{
			name: "delta-31b", title: fmt.Sprintf("one %s random file, %d-byte overwrite in the middle", FormatBytes(cfg.BigSize), cfg.BigEdit),
			proxy: r.lan, src: tr.deltaNew, base: tr.deltaBase, content: []string{filepath.Base(tr.web.Big)},
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
	res := ScenarioResult{Name: sc.name, Title: sc.title, Link: sc.proxy.Link(), BlockLen: sc.blockLen}
	usageDir := filepath.Join(dir, "usage")
	if err := os.MkdirAll(usageDir, 0o700); err != nil {
		res.Err = err
		return res
	}
	for round := range s.cfg.Rounds {
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			r := s.runners[i]
			usage := filepath.Join(usageDir, fmt.Sprintf("%s-%d-%s", sc.name, round, r.Name()))
			dst := runDir(sc, dir, fmt.Sprintf("%d-%s", round, r.Name()))
			run, err := s.measure(ctx, sc, r, dst, usage, Job{})
			if err != nil {
				res.Err = fmt.Errorf("round %d, %s: %w", round+1, r.Name(), err)
				return res
			}
			if s.tmpfs && sc.base == "" {
				// In memory: no slow-create aftermath, and the space matters.
				if err := os.RemoveAll(dst); err != nil {
					res.Err = err
					return res
				}
			}
			s.logf("  round %d %-5s wall %-8s cpu %-8s wire %-9s rss %-8s literal %s",
				round+1, r.Name(), FormatDuration(run.Client.Wall), FormatDuration(run.Client.CPU()),
				FormatBytes(run.Wire()), FormatBytes(run.Client.MaxRSS), FormatBytes(run.Literal))
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

// runTimeout bounds one tool run; the slowest full-size run (400 MB over
// the 100 Mbit/s link) takes well under a minute.
const runTimeout = 15 * time.Minute

// runDir is the destination of one run.
func runDir(sc scenario, dir, run string) string {
	if sc.base != "" {
		return filepath.Join(dir, "dst")
	}
	return filepath.Join(dir, run)
}

// measure resets the destination, runs one tool through the scenario's
// proxy and checks the result. The launcher's records go to usage+".client"
// and usage+".server".
func (s *suite) measure(ctx context.Context, sc scenario, r Runner, dst, usage string, extra Job) (Run, error) {
	if err := resetDest(ctx, s.cfg.Rsync, sc.base, dst); err != nil {
		return Run{}, err
	}
	p := sc.proxy
	up0, down0 := p.Counters()
	hs0 := len(p.Handshakes(0))
	errs0 := len(p.Errors())
	job := Job{
		Source: sc.src, Dest: dst, Delete: true,
		Endpoint: Endpoint{
			Host: "127.0.0.1", Port: p.Port(), User: s.rig.sshd.User, KeyFile: s.rig.sshd.ClientKeyFile,
			KnownHostsFile: s.rig.knownHosts, HostKey: s.rig.sshd.HostKeyAuthorized,
		},
		UsageFile:  usage + ".client.json",
		CPUProfile: extra.CPUProfile, MemProfile: extra.MemProfile,
	}
	serverUsage := usage + ".server.json"
	_ = os.Remove(serverUsage)
	if s.cfg.ServerUsage {
		job.RsyncPath = s.cfg.Launch.RemoteCommand(serverUsage)
	}
	runCtx, stop := context.WithTimeout(ctx, runTimeout)
	run, err := r.Run(runCtx, job)
	stop()
	if err != nil {
		return Run{}, err
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
	}
	if errs := p.Errors(); len(errs) > errs0 {
		return Run{}, errors.Join(errs[errs0:]...)
	}
	if s.cfg.ServerUsage {
		u, err := readUsage(serverUsage, 10*time.Second)
		if err != nil {
			return Run{}, fmt.Errorf("remote rsync: %w", err)
		}
		run.Server = u
	}
	if err := CompareTrees(sc.src, dst, sc.content); err != nil {
		return Run{}, fmt.Errorf("after the run: %w", err)
	}
	return run, nil
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
	syscall.Sync()
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
