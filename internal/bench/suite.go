package bench

import (
	"bytes"
	"context"
	"encoding/json"
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

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/delta"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// Config is one run of the suite.
type Config struct {
	Work       string // trees are kept (and reused) here; "" = a temporary directory
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
	sshd    *sshtest.Server
	known   string
	runners []Runner
}

// RunSuite generates (or reuses) the trees, starts sshd and the proxies,
// and runs the selected scenarios. A scenario that fails is reported in
// its result; the error is for what stops the whole suite.
func RunSuite(ctx context.Context, cfg Config) (_ *Report, err error) {
	started := time.Now()
	if cfg.Rounds < 1 {
		return nil, errors.New("rounds must be at least 1")
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

	// Destinations live under a directory of this run; what an interrupted
	// run left behind goes first.
	stale, _ := filepath.Glob(filepath.Join(work, "dst-*"))
	for _, d := range stale {
		logf("removing %s, left by an earlier run", d)
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	dstRoot := filepath.Join(work, fmt.Sprintf("dst-%d", os.Getpid()))

	// Trees.
	trees := filepath.Join(work, "trees")
	if err := os.MkdirAll(trees, 0o755); err != nil {
		return nil, err
	}
	webSpec := WebRootSpec{Seed: cfg.Seed, Files: cfg.Files, Size: cfg.Size, BigSize: cfg.BigSize}
	mutSpec := MutationSpec{Seed: cfg.Seed + 1, Fraction: cfg.EditFrac, BigEdit: cfg.BigEdit}
	needWeb := selected("initial") || selected("noop") || selected("wan-initial")
	needEdit := selected("edit-1pct") || selected("wan-edit-1pct") || selected("delta-31b")
	var web *Tree
	var edited *Mutation
	if needWeb || needEdit {
		logf("web root: %d files, %s (big file %s)", cfg.Files, FormatBytes(cfg.Size), FormatBytes(cfg.BigSize))
		web, err = cached(filepath.Join(trees, "web"), webSpec, func(root string) (*Tree, error) {
			return GenerateWebRoot(ctx, root, webSpec)
		})
		if err != nil {
			return nil, err
		}
	}
	if needEdit {
		logf("edited copy: %.0f%% of files + %d bytes in the big file", cfg.EditFrac*100, cfg.BigEdit)
		key := struct {
			Web WebRootSpec
			Mut MutationSpec
		}{webSpec, mutSpec}
		edited, err = cached(filepath.Join(trees, "web-edited"), key, func(root string) (*Mutation, error) {
			return Mutate(ctx, web, root, mutSpec)
		})
		if err != nil {
			return nil, err
		}
	}
	var tiny *Tree
	if selected("tiny-initial") {
		logf("tiny tree: %d files", cfg.TinyFiles)
		key := struct{ Seed, N uint64 }{cfg.Seed, uint64(cfg.TinyFiles)}
		tiny, err = cached(filepath.Join(trees, "tiny"), key, func(root string) (*Tree, error) {
			return GenerateTinyTree(ctx, root, cfg.Seed, cfg.TinyFiles)
		})
		if err != nil {
			return nil, err
		}
	}
	var deltaBase, deltaNew string
	if selected("delta-31b") {
		deltaBase, deltaNew = filepath.Join(trees, "delta-base"), filepath.Join(trees, "delta-new")
		if err := singleFileTree(deltaBase, filepath.Join(web.Root, web.Big)); err != nil {
			return nil, err
		}
		if err := singleFileTree(deltaNew, filepath.Join(edited.Root, web.Big)); err != nil {
			return nil, err
		}
	}

	// The server and the proxies in front of it.
	sshdDir := filepath.Join(work, "sshd")
	if err := os.MkdirAll(sshdDir, 0o700); err != nil {
		return nil, err
	}
	opts := []sshtest.Option{}
	if cfg.SSHD != "" {
		opts = append(opts, sshtest.WithSSHD(cfg.SSHD))
	}
	srv, err := sshtest.StartServer(sshdDir, opts...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := srv.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	lan, err := StartProxy(ctx, srv.Addr(), Link{})
	if err != nil {
		return nil, err
	}
	defer lan.Close()
	wan, err := StartProxy(ctx, srv.Addr(), cfg.WAN)
	if err != nil {
		return nil, err
	}
	defer wan.Close()
	known := filepath.Join(work, "known_hosts")
	var lines []string
	for _, p := range []*Proxy{lan, wan} {
		addr := fmt.Sprintf("127.0.0.1:%d", p.Port())
		lines = append(lines, knownhosts.Line([]string{knownhosts.Normalize(addr)}, srv.HostPublicKey))
	}
	if err := os.WriteFile(known, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	logf("sshd on %s; loopback proxy on port %d; WAN proxy (%v) on port %d", srv.Addr(), lan.Port(), cfg.WAN, wan.Port())

	s := &suite{cfg: cfg, sshd: srv, known: known, runners: []Runner{
		EngineRunner{Exe: cfg.Exe, Launch: cfg.Launch},
		CLIRunner{Rsync: cfg.Rsync, SSH: cfg.SSH, Launch: cfg.Launch},
	}}
	var all []scenario
	if web != nil {
		sample := contentSample(web)
		editedContent := append([]string{web.Big}, edited.editedOrNil()...)
		all = append(all,
			scenario{name: "initial", title: fmt.Sprintf("initial push, %s files / %s, empty destination", count(cfg.Files), FormatBytes(web.Bytes)), proxy: lan, src: web.Root, content: sample},
			scenario{name: "noop", title: "no-op push (nothing changed)", proxy: lan, src: web.Root, base: web.Root},
			scenario{name: "wan-initial", title: "WAN: initial push", proxy: wan, src: web.Root, content: sample},
		)
		if edited != nil {
			title := fmt.Sprintf("%s of files edited (%d files) + %d B in the %s file", percent(cfg.EditFrac), len(edited.Edited), cfg.BigEdit, FormatBytes(cfg.BigSize))
			all = append(all,
				scenario{name: "edit-1pct", title: title, proxy: lan, src: edited.Root, base: web.Root, content: editedContent},
				scenario{name: "wan-edit-1pct", title: "WAN: " + title, proxy: wan, src: edited.Root, base: web.Root, content: editedContent},
			)
		}
	}
	if tiny != nil {
		all = append(all, scenario{name: "tiny-initial", title: fmt.Sprintf("%s tiny files (%s), initial push", count(cfg.TinyFiles), FormatBytes(tiny.Bytes)), proxy: lan, src: tiny.Root})
	}
	if deltaNew != "" {
		all = append(all, scenario{
			name: "delta-31b", title: fmt.Sprintf("one %s random file, %d-byte overwrite in the middle", FormatBytes(cfg.BigSize), cfg.BigEdit),
			proxy: lan, src: deltaNew, base: deltaBase, content: []string{filepath.Base(web.Big)},
			blockLen: int64(delta.NewSumHead(cfg.BigSize, 16, false).BlockLen),
		})
	}

	rep := &Report{Machine: DescribeMachine(ctx, cfg.Rsync, cfg.SSH), Config: cfg, Started: started}
	if web != nil {
		rep.WebBytes = web.Bytes
	}
	if tiny != nil {
		rep.TinyBytes = tiny.Bytes
	}
	for _, name := range ScenarioNames {
		for _, sc := range all {
			if sc.name != name || !selected(name) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			logf("scenario %s: %s", sc.name, sc.title)
			res := s.runScenario(ctx, sc, filepath.Join(dstRoot, sc.name), logf)
			if res.Err != nil {
				logf("scenario %s FAILED: %v", sc.name, res.Err)
			}
			rep.Scenarios = append(rep.Scenarios, res)
		}
	}
	rep.Took = time.Since(started)
	// Destinations go only now: see runScenario.
	if err := os.RemoveAll(dstRoot); err != nil {
		return nil, err
	}
	return rep, nil
}

func (m *Mutation) editedOrNil() []string {
	if m == nil {
		return nil
	}
	return m.Edited
}

// runScenario runs every round of one scenario; the tools alternate which
// goes first from round to round. A scenario that starts from a copy of a
// base tree reuses one destination under dir, restored incrementally; one
// that starts empty gets a fresh directory per run, and none is deleted
// until the suite ends: on ext4 without a journal, creating a file scans
// past every inode deleted in the last minutes (ialloc.c:recently_deleted),
// so deleting the last run's 10,000 or 100,000 files would slow the next
// run's server — both tools alike, but the numbers would be ext4's.
func (s *suite) runScenario(ctx context.Context, sc scenario, dir string, logf func(string, ...any)) ScenarioResult {
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
			run, err := s.measure(ctx, sc, r, runDir(sc, dir, fmt.Sprintf("%d-%s", round, r.Name())), usage, Job{})
			if err != nil {
				res.Err = fmt.Errorf("round %d, %s: %w", round+1, r.Name(), err)
				return res
			}
			logf("  round %d %-5s wall %-8s cpu %-8s wire %-9s rss %-8s literal %s",
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
		logf("  profiles: %s", strings.Join(res.Profiles, ", "))
	}
	return res
}

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
			Host: "127.0.0.1", Port: p.Port(), User: s.sshd.User, KeyFile: s.sshd.ClientKeyFile,
			KnownHostsFile: s.known, HostKey: s.sshd.HostKeyAuthorized,
		},
		UsageFile:  usage + ".client.json",
		CPUProfile: extra.CPUProfile, MemProfile: extra.MemProfile,
	}
	serverUsage := usage + ".server.json"
	_ = os.Remove(serverUsage)
	if s.cfg.ServerUsage {
		job.RsyncPath = s.cfg.Launch.RemoteCommand(serverUsage)
	}
	run, err := r.Run(ctx, job)
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

// singleFileTree makes dir hold exactly one hard link to file, with a
// fixed directory time.
func singleFileTree(dir, file string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Link(file, filepath.Join(dir, filepath.Base(file))); err != nil {
		return fmt.Errorf("delta tree: %w", err)
	}
	return os.Chtimes(dir, epoch, epoch)
}

// contentSample picks files whose bytes are compared after an initial
// push: the large binaries and every 97th small file.
func contentSample(t *Tree) []string {
	var list []string
	for i, f := range t.Files {
		if f.Large || i%97 == 0 {
			list = append(list, f.Path)
		}
	}
	return list
}

// generatorVersion changes whenever the generators would write different
// trees for the same spec, so that cached trees are rebuilt.
const generatorVersion = 1

// cached returns the value stored beside root for key, or builds root
// afresh with build and stores the value. Trees are large; reusing them
// across runs of the suite (with -work) saves minutes.
func cached[T any](root string, key any, build func(root string) (T, error)) (T, error) {
	var zero T
	manifest := root + ".manifest.json"
	type stored struct {
		Key   json.RawMessage
		Value T
	}
	keyJSON, err := json.Marshal(struct {
		Generator int
		Key       any
	}{generatorVersion, key})
	if err != nil {
		return zero, err
	}
	if b, err := os.ReadFile(manifest); err == nil {
		var st stored
		if json.Unmarshal(b, &st) == nil && bytes.Equal(st.Key, keyJSON) {
			if _, err := os.Stat(root); err == nil {
				return st.Value, nil
			}
		}
	}
	_ = os.Remove(manifest)
	if err := os.RemoveAll(root); err != nil {
		return zero, err
	}
	v, err := build(root)
	if err != nil {
		return zero, err
	}
	b, err := json.Marshal(stored{Key: keyJSON, Value: v})
	if err != nil {
		return zero, err
	}
	if err := os.WriteFile(manifest, b, 0o600); err != nil {
		return zero, err
	}
	return v, nil
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
