package rsync

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/localfile"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/delta"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// Protocol versions we speak. 27–29 are rsync 2.6.x and openrsync (macOS,
// OpenBSD): no compat flags, fixed-width file lists and indexes, md4 and
// no name negotiation (see oldproto.go).
const (
	MinProtocol     = 27
	DefaultProtocol = 32
)

// compat flags (compat.c, rsync.h CF_*).
const (
	cfIncRecurse      = 1 << 0
	cfSymlinkTimes    = 1 << 1
	cfSymlinkIconv    = 1 << 2
	cfSafeFlist       = 1 << 3
	cfAvoidXattrOptim = 1 << 4
	cfChksumSeedFix   = 1 << 5
	cfInplacePartial  = 1 << 6
	cfVarintFlistFlag = 1 << 7
	cfID0Names        = 1 << 8
)

// capabilities is the -e argument: no 'i' (no incremental recursion, one
// file list), everything else a 3.2+ client sends (options.c:maybe_add_e_option).
// A role that can take incremental recursion appends capIncRecurse.
const capabilities = ".LsfxCIvu"

// capIncRecurse is the capability letter that offers incremental recursion
// (compat.c:set_allow_inc_recurse looks for it). A role appends it to its
// -e argument only when it can take the lists a directory at a time; the
// handshake accepts CF_INC_RECURSE only when the -e argument carried it.
const capIncRecurse = "i"

// offersIncRecurse reports whether the server arguments' -e capability
// string offers incremental recursion.
func offersIncRecurse(args []string) bool {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") || strings.HasPrefix(a, "--") {
			continue
		}
		if _, caps, ok := strings.Cut(a, "e."); ok {
			return strings.Contains(caps, capIncRecurse)
		}
	}
	return false
}

// session is one connection to a remote `rsync --server`: the handshake
// results, the multiplexed streams and what the server told us on the side.
type session struct {
	proc Process
	log  hclog.Logger

	in  *wire.MuxReader
	r   *wire.Reader
	out *wire.MuxWriter
	w   *wire.Writer

	protocol int
	compat   uint32
	algo     csum.Algo
	compress delta.Compression
	seed     int32

	ndxIn, ndxOut wire.NdxState
	uidNames      []flist.IDName // a sender's uid/gid names (pull)
	gidNames      []flist.IDName
	tokens        tokenSink
	prog          *progress        // nil when progress is not reported (progress.go)
	matcher       delta.Matcher    // reused by every file a sender sends
	whole         hash.Hash        // whole-file checksum, reset per file
	files         localfile.Opener // a sender's: opens the files it sends
	ctr           *delta.CompressedTokenReader

	mu        sync.Mutex
	remoteErr []string // MSG_ERROR / MSG_ERROR_XFER text
	warnings  []string
	deleted   []string // MSG_DELETED names, directories with a trailing "/"
	ioError   int32
	exitCode  int  // from MSG_ERROR_EXIT
	gotExit   bool // MSG_ERROR_EXIT seen
	noSend    []int32

	sent []sentItem // a sender's first-phase requests, for Result.Changes

	estimate bool // a sender that only counts (estimate.go)

	// incOffered: we offered incremental recursion ('i' in -e); inc is
	// the sender's state once the server took it (push_inc.go).
	incOffered bool
	inc        *incSender
	onChange   func(Change) // Options.OnChange of a push

	stderr     *tailBuffer
	stderrDone chan struct{}
	stopCtx    func() bool
}

// errRemoteExit is returned by the message handler when the server
// announced its exit with MSG_ERROR_EXIT; the caller then collects the exit
// status and the server's text.
var errRemoteExit = errors.New("remote rsync is exiting with an error")

// start launches the server and performs the handshake
// (compat.c:setup_protocol, negotiate_the_strings).
// startError is a remote rsync that could not be started (Transport.Start
// failed): nothing was sent. A parallel push tells it from a failure
// during the transfer (an SSH server that allows fewer sessions).
type startError struct{ err error }

