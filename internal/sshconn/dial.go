package sshconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
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

// Dial connects to cfg.Host, verifies its host key and authenticates.
// cfg.Timeout bounds the TCP connect and the handshake each; ctx can
// cancel either at any moment. The caller closes the returned client.
func Dial(ctx context.Context, cfg Config) (*ssh.Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// Local problems (no key, bad host_key, unreadable known_hosts) are
	// reported before touching the network.
	signer, keySource, err := loadSigner(cfg, nil)
	if err != nil {
		return nil, err
	}
	policy, err := newHostKeyPolicy(cfg)
	if err != nil {
		return nil, err
	}

	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	dialer := net.Dialer{Timeout: cfg.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("ssh: connect to %s: %w", addr, ctxErr)
		}
		return nil, fmt.Errorf("ssh: connect to %s: %w (check host and port, and that sshd is running and reachable)", addr, err)
	}

	clientCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   policy.callback,
		HostKeyAlgorithms: policy.algorithms(addr, conn.RemoteAddr()),
	}
	client, err := handshake(ctx, conn, addr, clientCfg, cfg.Timeout)
	if err != nil {
		return nil, describeHandshakeError(err, cfg, addr, signer, keySource)
	}
	return client, nil
}

// handshake runs the SSH handshake on conn. x/crypto/ssh has no context
// support, so a deadline bounds it and ctx cancellation closes conn, which
// makes the blocked handshake return. conn is closed on any failure.
func handshake(ctx context.Context, conn net.Conn, addr string, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	// The deadline enforces only timeout; ctx's own deadline acts through
	// the AfterFunc, so that its expiry is reported as ctx's error.
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh: set handshake deadline: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })

	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	// If ctx ended, report that rather than its symptom (a closed conn),
	// whether or not the handshake had just completed.
	if !stop() || ctx.Err() != nil {
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
	// was bounded. (Keepalives belong to a later layer.)
	if err := conn.SetDeadline(time.Time{}); err != nil {
		c.Close()
		return nil, fmt.Errorf("ssh: clear handshake deadline: %w", err)
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// describeHandshakeError turns the library's handshake errors into ones
// that name the setting to fix.
func describeHandshakeError(err error, cfg Config, addr string, signer ssh.Signer, keySource string) error {
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
	if strings.Contains(err.Error(), "unable to authenticate") {
		return &AuthError{User: cfg.User, Addr: addr, err: err, msg: fmt.Sprintf(
			"ssh: authentication as %s@%s failed with the given private key (%s, %s): check private_key / private_key_file and user: %v",
			cfg.User, addr, keySource, keyDescription(signer.PublicKey()), err)}
	}
	return fmt.Errorf("ssh: handshake with %s: %w", addr, err)
}
