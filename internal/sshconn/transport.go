package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
)

// NewTransport runs commands over c, one SSH session per Start. Sessions
// are independent, so several may run at once, up to the server's
// MaxSessions (OpenSSH default 10). The caller still owns and closes c.
//
// The caller must read Stdout and Stderr concurrently (rsync.Process says
// so): both streams share the session's flow-control window, so stderr
// left unread eventually stalls stdout too. Reading both to EOF, or
// calling Kill, also ends the goroutines that serve them.
func NewTransport(c *ssh.Client) rsync.Transport {
	return &transport{client: c}
}

type transport struct {
	client *ssh.Client
}

// Start opens a session and runs command in the remote user's login shell.
func (t *transport) Start(ctx context.Context, command string) (rsync.Process, error) {
	return startCtx(ctx, func() (*process, error) { return startProcess(t.client, command, hooks{}) })
}

// startCtx runs start (which opens a session) aside while watching ctx.
// Opening a channel and sending "exec" are round trips that x/crypto/ssh
// cannot cancel; when ctx ends first, a process that starts later is
// terminated at once.
func startCtx(ctx context.Context, start func() (*process, error)) (*process, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ssh: start remote command: %w", err)
	}
	type result struct {
		p   *process
		err error
	}
	ch := make(chan result, 1)
	go func() {
		p, err := start()
		ch <- result{p, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		r.p.watch(ctx)
		return r.p, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				r.p.terminate(errors.New("ssh: start cancelled"))
			}
		}()
		return nil, fmt.Errorf("ssh: start remote command: %w", ctx.Err())
	}
}

// hooks let a pool follow its processes.
type hooks struct {
	started func(*process) // before any of its goroutines runs
	exited  func(*process) // once its session has ended
	// linkDone is closed when the connection under the process is
	// declared dead, and linkErr then says why (a *LostError); nil for a
	// bare transport.
	linkDone <-chan struct{}
	linkErr  func() error
	// beforeExec, for tests, runs between opening a session and asking
	// it to run the command, with the attempt's number.
	beforeExec func(attempt int)
}

// lostGrace is how long a process whose session broke off waits for its
// connection to be declared dead. A cut ends the session first (the
// channel closes as the transport fails) and the connection a moment
// later; waiting lets the process report the connection's reason.
const lostGrace = 500 * time.Millisecond

// lostReason returns why the connection under the process died, waiting
// up to lostGrace for it; nil if it stays alive (or is not followed).
func (h hooks) lostReason() error {
	if h.linkDone == nil {
		return nil
	}
	select {
	case <-h.linkDone:
		return h.linkErr()
	case <-time.After(lostGrace):
		return nil
	}
}

// startAttempts bounds how often startProcess opens a fresh session when
// the server closed the previous one before answering its exec request.
const startAttempts = 3

// errClosedBeforeExec: the server closed the session before it answered
// the exec request, so the command never started. Dropbear does this to a
// session waiting for its exec whenever another command on the connection
// exits (see oneSessionAtATime). The pool keeps Dropbear to one session at
// a time, but a command we abandoned (Kill) may still exit later on the
// server, so a fresh session is tried. (Had the exec crossed the close,
// Dropbear drops the connection instead, and the pool reconnects.)
var errClosedBeforeExec = errors.New("the server closed the session before starting the command")

// StartSubsystem starts an SSH subsystem (such as "sftp") in a new
// session; its stdin and stdout carry the subsystem's protocol.
func (t *transport) StartSubsystem(ctx context.Context, name string) (rsync.Process, error) {
	return startCtx(ctx, func() (*process, error) { return startSession(t.client, name, true, hooks{}, 1) })
}

func startProcess(client *ssh.Client, command string, h hooks) (*process, error) {
	for attempt := 1; ; attempt++ {
		p, err := startSession(client, command, false, h, attempt)
		if !errors.Is(err, errClosedBeforeExec) || attempt == startAttempts {
			return p, err
		}
	}
}