func (e *startError) Error() string { return "start remote rsync: " + e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

func start(ctx context.Context, t Transport, opts Options, args []string) (*session, error) {
	logger := opts.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	rsyncPath := strings.TrimSpace(opts.RsyncPath)
	if rsyncPath == "" {
		rsyncPath = "rsync"
	}
	command := rsyncPath + " " + shellJoin(args)
	logger.Debug("starting remote rsync", "command", command)
	proc, err := t.Start(ctx, command)
	if err != nil {
		return nil, &startError{err: err}
	}
	s := &session{proc: proc, log: logger, stderr: newTailBuffer(16 << 10), stderrDone: make(chan struct{}), incOffered: offersIncRecurse(args)}
	// Cancellation must unblock every read and write: killing the process
	// closes its streams.
	s.stopCtx = context.AfterFunc(ctx, func() { _ = proc.Kill() })
	go func() {
		defer close(s.stderrDone)
		s.drainStderr(proc.Stderr())
	}()

	stdin, stdout := limitTransport(ctx, proc.Stdin(), proc.Stdout(), opts.BwLimit)
	s.out = wire.NewMuxWriter(stdin)
	s.w = wire.NewWriter(s.out)
	// Flush what we have written whenever we are about to wait for the
	// server (io.c:perform_io does the same), so small answers batch into
	// few frames but never sit in our buffer while the peer waits for them.
	s.in = wire.NewMuxReader(&flushingReader{r: stdout, flush: s.out.Flush}, s.handleMsg)
	s.r = wire.NewReader(s.in)

	if err := s.handshake(opts); err != nil {
		return nil, s.fail(ctx, fmt.Errorf("handshake: %w", err))
	}
	return s, nil
}

func (s *session) handshake(opts Options) error {
	ours := DefaultProtocol
	if opts.MaxProtocol != 0 {
		if opts.MaxProtocol < MinProtocol || opts.MaxProtocol > DefaultProtocol {
			return fmt.Errorf("protocol %d is not supported (use %d..%d)", opts.MaxProtocol, MinProtocol, DefaultProtocol)
		}
		ours = opts.MaxProtocol
	}
	// Both sides send their version at once (compat.c:setup_protocol). A
	// write that fails is not reported before we have looked at what the
	// peer said: a program that is not rsync may have printed and exited.
	s.w.Int32(int32(ours))
	writeErr := s.out.Flush()
	theirs := int(s.r.Int32())
	if err := s.r.Err(); err != nil {
		if writeErr != nil {
			return fmt.Errorf("send protocol version: %w", writeErr)
		}
		return fmt.Errorf("read server protocol version: %w", err)
	}
	if theirs < 20 || theirs > 40 {
		var raw [4]byte
		binary.LittleEndian.PutUint32(raw[:], uint32(theirs))
		return fmt.Errorf("the server answered %q instead of an rsync protocol version: the remote command is not rsync, or the login shell prints text for non-interactive sessions (check rsync_path and the shell's startup files)", raw[:])
	}
	if writeErr != nil {
		return fmt.Errorf("send protocol version: %w", writeErr)
	}
	s.protocol = min(ours, theirs)
	if s.protocol < MinProtocol {
		return fmt.Errorf("the server speaks rsync protocol %d; protocol %d or later (rsync 2.6+, openrsync) is required", theirs, MinProtocol)
	}
	if s.protocol < 30 {
		return s.handshakeOld(opts)
	}
	s.compat = uint32(s.r.Varint())
	if err := s.r.Err(); err != nil {
		return fmt.Errorf("read compat flags: %w", err)
	}
	if s.compat&cfIncRecurse != 0 && !s.incOffered {
		return errors.New("the server enabled incremental recursion, which we did not offer")
	}
	s.algo = csum.MD5 // protocol ≥ 30 without negotiation (checksum.c:parse_csum_name)
	offer := csum.Offered
	if opts.ChecksumChoice != "" {
		a, ok := csum.ByName(opts.ChecksumChoice)
		if !ok {
			return fmt.Errorf("checksum choice %q is not supported (use xxh128, xxh3, xxh64 or md5)", opts.ChecksumChoice)
		}
		if a == csum.MD4 {
			return fmt.Errorf("checksum choice %q is not supported at protocol %d (use xxh128, xxh3, xxh64 or md5)", opts.ChecksumChoice, s.protocol)
		}
		offer = []csum.Algo{a}
	}
	compressOffer := delta.OfferedCompressions
	if opts.CompressChoice != "" {
		c, ok := delta.CompressionByName(opts.CompressChoice)
		if !ok || c == delta.CompressNone {
			return fmt.Errorf("compression choice %q is not supported (use zstd, zlibx or zlib)", opts.CompressChoice)
		}
		compressOffer = []delta.Compression{c}
	}
	if opts.Compress {
		// Without name negotiation -z means zlib (compat.c:parse_compress_choice).
		s.compress = delta.CompressZlib
	}
	if s.compat&cfVarintFlistFlag != 0 {
		// Both lists go out before either is read (compat.c:negotiate_the_strings).
		s.w.Vstring(csum.OfferString(offer))
		if opts.Compress {
			s.w.Vstring(compressionList(compressOffer))
		}
		if err := s.out.Flush(); err != nil {
			return fmt.Errorf("send checksum list: %w", err)
		}
		list := s.r.Vstring(1024)
		if err := s.r.Err(); err != nil {
			return fmt.Errorf("read checksum list: %w", err)
		}
		algo, err := csum.Negotiate(offer, list)
		if err != nil {
			return err
		}
		s.algo = algo
		if opts.Compress {
			list := s.r.Vstring(1024)
			if err := s.r.Err(); err != nil {
				return fmt.Errorf("read compression list: %w", err)
			}
			c, err := negotiateCompression(compressOffer, list)
			if err != nil {
				return err
			}
			s.compress = c
		}
	}
	s.seed = s.r.Int32()
	if err := s.r.Err(); err != nil {
		return fmt.Errorf("read checksum seed: %w", err)
	}
	s.in.Enable()
	if err := s.out.Enable(); err != nil {
		return err
	}
	s.log.Debug("rsync handshake done", "protocol", s.protocol, "compat", fmt.Sprintf("%#x", s.compat), "checksum", s.algo.Name(), "compression", s.compress.Name())
	return nil
}

func (s *session) varintFlags() bool { return s.compat&cfVarintFlistFlag != 0 }
func (s *session) incRecurse() bool  { return s.compat&cfIncRecurse != 0 }
func (s *session) id0Names() bool    { return s.compat&cfID0Names != 0 }
func (s *session) seedFirst() bool   { return s.compat&cfChksumSeedFix != 0 }

// strong returns the block strong-sum function for this session.
func (s *session) strong() func(dst, block []byte) []byte {
	algo, seed, first := s.algo, s.seed, s.seedFirst()
	return func(dst, block []byte) []byte { return algo.Block(dst, block, seed, first) }
}

func compressionList(cs []delta.Compression) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name()
	}
	return strings.Join(names, " ")
}

