package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// AuthError means the server rejected the credentials.
type AuthError struct {
	User, Addr string
	err        error
	msg        string
}

func (e *AuthError) Error() string { return e.msg }
func (e *AuthError) Unwrap() error { return e.err }

// Dial connects to cfg.Host, through cfg.Bastion when set, verifies its
// host key and authenticates. cfg.Timeout bounds each TCP connect and each
// handshake; cfg.ConnectRetryTimeout, when set, retries a server that is
// not up yet; ctx can cancel any of it at any moment. The client sends
// keepalives (cfg.KeepaliveInterval) and closes itself when they go
// unanswered. The caller closes the returned client, which also closes
// the connections to its bastions.
//
// Dial opens a new connection every time; a Pool shares them.
func Dial(ctx context.Context, cfg Config) (*ssh.Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l, err := dialChain(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return l.client, nil
}

// dialChain dials cfg's bastions, innermost first, then cfg itself. Every
// hop's local settings are checked before any connection is made.
func dialChain(ctx context.Context, cfg Config) (*link, error) {
	var hops []*hop
	for c := &cfg; c != nil; c = c.Bastion {
		h, err := prepareHop(*c)
		if err != nil {
			if c != &cfg {
				return nil, fmt.Errorf("ssh: bastion %s: %w", c.display(), trimSSH(err))
			}
			return nil, err
		}
		hops = append(hops, h)
	}
	var via *link
	for i := len(hops) - 1; i >= 0; i-- {
		h := hops[i]
		var viaClient *ssh.Client
		if via != nil {
			viaClient = via.client
		}
		client, act, err := h.connect(ctx, viaClient, nil)
		if err != nil {
			if via != nil {
				via.die(errors.New("closed: the connection through it failed"))
			}
			if i > 0 {
				return nil, fmt.Errorf("ssh: bastion %s: %w", h.cfg.display(), trimSSH(err))
			}
			return nil, err
		}
		l := newLink(client, act, h.cfg)
		if via != nil {
			parent := via
			l.onDeath(func(error) { parent.die(errors.New("closed: the connection through it ended")) })
		}
		via = l
	}
	return via, nil
}

// hop is one SSH server to reach, with its settings checked and its keys
// loaded.
type hop struct {
	cfg    Config
	auth   *authPlan
	policy *hostKeyPolicy
}

// prepareHop checks cfg (already defaulted) and loads its keys: local
// problems are reported before any network traffic.
func prepareHop(cfg Config) (*hop, error) {
	auth, err := planAuth(cfg)
	if err != nil {
		return nil, err
	}
	policy, err := newHostKeyPolicy(cfg)
	if err != nil {
		return nil, err
	}
	return &hop{cfg: cfg, auth: auth, policy: policy}, nil
}

// gate limits concurrent connection attempts; it returns a release func.
type gate func(ctx context.Context) (func(), error)

// connect makes the connection to h, directly or through via, retrying
// failures of a server that is not up yet until ConnectRetryTimeout.
// gate, if not nil, is held during each attempt (not during backoff).
func (h *hop) connect(ctx context.Context, via *ssh.Client, g gate) (*ssh.Client, *activityConn, error) {
	auth, err := h.auth.open()
	if err != nil {
		return nil, nil, err
	}
	defer auth.Close()

	start := time.Now()
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		client, act, err := h.once(ctx, via, auth, g)
		if err == nil {
			return client, act, nil
		}
		if h.cfg.ConnectRetryTimeout <= 0 || ctx.Err() != nil || !retryable(err) {
			return nil, nil, err
		}
		elapsed := time.Since(start)
		if elapsed >= h.cfg.ConnectRetryTimeout {
			return nil, nil, fmt.Errorf("ssh: %s: still failing after %v and %d attempts (connect_retry_timeout %v; raise it if the server takes longer to boot): %w",
				h.cfg.addr(), elapsed.Round(time.Millisecond), attempt, h.cfg.ConnectRetryTimeout, trimSSH(err))
		}
		// Jitter spreads the retries of many resources waiting for the
		// same server; the last attempt is made at the deadline.
		wait := min(time.Duration(float64(backoff)*(0.8+0.4*rand.Float64())), h.cfg.ConnectRetryTimeout-elapsed) //nolint:gosec // G404: jitter needs no unpredictability
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("ssh: %s: waiting to retry after %w: %w", h.cfg.addr(), trimSSH(err), ctx.Err())
		case <-t.C:
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// once is one connection attempt.
func (h *hop) once(ctx context.Context, via *ssh.Client, auth *authSession, g gate) (*ssh.Client, *activityConn, error) {
	if g != nil {
		release, err := g(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("ssh: connect to %s: %w", h.cfg.addr(), err)
		}
		defer release()
	}
	client, act, err := h.dialOnce(ctx, via, auth)
	return client, act, err
}

func (h *hop) dialOnce(ctx context.Context, via *ssh.Client, auth *authSession) (*ssh.Client, *activityConn, error) {
	cfg := h.cfg
	addr := cfg.addr()
	var (
		conn net.Conn
		err  error
	)
	if via == nil {
		dialer := net.Dialer{Timeout: cfg.Timeout}
		conn, err = dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, nil, fmt.Errorf("ssh: connect to %s: %w", addr, ctxErr)
			}
			return nil, nil, fmt.Errorf("ssh: connect to %s: %w (check host and port, and that sshd is running and reachable)", addr, err)
		}
	} else {
		dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		conn, err = via.DialContext(dctx, "tcp", addr)
		timedOut := errors.Is(dctx.Err(), context.DeadlineExceeded)
		cancel()
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, nil, fmt.Errorf("ssh: connect to %s through the bastion: %w", addr, ctxErr)
			}
			if timedOut {
				err = fmt.Errorf("no answer within %v (timeout): %w", cfg.Timeout, os.ErrDeadlineExceeded)
			}
			return nil, nil, fmt.Errorf("ssh: connect to %s through the bastion %s: %w (check host and port as the bastion sees them, that the server is up, and that the bastion allows forwarding to it: sshd's AllowTcpForwarding and PermitOpen)",
				addr, via.RemoteAddr(), err)
		}
	}
	act := newActivityConn(conn)
	algos := h.policy.algorithms(addr, conn.RemoteAddr())
	if algos == nil {
		algos = defaultAlgorithms()
	}
	clientCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              auth.methods,
		HostKeyCallback:   h.policy.callback,
		HostKeyAlgorithms: algos,
	}
	client, err := handshake(ctx, act, addr, clientCfg, cfg.Timeout, auth.agent)
	if err != nil {
		return nil, nil, describeHandshakeError(err, cfg, addr, auth)
	}
	return client, act, nil
}

