package bench

import (
	"context"
	"time"
)

// Endpoint is where the tools connect: the proxy in front of sshd.
type Endpoint struct {
	Host           string
	Port           int
	User           string
	KeyFile        string
	KnownHostsFile string // for OpenSSH
	HostKey        string // authorized_keys line, for our engine
}

// Op is what a run does.
type Op string

// The operations a scenario measures.
const (
	// OpPush sends Source into Dest (rsync -a --delete SRC/ host:DST/).
	OpPush Op = "push"
	// OpDrift compares Source with Dest by content and reports what a
	// sync would change, changing nothing (rsync -ac -n --delete).
	OpDrift Op = "drift"
	// OpList lists Dest with a checksum per file (rsync -r -c --list-only).
	OpList Op = "list"
	// OpHash hashes the local Source tree (plan time; no remote, no peer).
	OpHash Op = "hash"
	// OpApply is terraform apply of a configuration that copies Source
	// into Dest (see terraform.go).
	OpApply Op = "apply"
	// OpPlan is terraform plan of rsync_directory, with and without the
	// transfer estimate (issue 18).
	OpPlan Op = "plan"
	// OpFleet is terraform plan or apply of one source to many
	// destinations against the rsync CLI once per destination (fleet.go).
	OpFleet Op = "fleet"
)

// Job is one run: an operation on Source (local) and Dest (on the remote).
type Job struct {
	Op           Op
	Source, Dest string // local directories, absolute
	Delete       bool
	Endpoint     Endpoint
	RsyncPath    string // remote rsync command; "" is "rsync"
	UsageFile    string // where the launcher records the tool's usage
	CPUProfile   string // engine only: write a CPU profile here
	MemProfile   string // engine only: write an allocation profile here
	WorkDir      string // apply: the Terraform working directory
	TreeID       string // apply: identifies the source tree's content (the peer's trigger)
	// Pending is what the push changes, counted as the provider's plan
	// counts it (pending's create, update and delete counts): our engine
	// pushes with Options.Parallel = rsync.ParallelFor(Pending), as the
	// provider does.
	Pending int
}

// Run is one tool's run, as measured.
type Run struct {
	Client  Usage   // the tool's process (its ssh child included for the CLI)
	Server  *Usage  // the remote rsync, when it ran under the launcher
	Plugins []Usage // terraform: each provider process it started, when measured (TerraformRunner.PluginUsage)
	Up      int64   // bytes client→server through the proxy
	Down    int64   // bytes server→client through the proxy
	Sent    int64   // bytes sent as the tool counts them (engine stats, rsync --stats)
	Literal int64   // file data sent as literals
	Matched int64   // file data matched against the basis
	Files   int     // regular files transferred
	SSH     Handshake
	Conns   int // SSH connections the run opened through the proxy
	// Sessions is how many remote rsyncs the run started (ours: a
	// parallel push starts several; 0 means one).
	Sessions int
	Note     string // e.g. the negotiated checksum

	Work       time.Duration // ours: the operation in the process, after the dial (hash: tree.Local)
	Changes    *Changes      // drift: the paths a sync would change
	Listed     int           // list: entries listed
	ListDigest string        // list: digest of the sorted names
	HashBytes  int64         // hash: bytes hashed
	TreeHash   string        // hash: the manifest hash
}

// Wire is the total bytes through the proxy, both directions.
func (r Run) Wire() int64 { return r.Up + r.Down }

// Runner runs one job and measures it; the suite adds the proxy's counts.
type Runner interface {
	Name() string
	Run(ctx context.Context, job Job) (Run, error)
}
