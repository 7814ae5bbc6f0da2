package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// EngineCommand is the hidden subcommand in which the bench binary runs
// one operation of our engine (a push, a drift check, a listing or a local
// tree hash): a request on stdin, a response on stdout. A child process
// per run gives each run its own CPU time and peak RSS.
const EngineCommand = "__engine-push"

type engineRequest struct {
	Op         Op     `json:"op"`
	Host       string `json:"host"`
	Port       int    `json:"port"`
	User       string `json:"user"`
	KeyFile    string `json:"key_file"`
	HostKey    string `json:"host_key"`
	Source     string `json:"source"`
	Dest       string `json:"dest"`
	Delete     bool   `json:"delete"`
	RsyncPath  string `json:"rsync_path"`
	Parallel   int    `json:"parallel"` // push: Options.Parallel
	CPUProfile string `json:"cpu_profile"`
	MemProfile string `json:"mem_profile"`
}

type engineResponse struct {
	Stats       rsync.Stats   `json:"stats"`
	PeakRSS     int64         `json:"peak_rss"` // VmHWM at the end, bytes
	Protocol    int           `json:"protocol"`
	Checksum    string        `json:"checksum"`
	Compression string        `json:"compression"`
	Dial        time.Duration `json:"dial"`
	Work        time.Duration `json:"work"`     // the operation itself (after the dial, when there is one)
	Sessions    int           `json:"sessions"` // push: receiver sessions it ran

	Changes    *Changes      `json:"changes,omitempty"` // drift: what a sync would change
	Local      time.Duration `json:"local"`             // drift: tree.Local of the source
	Remote     time.Duration `json:"remote"`            // drift: dial + List with checksums
	Listed     int           `json:"listed"`            // list: entries in the listing
	ListDigest string        `json:"list_digest"`       // list: digest of the sorted names
	Bytes      int64         `json:"bytes"`             // hash: bytes of the regular files hashed
	Files      int           `json:"files"`             // hash: regular files hashed
	TreeHash   string        `json:"tree_hash"`         // hash: the manifest's Hash
}

// EngineRunner runs our engine in a child process (Exe EngineCommand),
// started through the launcher.
type EngineRunner struct {
	Exe    string // the bench binary itself
	Launch Launcher
}

// Name is the report's label for our engine.
func (EngineRunner) Name() string { return "ours" }

// Run runs job.Op with our engine in a child process.
func (r EngineRunner) Run(ctx context.Context, job Job) (Run, error) {
	req, err := json.Marshal(engineRequest{
		Op:   job.Op,
		Host: job.Endpoint.Host, Port: job.Endpoint.Port, User: job.Endpoint.User,
		KeyFile: job.Endpoint.KeyFile, HostKey: job.Endpoint.HostKey,
		Source: job.Source + "/", Dest: job.Dest + "/", Delete: job.Delete, RsyncPath: job.RsyncPath,
		Parallel:   rsync.ParallelFor(job.Pending),
		CPUProfile: job.CPUProfile, MemProfile: job.MemProfile,
	})
	if err != nil {
		return Run{}, err
	}
	u, stdout, err := r.Launch.Run(ctx, job.UsageFile, bytes.NewReader(req), append(os.Environ(), "LC_ALL=C"), r.Exe, EngineCommand)
	if err != nil {
		return Run{}, fmt.Errorf("our engine: %w", err)
	}
	var resp engineResponse
	if err := json.Unmarshal(stdout, &resp); err != nil {
		return Run{}, fmt.Errorf("our engine: bad response %q: %w", stdout, err)
	}
	run := Run{
		Client:  u,
		Sent:    resp.Stats.BytesSent,
		Literal: resp.Stats.LiteralBytes,
		Matched: resp.Stats.MatchedBytes,
		Files:   resp.Stats.FilesTransferred,
		Work:    resp.Work,
	}
	vmhwm := "own VmHWM " + FormatBytes(resp.PeakRSS)
	switch job.Op {
	case OpDrift:
		run.Changes = resp.Changes
		run.Note = fmt.Sprintf("%s; tree.Local %s ∥ dial + List %s; %s",
			resp.Checksum, FormatDuration(resp.Local), FormatDuration(resp.Remote), vmhwm)
	case OpList:
		run.Listed, run.ListDigest = resp.Listed, resp.ListDigest
		run.Note = fmt.Sprintf("protocol %d, %s; dial %s, List %s; %s",
			resp.Protocol, resp.Checksum, FormatDuration(resp.Dial), FormatDuration(resp.Work), vmhwm)
	case OpHash:
		run.HashBytes, run.Files, run.TreeHash = resp.Bytes, resp.Files, resp.TreeHash
		run.Note = fmt.Sprintf("tree.Local %s for %s files; %s", FormatDuration(resp.Work), count(resp.Files), vmhwm)
	default:
		run.Sessions = resp.Sessions
		sessions := "1 receiver session"
		if resp.Sessions > 1 {
			sessions = fmt.Sprintf("%d receiver sessions (parallel)", resp.Sessions)
		}
		run.Note = fmt.Sprintf("protocol %d, %s; %s; dial %s, push %s; %s",
			resp.Protocol, resp.Checksum, sessions, FormatDuration(resp.Dial), FormatDuration(resp.Work), vmhwm)
	}
	return run, nil
}