// negotiateCompression picks the first of ours the server also lists.
func negotiateCompression(ours []delta.Compression, serverList string) (delta.Compression, error) {
	theirs := map[delta.Compression]bool{}
	for _, name := range strings.Fields(serverList) {
		if c, ok := delta.CompressionByName(name); ok {
			theirs[c] = true
		}
	}
	for _, c := range ours {
		if theirs[c] {
			return c, nil
		}
	}
	return 0, fmt.Errorf("no compression in common: the server offers %q, we support %q", serverList, compressionList(ours))
}

// compressedTokens returns the session's compressed token reader.
func (s *session) compressedTokens() *delta.CompressedTokenReader {
	if s.ctr == nil {
		s.ctr = delta.NewCompressedTokenReader(s.compress)
	}
	return s.ctr
}

func (s *session) closeDecoder() {
	if s.ctr != nil {
		s.ctr.Close()
	}
}

// handleMsg receives every multiplexed non-data message (io.c:read_a_msg).
func (s *session) handleMsg(tag wire.MsgTag, payload []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	text := strings.TrimRight(string(payload), "\n")
	switch tag {
	case wire.MsgInfo:
		s.log.Info("remote rsync", "message", text)
	case wire.MsgWarning:
		s.log.Warn("remote rsync", "warning", text)
		s.warnings = append(s.warnings, text)
	case wire.MsgError, wire.MsgErrorXfer, wire.MsgErrorUTF8:
		s.log.Error("remote rsync", "error", text)
		s.remoteErr = append(s.remoteErr, text)
	case wire.MsgErrorExit:
		s.gotExit = true
		if len(payload) >= 4 {
			s.exitCode = int(int32(binary.LittleEndian.Uint32(payload)))
		}
		return errRemoteExit
	case wire.MsgDeleted:
		name := string(payload)
		if strings.HasSuffix(name, "\x00") {
			name = strings.TrimSuffix(name, "\x00") + "/"
		}
		s.deleted = append(s.deleted, name)
	case wire.MsgIOError:
		if len(payload) != 4 {
			return fmt.Errorf("%w: MSG_IO_ERROR with %d bytes", wire.ErrMalformed, len(payload))
		}
		s.ioError |= int32(binary.LittleEndian.Uint32(payload))
	case wire.MsgNoSend:
		if len(payload) != 4 {
			return fmt.Errorf("%w: MSG_NO_SEND with %d bytes", wire.ErrMalformed, len(payload))
		}
		s.noSend = append(s.noSend, int32(binary.LittleEndian.Uint32(payload)))
	case wire.MsgNoop, wire.MsgSuccess:
	default:
		return fmt.Errorf("%w: unexpected message %s", wire.ErrMalformed, tag)
	}
	return nil
}

