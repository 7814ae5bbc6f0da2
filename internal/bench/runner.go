package bench

import "context"

// Endpoint is where the tools connect: the proxy in front of sshd.
type Endpoint struct {
	Host           string
	Port           int
	User           string
	KeyFile        string
	KnownHostsFile string // for OpenSSH
	HostKey        string // authorized_keys line, for our engine
}

// Job is one push: the contents of Source into Dest on the remote.
type Job struct {
	Source, Dest string // local directories, absolute
	Delete       bool
	Endpoint     Endpoint
	RsyncPath    string // remote rsync command; "" is "rsync"
	UsageFile    string // where the launcher records the tool's usage
	CPUProfile   string // engine only: write a CPU profile here
	MemProfile   string // engine only: write an allocation profile here
}

// Run is one tool's run, as measured.
type Run struct {
	Client  Usage  // the tool's process (its ssh child included for the CLI)
	Server  *Usage // the remote rsync, when it ran under the launcher
	Up      int64  // bytes client→server through the proxy
	Down    int64  // bytes server→client through the proxy
	Sent    int64  // bytes sent as the tool counts them (engine stats, rsync --stats)
	Literal int64  // file data sent as literals
	Matched int64  // file data matched against the basis
	Files   int    // regular files transferred
	SSH     Handshake
	Note    string // e.g. the negotiated checksum
}

// Wire is the total bytes through the proxy, both directions.
func (r Run) Wire() int64 { return r.Up + r.Down }

// Runner runs one push and measures it; the suite adds the proxy's counts.
type Runner interface {
	Name() string
	Run(ctx context.Context, job Job) (Run, error)
}