// engineGCPercent is the engine child's GOGC (see EngineMain).
const engineGCPercent = 25

// EngineMain is the child: it reads a request from in, runs it, and writes
// the response to out.
func EngineMain(ctx context.Context, in io.Reader, out io.Writer) (err error) {
	var req engineRequest
	if err := json.NewDecoder(in).Decode(&req); err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if os.Getenv("GOGC") == "" {
		// An engine process's live heap is small (with incremental
		// recursion a push holds the lists in flight, about a megabyte
		// for tiny files) and what it allocates per file is garbage at
		// once; at the default GOGC=100 the runtime lets the heap reach
		// its 4 MB minimum goal before collecting, which is most of the
		// peak RSS above the process's baseline (20,000 tiny files,
		// local pipe: 11.4 MB peak at GOGC=100, 8.9 MB at 25; the extra
		// collections of a few-megabyte heap cost well under 1% CPU).
		// An explicit GOGC still wins.
		debug.SetGCPercent(engineGCPercent)
	}
	if req.CPUProfile != "" {
		f, err := os.Create(req.CPUProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if req.MemProfile != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if perr := writeAllocProfile(req.MemProfile); perr != nil && err == nil {
				err = perr
			}
		}()
	}
	var resp *engineResponse
	switch req.Op {
	case OpPush, "":
		resp, err = enginePush(ctx, req)
	case OpDrift:
		resp, err = engineDrift(ctx, req)
	case OpList:
		resp, err = engineList(ctx, req)
	case OpHash:
		resp, err = engineHash(ctx, req)
	default:
		err = fmt.Errorf("unknown operation %q", req.Op)
	}
	if err != nil {
		return err
	}
	resp.PeakRSS = selfPeakRSS()
	return json.NewEncoder(out).Encode(resp)
}

func dial(ctx context.Context, req engineRequest) (*ssh.Client, error) {
	return sshconn.Dial(ctx, sshconn.Config{
		Host: req.Host, Port: req.Port, User: req.User,
		PrivateKeyFile: req.KeyFile, HostKey: req.HostKey, Timeout: 30 * time.Second,
	})
}

// dialAndList dials and lists req.Dest with checksums (rsync.List);
// dialed is when the connection was up, where the listing's work starts.
func dialAndList(ctx context.Context, req engineRequest) (l *rsync.Listing, dialed time.Time, err error) {
	client, err := dial(ctx, req)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer client.Close()
	dialed = time.Now()
	l, err = rsync.List(ctx, sshconn.NewTransport(client), req.Dest, rsync.Options{Checksum: true, RsyncPath: req.RsyncPath})
	if err != nil {
		return nil, dialed, fmt.Errorf("list: %w", err)
	}
	return l, dialed, nil
}

