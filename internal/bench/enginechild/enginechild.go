// Package enginechild is the process in which the benchmark runs one
// operation of our engine (a push, a drift check, a listing or a local
// tree hash): a request on stdin, a response on stdout. A child process
// per run gives each run its own CPU time and peak RSS.
//
// It imports the engine (internal/rsync, internal/sshconn, internal/tree)
// and nothing of the benchmark harness, so that the small binary built
// from it (internal/cmd/bench/enginechild) measures what a program using
// the engine pays: the file-backed pages of a Go binary are mapped whole
// here (its text and read-only data are resident once it runs), so a
// child that carried the harness would be charged for the harness's code
// too. Profiling stays out of it: importing runtime/pprof turns on the
// runtime's allocation sampling, whose bucket table is memory too; the
// bench binary runs profiled requests itself (Main with a Profiler).
package enginechild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/bench/rusage"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// The operations (bench.Op's values for our engine).
const (
	OpPush  = "push"
	OpDrift = "drift"
	OpList  = "list"
	OpHash  = "hash"
)

// Request is one operation.
type Request struct {
	Op         string `json:"op"`
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

// Changes is what a drift check found: paths relative to the tree root,
// sorted.
type Changes struct {
	Create []string `json:"create"`
	Update []string `json:"update"`
	Delete []string `json:"delete"`
}

// Response is what the operation did.
type Response struct {
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

// Profiler starts the CPU and allocation profiles a request asks for
// (either path may be empty); stop writes them.
type Profiler func(cpuPath, memPath string) (stop func() error, err error)

// GCPercent is the engine child's GOGC (see Main).
const GCPercent = 25

// ErrNoProfiler is Main's answer to a request for profiles without a
// Profiler.
var ErrNoProfiler = errors.New("this binary does not profile (the bench binary's engine mode does)")

// Main reads a request from in, runs it, and writes the response to out.
// prof, when not nil, serves the request's profiles.
func Main(ctx context.Context, in io.Reader, out io.Writer, prof Profiler) (err error) {
	var req Request
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
		debug.SetGCPercent(GCPercent)
	}
	if req.CPUProfile != "" || req.MemProfile != "" {
		if prof == nil {
			return ErrNoProfiler
		}
		stop, err := prof(req.CPUProfile, req.MemProfile)
		if err != nil {
			return err
		}
		defer func() {
			if serr := stop(); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	var resp *Response
	switch req.Op {
	case OpPush, "":
		resp, err = push(ctx, req)
	case OpDrift:
		resp, err = drift(ctx, req)
	case OpList:
		resp, err = list(ctx, req)
	case OpHash:
		resp, err = hash(ctx, req)
	default:
		err = fmt.Errorf("unknown operation %q", req.Op)
	}
	if err != nil {
		return err
	}
	resp.PeakRSS = selfPeakRSS()
	return json.NewEncoder(out).Encode(resp)
}

func dial(ctx context.Context, req Request) (*ssh.Client, error) {
	return sshconn.Dial(ctx, sshconn.Config{
		Host: req.Host, Port: req.Port, User: req.User,
		PrivateKeyFile: req.KeyFile, HostKey: req.HostKey, Timeout: 30 * time.Second,
	})
}

// dialAndList dials and lists req.Dest with checksums (rsync.List);
// dialed is when the connection was up, where the listing's work starts.
func dialAndList(ctx context.Context, req Request) (l *rsync.Listing, dialed time.Time, err error) {
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

// push is rsync.Push with Options{Delete, Parallel}, Parallel as the
// provider would choose it for the push (Job.Pending). The changes are let go as
// they come (Options.OnChange), as the rsync CLI without -i keeps none
// (an initial push of the tiny tree reports one per file); the bench
// reports the Stats.
func push(ctx context.Context, req Request) (*Response, error) {
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
	return &Response{
		Stats: res.Stats, Protocol: res.Protocol, Checksum: res.Checksum, Compression: res.Compression,
		Dial: t1.Sub(t0), Work: time.Since(t1), Sessions: res.Sessions,
	}, nil
}

// drift is the checksummed drift check: the source is read and hashed
// locally (tree.Local, one worker per CPU) while the remote rsync lists
// and hashes the destination (rsync.List with Checksum); then tree.Diff
// of the two manifests, with deletions, as rsync -ac -n --delete would
// report them. The local hash starts first and overlaps the dial.
func drift(ctx context.Context, req Request) (*Response, error) {
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
	slices.Sort(ch.Create)
	slices.Sort(ch.Update)
	slices.Sort(ch.Delete)
	return &Response{
		Changes: ch, Protocol: l.Protocol, Checksum: l.Checksum,
		Dial: t1.Sub(t0), Work: time.Since(t1), Local: loc.took, Remote: remoteTook,
	}, nil
}

// list is rsync.List with checksums of the destination.
func list(ctx context.Context, req Request) (*Response, error) {
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
	return &Response{
		Protocol: l.Protocol, Checksum: l.Checksum, Dial: t1.Sub(t0), Work: work,
		Listed: len(names), ListDigest: NamesDigest(names),
	}, nil
}

// hash is the plan-time hash of the local source: tree.Local in Content
// mode with xxh128, and the manifest's Hash.
func hash(ctx context.Context, req Request) (*Response, error) {
	t0 := time.Now()
	m, _, err := tree.Local(ctx, req.Source, nil, tree.Content, csum.XXH128)
	if err != nil {
		return nil, fmt.Errorf("hash: %w", err)
	}
	h := m.Hash()
	return &Response{Work: time.Since(t0), Bytes: m.Bytes(), Files: m.Files(), TreeHash: h, Checksum: "xxh128"}, nil
}

// NamesDigest identifies a set of names: a SHA-256 of the sorted names,
// one per line (a listing of ours is compared with the CLI's by it).
func NamesDigest(names []string) string {
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	h := sha256.New()
	for _, n := range sorted {
		h.Write([]byte(n))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// selfPeakRSS is this process's own peak RSS (VmHWM), in bytes: exact for
// the engine child, whatever its launcher's floor.
func selfPeakRSS() int64 { return rusage.StatusKB("VmHWM") * 1024 }
