package rsync

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// Options select what a transfer preserves and does. The zero value plus
// Logger gives `rsync -a` (recursive, links, perms, times, group, owner,
// devices) semantics.
type Options struct {
	// RsyncPath is the remote command that starts rsync, inserted verbatim
	// (it may be e.g. "sudo rsync" or "rsync --protocol=30"). Default "rsync".
	RsyncPath string
	// Delete removes extraneous files from the receiving side (rsync --delete).
	Delete bool
	// Checksum compares files by content instead of size+mtime (rsync -c).
	Checksum bool
	// DryRun changes nothing and reports what would change (rsync -n -i).
	DryRun bool
	// Exclude and Include are rsync filter patterns; see filter rules.
	Exclude []string
	Include []string
	// Protect patterns are never deleted on the receiving side (rsync's
	// "P pattern" filter rule); matching files are still transferred.
	Protect []string
	// ChecksumChoice restricts negotiation to one algorithm (rsync
	// --checksum-choice): "xxh128", "xxh3", "xxh64" or "md5". Empty offers
	// them all, strongest first.
	ChecksumChoice string
	// Compress compresses file data on the wire (rsync -z), negotiating
	// zstd, zlibx or zlib with the server.
	Compress bool
	// CompressChoice restricts -z to one algorithm ("zstd", "zlibx",
	// "zlib"), like rsync --compress-choice. Empty offers all of them.
	CompressChoice string
	// CompressLevel is the compression level; 0 is the algorithm's default.
	CompressLevel int
	// Chmod changes the permissions of what is sent, in rsync's --chmod
	// syntax (e.g. "D755,F644" or "u+rwX,go-w"); see ParseChmod.
	Chmod string
	// Owner and Group set the owner and group of every file written
	// (rsync --chown=OWNER:GROUP), when the receiving user may do so.
	Owner string
	Group string
	// NoDevices and NoSpecials turn off the two halves of rsync -a's -D
	// (rsync --no-devices, --no-specials): device files, and fifos and
	// sockets, are then listed but not created on the receiving side
	// (and not deleted there either, as with rsync). With them on, a
	// receiver creates device files only when it runs as root.
	NoDevices  bool
	NoSpecials bool
	// HardLinks keeps hard-linked files hard-linked (rsync -H).
	HardLinks bool
	// Sparse makes the receiver write runs of zeros as holes (rsync -S).
	Sparse bool
	// BackupDir keeps what a transfer replaces or deletes, under its path
	// relative to the destination, in this directory (rsync --backup
	// --backup-dir); relative to the destination when relative. When it
	// lies inside the destination it is excluded from the transfer, so that
	// it is neither sent, nor deleted, nor listed.
	BackupDir string
	// BwLimit caps what we write to and read from the transport, each
	// direction, in KiB per second (rsync --bwlimit, applied on our side of
	// the wire). 0 means no limit.
	BwLimit int
	// MaxProtocol caps the protocol version we announce (30..32); 0 = 32.
	MaxProtocol int
	// Logger receives debug/trace output. nil means no logging.
	Logger hclog.Logger
	// ProgressInterval is how often a transfer logs its progress at INFO
	// (files and bytes done of the total, rate, time left); 0 means
	// DefaultProgressInterval, negative never. A transfer shorter than
	// one interval logs none.
	ProgressInterval time.Duration
	// Clock is the time source of progress reports; nil: the real clock.
	Clock Clock

	// LinkDest are rsync --link-dest directories (at most 20; a relative
	// one is relative to the destination directory): a file missing from
	// the destination that is unchanged in one of them is hard-linked from
	// it instead of sent, and a changed one uses it as the delta basis.
	LinkDest []string

	// EstimateOnly makes Push change nothing and send no file data: it
	// learns from the server's block signatures what the push would send
	// (estimate.go), file by file, in Result.Estimates. Only the regular
	// files named in EstimatePaths (file-list names) are looked at; Delete,
	// Checksum, Compress, Owner and Group do not apply.
	EstimateOnly  bool
	EstimatePaths []string

	// WholeFile is rsync -W for our receiver (Pull, Local): it sends no
	// block signatures, so the sender sends every file it is asked for
	// whole. Local sets it, as rsync does when both paths are local
	// (options.c: whole_file unless --no-whole-file): reading the old copy
	// to checksum it costs more than copying, and the plan's estimate of a
	// local copy is then exact without reading a file.
	WholeFile bool

	// NoIncRecursive keeps Pull and List from offering incremental
	// recursion (rsync --no-inc-recursive): the server then sends the whole
	// file list before any file. Otherwise a protocol 30+ server sends it a
	// directory at a time and the receiver holds about one directory's
	// worth at a time (inclist.go).
	NoIncRecursive bool

	// OnChange, when set, receives each change of a push as the server
	// reports it, and Result.Changes stays empty: a caller that counts or
	// streams changes then holds none of them (an initial push of 100,000
	// files reports 100,000 creations). Called on the push's goroutine.
	OnChange func(Change)

	// SourceReadings, when set, is shared by the pushes of one local
	// source (one source pushed to many hosts): each directory is read
	// and every entry stat'ed by the first push that lists it, and the
	// others list it from that reading (flist.DirReadings). Readings are kept under what decides
	// them (the source as given, the rules, the walk options), so pushes
	// that differ there may share one SourceReadings without sharing a
	// reading.
	SourceReadings *flist.DirReadings

	// Parallel is how many receiver sessions a push may run at once, each
	// a `rsync --server` of its own over the transport, owning a part of
	// the tree (parallel.go); ParallelFor says how many a push of a given
	// size should use. 1 or less is one session, rsync's own way. The
	// parts keep rsync's semantics: what is created, replaced, deleted
	// (delete, exclude, protect and link-dest included), attributes and
	// the atomic rename of each file are those of one session. Result
	// and OnChange cover them all; OnChange is then called from several
	// goroutines, one call at a time. A push stays one session, whatever
	// Parallel says, when the split would change what it means or buys
	// nothing:
	//   - a source that is a single file, or a tree of fewer than 2,000
	//     entries, or one with fewer than two directories to hand out;
	//   - DryRun and EstimateOnly (one list answers them; a dry run's
	//     changes are read whole);
	//   - HardLinks (-H links names across the tree: two parts cannot
	//     link a name in one to a file the other creates);
	//   - BwLimit (a cap on the push's rate, not on each session's);
	//   - MaxProtocol 29 or lower, or a server that declines incremental
	//     recursion (a directory cannot be sent without its contents
	//     there: the first session then sends the whole tree);
	//   - PushEntries, Pull, List and Local (never split).
	// A server that refuses a part's session (sshd's MaxSessions) gets the
	// parts as many at a time as it takes.
	// rsync's other global modes — --max-delete, --delay-updates,
	// --delete-before/after — are not engine options; the provider checks
	// max_delete with a dry run before it pushes.
	Parallel int
	// parallelMin, for tests, replaces the smallest tree (entries) that
	// is split.
	parallelMin int

	// incProbe, for tests, is called by the incremental sender each time
	// it frees a list, with the entries it still holds in lists.
	incProbe func(inFlight int)
}