// handshake runs the SSH handshake on conn. x/crypto/ssh has no context
// support, so a deadline bounds it and ctx cancellation closes conn, which
// makes the blocked handshake return. conn is closed on any failure. The
// agent connection, if any, is bounded the same way: a hung agent must not
// hang the handshake.
func handshake(ctx context.Context, conn net.Conn, addr string, cfg *ssh.ClientConfig, timeout time.Duration, agentConn net.Conn) (*ssh.Client, error) {
	// A timer rather than conn.SetDeadline: a connection through a bastion
	// is an SSH channel, which has no deadlines. Closing conn makes the
	// blocked handshake return either way. ctx acts through the AfterFunc,
	// so that its end is reported as ctx's error.
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() {
		timedOut.Store(true)
		conn.Close()
		if agentConn != nil {
			agentConn.Close()
		}
	})
	stop := context.AfterFunc(ctx, func() { conn.Close() })

	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stopped := stop()
	// If ctx ended or time ran out, report that rather than its symptom
	// (a closed conn), whether or not the handshake had just completed.
	if !timer.Stop() || timedOut.Load() {
		if err == nil {
			c.Close()
		}
		conn.Close()
		return nil, fmt.Errorf("ssh: handshake failed: %w", os.ErrDeadlineExceeded)
	}
	if !stopped || ctx.Err() != nil {
		if err == nil {
			c.Close()
		}
		conn.Close()
		return nil, fmt.Errorf("ssh: handshake with %s: %w", addr, ctx.Err())
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	// The connection now lives as long as the client; only the handshake
	// was bounded. Keepalives (link) watch it from here on.
	return ssh.NewClient(c, chans, reqs), nil
}