// enginePush is rsync.Push with Options{Delete, Parallel}, Parallel as
// the provider would choose it for the push (Job.Pending). The changes are let go
// as they come (Options.OnChange), as the rsync CLI without -i keeps none
// (an initial push of the tiny tree reports one per file); the bench
// reports the Stats.
func enginePush(ctx context.Context, req engineRequest) (*engineResponse, error) {
	t0 := time.Now()
	client, err := dial(ctx, req)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	t1 := time.Now()
	res, err := rsync.Push(ctx, sshconn.NewTransport(client), req.Source, req.Dest, rsync.Options{
		Delete: req.Delete, RsyncPath: req.RsyncPath, Parallel: req.Parallel,
		OnChange: func(rsync.Change) {},
	})
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	return &engineResponse{
		Stats: res.Stats, Protocol: res.Protocol, Checksum: res.Checksum, Compression: res.Compression,
		Dial: t1.Sub(t0), Work: time.Since(t1), Sessions: res.Sessions,
	}, nil
}

// engineDrift is the checksummed drift check: the source is read and
// hashed locally (tree.Local, one worker per CPU) while the remote rsync
// lists and hashes the destination (rsync.List with Checksum); then
// tree.Diff of the two manifests, with deletions, as rsync -ac -n --delete
// would report them. The local hash starts first and overlaps the dial.
func engineDrift(ctx context.Context, req engineRequest) (*engineResponse, error) {
	t0 := time.Now()
	type localResult struct {
		m    *tree.Manifest
		err  error
		took time.Duration
	}
	localc := make(chan localResult, 1)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		m, _, err := tree.Local(lctx, req.Source, nil, tree.Content, csum.XXH128)
		localc <- localResult{m, err, time.Since(t0)}
	}()
	l, t1, err := dialAndList(ctx, req)
	if err != nil {
		return nil, err
	}
	remoteTook := time.Since(t0)
	loc := <-localc
	if loc.err != nil {
		return nil, fmt.Errorf("hash the source: %w", loc.err)
	}
	algo, ok := csum.ByName(l.Checksum)
	if !ok || algo != csum.XXH128 {
		// The bench hashes locally with xxh128 before it knows; a server
		// that negotiates anything else would make every file differ.
		return nil, fmt.Errorf("the remote rsync checksummed with %q, not xxh128", l.Checksum)
	}
	remote := tree.FromEntries(l.Entries, "", tree.Content, algo)
	d := tree.Diff(loc.m, remote, req.Delete, nil)
	ch := &Changes{Create: d.Create, Update: d.Update, Delete: d.Delete}
	ch.sort()
	return &engineResponse{
		Changes: ch, Protocol: l.Protocol, Checksum: l.Checksum,
		Dial: t1.Sub(t0), Work: time.Since(t1), Local: loc.took, Remote: remoteTook,
	}, nil
}

// engineList is rsync.List with checksums of the destination.
func engineList(ctx context.Context, req engineRequest) (*engineResponse, error) {
	t0 := time.Now()
	l, t1, err := dialAndList(ctx, req)
	if err != nil {
		return nil, err
	}
	work := time.Since(t1)
	names := make([]string, len(l.Entries))
	for i, e := range l.Entries {
		names[i] = e.Name
		if e.IsRegular() && len(e.Checksum) == 0 {
			return nil, fmt.Errorf("list: %s came without a checksum", e.Name)
		}
	}
	return &engineResponse{
		Protocol: l.Protocol, Checksum: l.Checksum, Dial: t1.Sub(t0), Work: work,
		Listed: len(names), ListDigest: namesDigest(names),
	}, nil
}

// engineHash is the plan-time hash of the local source: tree.Local in
// Content mode with xxh128, and the manifest's Hash.
func engineHash(ctx context.Context, req engineRequest) (*engineResponse, error) {
	t0 := time.Now()
	m, _, err := tree.Local(ctx, req.Source, nil, tree.Content, csum.XXH128)
	if err != nil {
		return nil, fmt.Errorf("hash: %w", err)
	}
	h := m.Hash()
	return &engineResponse{Work: time.Since(t0), Bytes: m.Bytes(), Files: m.Files(), TreeHash: h, Checksum: "xxh128"}, nil
}

func writeAllocProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("alloc profile: %w", err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return fmt.Errorf("alloc profile: %w", err)
	}
	return nil
}

// selfPeakRSS is this process's own peak RSS (VmHWM), in bytes: exact for
// the engine child, whatever its launcher's floor.
func selfPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return n * 1024
			}
		}
	}
	return 0
}