// MaxLinkDest is how many --link-dest directories rsync accepts
// (rsync.h MAX_BASIS_DIRS).
const MaxLinkDest = 20

// ChangeKind says what a transfer did (or, in a dry run, would do) to a path.
type ChangeKind string

const (
	ChangeCreate ChangeKind = "create"
	ChangeUpdate ChangeKind = "update" // content changed
	ChangeAttrs  ChangeKind = "attrs"  // only metadata (perms, times, owner)
	ChangeDelete ChangeKind = "delete"
)

// Change is one itemized change, like a line of `rsync -i`.
type Change struct {
	Path    string // relative to the destination root; directories end in "/"
	Kind    ChangeKind
	Itemize string // rsync's %i string, e.g. ">f+++++++++"
}

// Stats are the transfer counters.
type Stats struct {
	FilesTotal       int   // entries in the file list
	FilesTransferred int   // regular files whose data was sent
	BytesSent        int64 // bytes written to the transport
	BytesReceived    int64 // bytes read from the transport
	LiteralBytes     int64 // file data sent as literals
	MatchedBytes     int64 // file data reconstructed from the basis
	Deleted          int
}

// Result is what a transfer returns.
type Result struct {
	Changes []Change
	Stats   Stats
	// Protocol is the negotiated protocol version; Checksum the negotiated
	// checksum algorithm name.
	Protocol    int
	Checksum    string
	Compression string // "none" without -z
	// IncRecursive: the server sent its file list a directory at a time
	// (incremental recursion, the CF_INC_RECURSE compat flag).
	IncRecursive bool
	// Warnings are non-fatal messages from the remote rsync.
	Warnings []string
	// Estimates are an EstimateOnly push's per-file counts, in the order
	// the server asked for the files.
	Estimates []FileEstimate
	// Sessions is how many receiver sessions a push ran: 1, or more when
	// Options.Parallel split it.
	Sessions int
}

// ExitError is a non-zero exit of the remote rsync, with its own messages.
type ExitError struct {
	Code     int
	Messages string // the server's error text (stderr and in-band errors)
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("remote rsync exited with code %d (%s)", e.Code, exitCodeMeaning(e.Code))
	if e.Messages != "" {
		msg += ": " + e.Messages
	}
	return msg
}

// exitCodeMeaning mirrors the texts of rsync's errcode.h / log.c:rerr_names.
func exitCodeMeaning(code int) string {
	switch code {
	case 1:
		return "syntax or usage error"
	case 2:
		return "protocol incompatibility"
	case 3:
		return "errors selecting input/output files, dirs"
	case 4:
		return "requested action not supported"
	case 5:
		return "error starting client-server protocol"
	case 10:
		return "error in socket IO"
	case 11:
		return "error in file IO"
	case 12:
		return "error in rsync protocol data stream"
	case 13:
		return "errors with program diagnostics"
	case 14:
		return "error in IPC code"
	case 20:
		return "received SIGUSR1 or SIGINT"
	case 22:
		return "error allocating core memory buffers"
	case 23:
		return "some files could not be transferred"
	case 24:
		return "some files vanished before they could be transferred"
	case 25:
		return "the --max-delete limit stopped deletions"
	case 30:
		return "timeout in data send/receive"
	case 124:
		return "remote shell failed"
	case 125:
		return "remote shell killed"
	case 126:
		return "remote command could not be run"
	case 127:
		return "remote command not found"
	}
	if code > 128 && code < 160 {
		// A shell's (and SSH's) report of a command killed by a signal.
		return fmt.Sprintf("killed by signal %d%s", code-128, signalName(code-128))
	}
	return "unknown error"
}

func signalName(sig int) string {
	switch sig {
	case 1:
		return ", SIGHUP"
	case 2:
		return ", SIGINT"
	case 9:
		return ", SIGKILL"
	case 13:
		return ", SIGPIPE"
	case 15:
		return ", SIGTERM"
	}
	return ""
}