// startSession opens a session running command, or the subsystem named
// by command when subsystem is set; attempt counts startProcess's tries.
func startSession(client *ssh.Client, command string, subsystem bool, h hooks, attempt int) (*process, error) {
	session, err := client.NewSession()
	if err != nil {
		// OpenSSH answers "connect failed: open failed" when a connection
		// already has MaxSessions sessions open; nothing else it says names
		// the limit, so the hint is hedged.
		var openErr *ssh.OpenChannelError
		if errors.As(err, &openErr) {
			return nil, fmt.Errorf("ssh: open session on %s: %w (sshd refused another session on this connection, most likely because it already has as many open as sshd's MaxSessions allows, default 10)", client.RemoteAddr(), err)
		}
		// Anything but a refusal means the connection itself is broken.
		return nil, &brokenError{fmt.Errorf("ssh: open session on %s: %w", client.RemoteAddr(), err)}
	}
	stdin, err1 := session.StdinPipe()
	stdout, err2 := session.StdoutPipe()
	stderr, err3 := session.StderrPipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		session.Close()
		return nil, fmt.Errorf("ssh: session pipes: %w", err)
	}
	if h.beforeExec != nil {
		h.beforeExec(attempt)
	}
	wait := session.Wait
	if subsystem {
		if err := session.RequestSubsystem(command); err != nil {
			session.Close()
			return nil, fmt.Errorf("ssh: start the %s subsystem on %s: %w", command, client.RemoteAddr(), err)
		}
		// x/crypto/ssh's Session.Wait serves only sessions begun with
		// Start ("ssh: session not started" at once otherwise): a
		// subsystem has ended when its output has.
		end := &endReader{r: stdout, done: make(chan struct{})}
		stdout, wait = end, end.wait
	} else if err := session.Start(command); err != nil {
		session.Close()
		if errors.Is(err, io.EOF) {
			// A channel closed before the reply: the request was never
			// served (a server answers an exec before the command can end).
			err = fmt.Errorf("%w (attempt %d of %d)", errClosedBeforeExec, attempt, startAttempts)
		}
		return nil, fmt.Errorf("ssh: run %q on %s: %w", command, client.RemoteAddr(), err)
	}
	return newProcess(session, wait, stdin, stdout, stderr, h), nil
}

// errExited fails writes to the stdin of a command that has exited. It
// is io.ErrClosedPipe underneath, so that callers that tell a peer gone
// away from other failures (and then look at its exit status) see it as
// one.
type errExited struct{}

func (errExited) Error() string { return "ssh: remote command has exited" }
func (errExited) Unwrap() error { return io.ErrClosedPipe }

// brokenError marks a failure to open a session that was not the server's
// refusal: the connection is unusable.
type brokenError struct{ err error }

func (e *brokenError) Error() string { return e.err.Error() }
func (e *brokenError) Unwrap() error { return e.err }

// process is one running remote command.
//
// Its streams are io.Pipes fed by goroutines rather than the session's own
// readers and writers: a read or write blocked inside x/crypto/ssh returns
// only when the peer answers, which a dead connection never does, whereas
// closing our end of a pipe unblocks the caller at once. The pipes are
// synchronous, so they add no buffering of their own.
type process struct {
	session *ssh.Session

	stdinW  *io.PipeWriter // handed to the caller
	stdinR  *io.PipeReader // drained into the session
	stdoutR *io.PipeReader // handed to the caller
	stdoutW *io.PipeWriter
	stderrR *io.PipeReader
	stderrW *io.PipeWriter

	done    chan struct{} // closed when the session has ended
	waitErr error         // session.Wait's result, set before done closes
	lostErr error         // the connection died under the session; set before done closes

	terminated chan struct{} // closed by terminate
	termErr    error         // why we terminated, set before terminated closes
	termLate   bool          // terminate came after the exit; set likewise
	termOnce   sync.Once

	stopWatch func() bool // stops the ctx watcher; nil until watch
	watchMu   sync.Mutex
}

// endReader reports when its reader has ended: wait returns then, nil
// after a clean EOF.
type endReader struct {
	r    io.Reader
	done chan struct{}
	once sync.Once
	err  error
}

func (e *endReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.once.Do(func() {
			if err != io.EOF {
				e.err = err
			}
			close(e.done)
		})
	}
	return n, err
}

func (e *endReader) wait() error {
	<-e.done
	return e.err
}