// describeHandshakeError turns the library's handshake errors into ones
// that name the setting to fix.
func describeHandshakeError(err error, cfg Config, addr string, auth *authSession) error {
	var hostKeyErr *HostKeyError
	if errors.As(err, &hostKeyErr) {
		return hostKeyErr // already explains itself; drop "ssh: handshake failed:"
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return fmt.Errorf("ssh: handshake with %s timed out after %v: the port accepts connections but no SSH server completed the handshake (is it an SSH port? raise timeout for a slow server): %w", addr, cfg.Timeout, err)
	}
	// x/crypto/ssh reports rejected credentials only as text.
	msg := err.Error()
	if strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "Too many authentication failures") {
		var b strings.Builder
		fmt.Fprintf(&b, "ssh: authentication as %s@%s failed; offered: %s", cfg.User, addr, strings.Join(auth.offered, ", "))
		if len(auth.notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(auth.notes, "; "))
		}
		b.WriteString(". Check user, and that the key's public half is in the user's authorized_keys on the server (or that the password is right)")
		if strings.Contains(msg, "Too many authentication failures") {
			b.WriteString("; the server stopped after too many keys (sshd MaxAuthTries): set agent_identity to the one agent key to use, or agent = false")
		}
		fmt.Fprintf(&b, ": %v", err)
		return &AuthError{User: cfg.User, Addr: addr, err: err, msg: b.String()}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("ssh: handshake with %s: the server closed the connection before the SSH handshake completed (sshd still starting, refusing connections beyond MaxStartups, or TCP wrappers/fail2ban): %w", addr, err)
	}
	return fmt.Errorf("ssh: handshake with %s: %w", addr, err)
}

// retryable reports whether err is how a server that is still booting (or
// briefly overloaded) fails, as opposed to a setting that is wrong.
func retryable(err error) bool {
	var hostKeyErr *HostKeyError
	var authErr *AuthError
	if errors.As(err, &hostKeyErr) || errors.As(err, &authErr) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var openErr *ssh.OpenChannelError
	if errors.As(err, &openErr) {
		// The bastion could not reach the target ("Connection refused").
		return openErr.Reason == ssh.ConnectionFailed
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		// A name created in the same apply may not resolve yet.
		return dnsErr.IsNotFound || dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	for _, e := range []error{syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
		syscall.ECONNRESET, syscall.ECONNABORTED, syscall.ETIMEDOUT, syscall.EPIPE, io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, e) {
			return true
		}
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// trimSSH drops the "ssh: " prefix of an inner error's message when it is
// wrapped into another "ssh: " message, keeping it for errors.As.
func trimSSH(err error) error {
	if !strings.HasPrefix(err.Error(), "ssh: ") {
		return err
	}
	return &trimmed{err}
}

type trimmed struct{ err error }

func (t *trimmed) Error() string { return strings.TrimPrefix(t.err.Error(), "ssh: ") }
func (t *trimmed) Unwrap() error { return t.err }

// display is user@host:port for messages.
func (c Config) display() string {
	return c.User + "@" + c.addr()
}

// Unreachable reports whether err says the server did not answer — a name
// that does not resolve, a refused or timed-out connection, a reset before
// the handshake — as a host that does not exist yet fails, as opposed to a
// server that answered and refused us (host key, authentication).
func Unreachable(err error) bool {
	return retryable(err)
}