func (s *session) drainStderr(r io.Reader) {
	buf := make([]byte, 4096)
	var line []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			_, _ = s.stderr.Write(buf[:n])
			line = append(line, buf[:n]...)
			for {
				i := bytes.IndexByte(line, '\n')
				if i < 0 {
					break
				}
				s.log.Warn("remote rsync stderr", "line", string(line[:i]))
				line = line[i+1:]
			}
			if len(line) > 4096 {
				line = line[:0]
			}
		}
		if err != nil {
			return
		}
	}
}

// finish closes our side, waits for the server to exit and turns a
// non-zero status into an *ExitError carrying the server's own words.
func (s *session) finish(ctx context.Context) error {
	defer s.stopCtx()
	defer s.closeDecoder()
	_ = s.out.Flush()
	_ = s.proc.Stdin().Close()
	// The server exits once it has read our goodbye; drain anything left.
	_, _ = io.Copy(io.Discard, s.proc.Stdout())
	code, err := s.proc.Wait()
	s.waitStderr()
	if ctx.Err() != nil {
		return fmt.Errorf("transfer interrupted: %w", ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("wait for remote rsync: %w", err)
	}
	if code != 0 {
		return &ExitError{Code: code, Messages: s.messages()}
	}
	return nil
}

// fail ends a session after an error: it tells the server, waits briefly
// for its exit status and reports the most useful of the two (a server
// that exited with a message explains more than our "unexpected EOF").
func (s *session) fail(ctx context.Context, cause error) error {
	defer s.stopCtx()
	defer s.closeDecoder()
	if s.gotExit && s.out != nil && s.muxOut() {
		// Answer MSG_ERROR_EXIT as a sender does: an empty one
		// (io.c:read_a_msg, cleanup.c:_exit_cleanup).
		_ = s.out.WriteMsg(wire.MsgErrorExit, nil)
	}
	_ = s.proc.Stdin().Close()
	done := make(chan struct{})
	var code int
	var werr error
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, s.proc.Stdout())
		code, werr = s.proc.Wait()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.proc.Kill()
		<-done
	}
	s.waitStderr()
	if ctx.Err() != nil {
		return fmt.Errorf("transfer interrupted: %w", ctx.Err())
	}
	if s.gotExit {
		return &ExitError{Code: s.exitCode, Messages: s.messages()}
	}
	// When the stream broke under us, the server went first and its exit
	// status says why; when we stopped on something we found, our reason
	// comes first and the server's complaint about the closed stream is
	// only context.
	if werr == nil && code != 0 && peerWentAway(cause) {
		return &ExitError{Code: code, Messages: s.messages()}
	}
	if msgs := s.messages(); msgs != "" {
		return fmt.Errorf("%w (remote rsync said: %s)", cause, msgs)
	}
	return cause
}

func peerWentAway(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed)
}

func (s *session) waitStderr() {
	select {
	case <-s.stderrDone:
	case <-time.After(2 * time.Second):
	}
}

// messages joins the server's error text from both channels.
func (s *session) messages() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for _, m := range s.remoteErr {
		parts = append(parts, strings.TrimSpace(m))
	}
	if t := strings.TrimSpace(s.stderr.String()); t != "" {
		parts = append(parts, t)
	}
	return strings.Join(parts, "; ")
}

// flushingReader flushes pending output before every read from the
// transport, i.e. whenever the buffered reader above it runs dry.
type flushingReader struct {
	r     io.Reader
	flush func() error
}

func (f *flushingReader) Read(p []byte) (int, error) {
	// A failed flush is sticky in the writer and surfaces at the next
	// write; reading on lets us collect what the peer said before it went.
	_ = f.flush()
	return f.r.Read(p)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func newTailBuffer(limit int) *tailBuffer { return &tailBuffer{max: limit} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// shellJoin quotes args for the remote login shell. A leading "~" or
// "~user" stays unquoted so the shell expands it, as with the rsync CLI.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

func shellQuote(a string) string {
	if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=%:,+@") == "" {
		return a
	}
	prefix := ""
	if strings.HasPrefix(a, "~") {
		end := strings.IndexByte(a, '/')
		if end < 0 {
			end = len(a)
		}
		user := a[1:end]
		if strings.Trim(user, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "" {
			prefix, a = a[:end], a[end:]
			if a == "" {
				return prefix
			}
		}
	}
	return prefix + "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// remotePathArg makes a path safe as a server argument: one starting with
// "-" would be read as an option (options.c:safe_arg).
func remotePathArg(p string) string {
	if p == "" {
		return "."
	}
	if strings.HasPrefix(p, "-") {
		return "./" + p
	}
	return p
}
