package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
)

// EngineCommand is the hidden subcommand in which the bench binary runs
// one push with our engine: a request on stdin, a response on stdout. A
// child process per run gives each run its own CPU time and peak RSS.
const EngineCommand = "__engine-push"

type engineRequest struct {
	Host       string `json:"host"`
	Port       int    `json:"port"`
	User       string `json:"user"`
	KeyFile    string `json:"key_file"`
	HostKey    string `json:"host_key"`
	Source     string `json:"source"`
	Dest       string `json:"dest"`
	Delete     bool   `json:"delete"`
	RsyncPath  string `json:"rsync_path"`
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
	Push        time.Duration `json:"push"`
}

// EngineRunner runs our engine in a child process (Exe EngineCommand),
// started through the launcher.
type EngineRunner struct {
	Exe    string // the bench binary itself
	Launch Launcher
}

// Name is the report's label for our engine.
func (EngineRunner) Name() string { return "ours" }

// Run pushes job.Source to job.Dest with rsync.Push in a child process.
func (r EngineRunner) Run(ctx context.Context, job Job) (Run, error) {
	req, err := json.Marshal(engineRequest{
		Host: job.Endpoint.Host, Port: job.Endpoint.Port, User: job.Endpoint.User,
		KeyFile: job.Endpoint.KeyFile, HostKey: job.Endpoint.HostKey,
		Source: job.Source + "/", Dest: job.Dest + "/", Delete: job.Delete, RsyncPath: job.RsyncPath,
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
	return Run{
		Client:  u,
		Sent:    resp.Stats.BytesSent,
		Literal: resp.Stats.LiteralBytes,
		Matched: resp.Stats.MatchedBytes,
		Files:   resp.Stats.FilesTransferred,
		Note: fmt.Sprintf("protocol %d, %s; dial %s, push %s; own VmHWM %s",
			resp.Protocol, resp.Checksum, FormatDuration(resp.Dial), FormatDuration(resp.Push), FormatBytes(resp.PeakRSS)),
	}, nil
}

// EngineMain is the child: it reads a request from in, dials, pushes, and
// writes the response to out.
func EngineMain(ctx context.Context, in io.Reader, out io.Writer) (err error) {
	var req engineRequest
	if err := json.NewDecoder(in).Decode(&req); err != nil {
		return fmt.Errorf("read request: %w", err)
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
	t0 := time.Now()
	client, err := sshconn.Dial(ctx, sshconn.Config{
		Host: req.Host, Port: req.Port, User: req.User,
		PrivateKeyFile: req.KeyFile, HostKey: req.HostKey, Timeout: 30 * time.Second,
	})
	if err != nil {
		return err
	}
	defer client.Close()
	t1 := time.Now()
	res, err := rsync.Push(ctx, sshconn.NewTransport(client), req.Source, req.Dest, rsync.Options{
		Delete: req.Delete, RsyncPath: req.RsyncPath,
	})
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	resp := engineResponse{
		Stats: res.Stats, Protocol: res.Protocol, Checksum: res.Checksum, Compression: res.Compression,
		Dial: t1.Sub(t0), Push: time.Since(t1), PeakRSS: selfPeakRSS(),
	}
	return json.NewEncoder(out).Encode(resp)
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