func newProcess(session *ssh.Session, wait func() error, stdin io.WriteCloser, stdout, stderr io.Reader, h hooks) *process {
	p := &process{session: session, done: make(chan struct{}), terminated: make(chan struct{})}
	if h.started != nil {
		h.started(p)
	}
	p.stdinR, p.stdinW = io.Pipe()
	p.stdoutR, p.stdoutW = io.Pipe()
	p.stderrR, p.stderrW = io.Pipe()

	go func() {
		_, err := io.Copy(stdin, p.stdinR)
		if err == nil {
			// The caller closed Stdin: tell the server (EOF on its stdin).
			err = stdin.Close()
		}
		if err != nil {
			// Fail the caller's next write with the reason: the
			// connection's death when that is what broke the write.
			if lost := h.lostReason(); lost != nil {
				p.stdinR.CloseWithError(lost)
				return
			}
			p.stdinR.CloseWithError(fmt.Errorf("ssh: remote stdin: %w", err))
		}
	}()
	pump := func(w *io.PipeWriter, r io.Reader) {
		_, err := io.Copy(w, r)
		if err == nil {
			// EOF: the command closed the stream, or the session broke
			// off with the connection; the session's end tells which
			// (a command that closes its output and runs on gets its
			// EOF delivered after a moment).
			select {
			case <-p.done:
				err = p.lostErr
			case <-time.After(2 * lostGrace):
			}
		}
		w.CloseWithError(err) // nil: EOF after the last byte
	}
	go pump(p.stdoutW, stdout)
	go pump(p.stderrW, stderr)

	go func() {
		p.waitErr = wait()
		var exitErr *ssh.ExitError
		if p.waitErr != nil && !errors.As(p.waitErr, &exitErr) {
			// No exit status: the session broke off, most likely with
			// the connection. Say so rather than that the command exited.
			p.lostErr = h.lostReason()
		}
		close(p.done)
		if p.lostErr != nil {
			p.stdinR.CloseWithError(p.lostErr)
			p.stdoutW.CloseWithError(p.lostErr)
			p.stderrW.CloseWithError(p.lostErr)
		}
		// The command is gone: nothing will read stdin any more, and
		// a ctx cancelled from now on has nothing to kill.
		p.stdinR.CloseWithError(errExited{})
		p.watchMu.Lock()
		if p.stopWatch != nil {
			p.stopWatch()
		}
		p.watchMu.Unlock()
		if h.exited != nil {
			h.exited(p)
		}
	}()
	return p
}

// watch terminates the process when ctx is cancelled before it exits.
func (p *process) watch(ctx context.Context) {
	p.watchMu.Lock()
	defer p.watchMu.Unlock()
	select {
	case <-p.done:
		return
	default:
	}
	p.stopWatch = context.AfterFunc(ctx, func() {
		p.terminate(fmt.Errorf("ssh: remote command interrupted: %w", ctx.Err()))
	})
}

func (p *process) Stdin() io.WriteCloser { return p.stdinW }
func (p *process) Stdout() io.Reader     { return p.stdoutR }
func (p *process) Stderr() io.Reader     { return p.stderrR }

// Wait returns the command's exit status. A command killed by a signal
// reports 128+signal, as a shell would. After Kill or cancellation it
// returns at once with an error rather than waiting on the server.
func (p *process) Wait() (int, error) {
	select {
	case <-p.done:
	case <-p.terminated:
	}
	// Killed before its exit was seen: whatever status may still arrive
	// is our doing (or never comes), so report the kill. Killed after it
	// had exited: the real status stands.
	select {
	case <-p.terminated:
		if !p.termLate {
			return -1, p.termErr
		}
	default:
	}
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case p.lostErr != nil:
		return -1, p.lostErr
	case p.waitErr == nil:
		return 0, nil
	case errors.As(p.waitErr, &exitErr):
		return exitErr.ExitStatus(), nil
	case errors.As(p.waitErr, &missing):
		return -1, errors.New("ssh: remote command ended without reporting an exit status (session or connection closed)")
	default:
		return -1, fmt.Errorf("ssh: wait for remote command: %w", p.waitErr)
	}
}

// Kill terminates the remote command and closes its session. It does not
// wait for the server, so it returns promptly even on a dead connection.
// A remote command that ignores both SIGKILL (refused by sshd for root)
// and its closed pipes, such as a bare sleep, outlives the session.
func (p *process) Kill() error {
	p.terminate(errors.New("ssh: remote command was killed"))
	return nil
}

// terminate unblocks every stream with reason, then signals and closes the
// session in the background (writes to a dead connection can block).
func (p *process) terminate(reason error) {
	p.termOnce.Do(func() {
		p.termErr = reason
		select {
		case <-p.done:
			p.termLate = true
		default:
		}
		close(p.terminated)
		p.stdinR.CloseWithError(reason)
		p.stdoutW.CloseWithError(reason)
		p.stderrW.CloseWithError(reason)
		go func() {
			// sshd honours the signal only for non-root logins (for root
			// it logs "session signalling requires privilege separation"
			// and ignores it). Closing the session is what always works:
			// sshd closes the command's pipes, and rsync --server, which
			// is always reading or writing them, exits on EOF or EPIPE.
			_ = p.session.Signal(ssh.SIGKILL)
			_ = p.session.Close()
		}()
	})
}
