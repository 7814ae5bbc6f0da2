package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/bench/enginechild"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
)

// EngineCommand is the hidden subcommand in which the bench binary runs
// one operation of our engine itself (enginechild.Main), for profiled
// runs and when the small engine binary is not available.
const EngineCommand = "__engine-push"

// EngineChildName is the small engine binary's name beside the bench
// binary (internal/cmd/bench/enginechild; make bench builds it there).
const EngineChildName = "enginechild"

// FindEngineChild returns the small engine binary beside exe, or "".
func FindEngineChild(exe string) string {
	p := filepath.Join(filepath.Dir(exe), EngineChildName)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

// EngineRunner runs our engine in a child process, started through the
// launcher: the small engine binary Child when there is one, else the
// bench binary Exe in its EngineCommand mode. A profiled run always uses
// Exe (the child does not profile; see enginechild).
type EngineRunner struct {
	Exe    string // the bench binary itself
	Child  string // the small engine binary ("" when there is none)
	Launch Launcher
}

// Name is the report's label for our engine.
func (EngineRunner) Name() string { return "ours" }

// Run runs job.Op with our engine in a child process.
func (r EngineRunner) Run(ctx context.Context, job Job) (Run, error) {
	req, err := json.Marshal(enginechild.Request{
		Op:   string(job.Op),
		Host: job.Endpoint.Host, Port: job.Endpoint.Port, User: job.Endpoint.User,
		KeyFile: job.Endpoint.KeyFile, HostKey: job.Endpoint.HostKey,
		Source: job.Source + "/", Dest: job.Dest + "/", Delete: job.Delete, RsyncPath: job.RsyncPath,
		Parallel:   rsync.ParallelFor(job.Pending),
		CPUProfile: job.CPUProfile, MemProfile: job.MemProfile,
	})
	if err != nil {
		return Run{}, err
	}
	exe, args := r.Exe, []string{EngineCommand}
	if r.Child != "" && job.CPUProfile == "" && job.MemProfile == "" {
		exe, args = r.Child, nil
	}
	u, stdout, err := r.Launch.Run(ctx, job.UsageFile, bytes.NewReader(req), append(os.Environ(), "LC_ALL=C"), exe, args...)
	if err != nil {
		return Run{}, fmt.Errorf("our engine: %w", err)
	}
	var resp enginechild.Response
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
		if c := resp.Changes; c != nil {
			run.Changes = &Changes{Create: c.Create, Update: c.Update, Delete: c.Delete}
		}
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

// EngineMain is the bench binary's EngineCommand: enginechild.Main with
// profiling.
func EngineMain(ctx context.Context, in io.Reader, out io.Writer) error {
	return enginechild.Main(ctx, in, out, startProfiles)
}

// startProfiles starts a CPU profile into cpuPath and has stop write the
// allocations into memPath (either may be empty).
func startProfiles(cpuPath, memPath string) (stop func() error, err error) {
	var cpu *os.File
	if cpuPath != "" {
		if cpu, err = os.Create(cpuPath); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	if memPath != "" {
		runtime.MemProfileRate = 64 << 10
	}
	return func() error {
		var err error
		if cpu != nil {
			pprof.StopCPUProfile()
			err = cpu.Close()
		}
		if memPath != "" {
			if werr := writeAllocProfile(memPath); werr != nil && err == nil {
				err = werr
			}
		}
		return err
	}, nil
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
