//go:build unix

package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

func newPool(t *testing.T, opts PoolOptions) *Pool {
	t.Helper()
	p := NewPool(opts)
	t.Cleanup(func() { p.Close() })
	return p
}

func poolTransport_(t *testing.T, p *Pool, cfg Config) (rsync.Transport, func()) {
	t.Helper()
	tr, release, err := p.Transport(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Transport: %v", err)
	}
	return tr, release
}

// run runs command and returns its stdout, or an error.
func run(ctx context.Context, tr rsync.Transport, command string) (string, error) {
	p, err := tr.Start(ctx, command)
	if err != nil {
		return "", err
	}
	p.Stdin().Close()
	var stdout, stderr strings.Builder
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&stderr, p.Stderr()); close(done) }()
	if _, err := io.Copy(&stdout, p.Stdout()); err != nil {
		return "", err
	}
	<-done
	code, err := p.Wait()
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("%q exited %d: %s", command, code, stderr.String())
	}
	return stdout.String(), nil
}

// TestPoolReuse: 20 transports, sequential and concurrent, configs that
// differ only in how they connect (Timeout), share one TCP connection.
func TestPoolReuse(t *testing.T) {
	s := sshtest.Start(t)
	proxy := sshtest.StartProxy(t, s.Addr())
	p := newPool(t, PoolOptions{})
	for i := 0; i < 10; i++ {
		cfg := viaProxy(s, proxy)
		cfg.Timeout = time.Duration(10+i) * time.Second
		tr, release := poolTransport_(t, p, cfg)
		if out, err := run(context.Background(), tr, "echo "+fmt.Sprint(i)); err != nil || out != fmt.Sprint(i)+"\n" {
			t.Fatalf("run %d: %q, %v", i, out, err)
		}
		release()
	}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr, release, err := p.Transport(context.Background(), viaProxy(s, proxy))
			if err != nil {
				errs <- err
				return
			}
			defer release()
			if _, err := run(context.Background(), tr, "true"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := proxy.Accepted(); n != 1 {
		t.Errorf("%d TCP connections for 20 transports, want 1", n)
	}
	if n := p.Dials(); n != 1 {
		t.Errorf("Dials = %d", n)
	}

	// A different user (or key, or host-key policy) is another connection.
	other := viaProxy(s, proxy)
	other.KeepaliveCountMax = 7
	_, release := poolTransport_(t, p, other)
	release()
	if n := proxy.Accepted(); n != 2 {
		t.Errorf("%d TCP connections, want 2 after a different config", n)
	}
}

// TestPool50Concurrent: 50 commands at once over one connection to an sshd
// with OpenSSH's default MaxSessions (10) and MaxStartups: none is refused,
// and no more than MaxSessions (8) run at once.
//
// The commands count themselves on the server (a file each in a shared
// directory while they run): counted here, between Start and Wait, a
// command whose slot had been freed to the next one looked still
// running until its goroutine was scheduled again.
func TestPool50Concurrent(t *testing.T) {
	s := sshtest.Start(t)
	proxy := sshtest.StartProxy(t, s.Addr())
	p := newPool(t, PoolOptions{})
	dir := t.TempDir()
	// Each runs long enough (1 s) for the sessions opened meanwhile to
	// overlap it, so that the peak shows the limit reached.
	command := fmt.Sprintf("touch %[1]s/$$; sleep 1; ls %[1]s | wc -l; rm %[1]s/$$", dir)
	var peak atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			tr, release, err := p.Transport(ctx, viaProxy(s, proxy))
			if err != nil {
				errs <- err
				return
			}
			defer release()
			proc, err := tr.Start(ctx, command)
			if err != nil {
				errs <- err
				return
			}
			proc.Stdin().Close()
			go func() { _, _ = io.Copy(io.Discard, proc.Stderr()) }()
			out, _ := io.ReadAll(proc.Stdout())
			code, err := proc.Wait()
			n, convErr := strconv.Atoi(strings.TrimSpace(string(out)))
			if err != nil || code != 0 || convErr != nil {
				errs <- fmt.Errorf("command: %q, exit %d, %w", out, code, err)
				return
			}
			for {
				if old := peak.Load(); int32(n) <= old || peak.CompareAndSwap(old, int32(n)) {
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := peak.Load(); n > DefaultMaxSessions {
		t.Errorf("%d commands ran at once, limit %d", n, DefaultMaxSessions)
	}
	if n := proxy.Accepted(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	// sshd frees a session a turn of its main loop after the channel's
	// close, so under load a session opened right after another ended may
	// be refused ("no more sessions"); the pool waits and opens it again
	// (pconn.learnLimit), and every command above succeeded. What the test
	// holds the pool to is the peak the server saw and one connection.
	t.Logf("peak concurrent sessions: %d, sessions refused and retried: %d", peak.Load(), strings.Count(s.Log(), "no more sessions"))
}

// TestPoolLearnsLowerMaxSessions: a server allowing 2 sessions refuses
// the third; the pool waits for a session to end instead of failing.
func TestPoolLearnsLowerMaxSessions(t *testing.T) {
	s := sshtest.Start(t, sshtest.WithMaxSessions(2))
	p := newPool(t, PoolOptions{})
	tr, release := poolTransport_(t, p, config(s))
	defer release()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := run(context.Background(), tr, "sleep 0.2; echo ok"); err != nil || out != "ok\n" {
				errs <- fmt.Errorf("%q, %w", out, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPoolDialsPerHost: many distinct connections to one sshd that drops
// unauthenticated connections beyond 4 (MaxStartups 4): with at most 2
// dials at once per host, none is dropped. (sshd learns that a login has
// authenticated a moment after the client does, hence the margin, as
// between the defaults 5 and 10:30:100.) Without the limit, this test
// fails: sshd logs "drop connection #4 ... past MaxStartups".
func TestPoolDialsPerHost(t *testing.T) {
	s := sshtest.Start(t, sshtest.WithMaxStartups(4))
	p := newPool(t, PoolOptions{MaxDialsPerHost: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := config(s)
			cfg.KeepaliveCountMax = 10 + i // a distinct pool entry each
			tr, release, err := p.Transport(context.Background(), cfg)
			if err != nil {
				errs <- err
				return
			}
			defer release()
			if _, err := run(context.Background(), tr, "true"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p.Dials() != 12 {
		t.Errorf("Dials = %d, want 12", p.Dials())
	}
}

// TestPoolReconnects: a pooled connection that was cut is replaced on the
// next Start; when the server is gone for good, the error says both.
func TestPoolReconnects(t *testing.T) {
	s := sshtest.Start(t)
	proxy := sshtest.StartProxy(t, s.Addr())
	p := newPool(t, PoolOptions{})
	tr, release := poolTransport_(t, p, viaProxy(s, proxy))
	defer release()
	if _, err := run(context.Background(), tr, "true"); err != nil {
		t.Fatal(err)
	}
	// Whether the client has noticed the cut when the command starts (its
	// reader saw the connection close) or notices it on opening the
	// session, the command runs on a new connection.
	proxy.CutAll()
	if out, err := run(context.Background(), tr, "echo again"); err != nil || out != "again\n" {
		t.Fatalf("after a cut: %q, %v", out, err)
	}
	if n := proxy.Accepted(); n != 2 {
		t.Errorf("%d connections, want 2 (one reconnect)", n)
	}

	// The server gone for good, and the cut noticed before the command
	// starts (on a loaded machine it may not be: then the session's
	// failure finds the death, and the error is the same).
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	proxy.CutAll()
	waitFor(t, "the pool to notice the cut", func() bool { return !poolConn(p, tr).alive() })
	_, err := run(context.Background(), tr, "true")
	if err == nil {
		t.Fatal("Start succeeded with the server gone")
	}
	t.Logf("error (as users see it): %v", err)
	// (The proxy still accepts, then closes: the reconnect fails in the
	// handshake.)
	for _, want := range []string{"connection to " + proxy.Addr() + " lost", "reconnecting failed", "handshake with " + proxy.Addr()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
}

// poolConn is the pool's current connection for tr.
func poolConn(p *Pool, tr rsync.Transport) *pconn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return tr.(*poolTransport).e.cur
}

// TestPoolKeepaliveFailsRunningCommand: a command running on a connection
// whose path stalls fails within a few keepalive intervals, and its
// error says why.
func TestPoolKeepaliveFailsRunningCommand(t *testing.T) {
	s := sshtest.Start(t)
	proxy := sshtest.StartProxy(t, s.Addr())
	p := newPool(t, PoolOptions{})
	cfg := viaProxy(s, proxy)
	cfg.KeepaliveInterval = 200 * time.Millisecond
	tr, release := poolTransport_(t, p, cfg)
	defer release()
	proc, err := tr.Start(context.Background(), "cat")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, proc.Stderr()) }()
	proxy.Stall()
	defer proxy.Resume()
	start := time.Now()
	_, readErr := io.ReadAll(proc.Stdout())
	_, waitErr := proc.Wait()
	t.Logf("read: %v; wait: %v; after %v", readErr, waitErr, time.Since(start))
	for _, err := range []error{readErr, waitErr} {
		if err == nil || !strings.Contains(err.Error(), "despite keepalives") {
			t.Errorf("error %v does not say the keepalives went unanswered", err)
		}
	}
	if e := time.Since(start); e > 5*time.Second {
		t.Errorf("took %v", e)
	}
}

// TestPoolBastionShared: hosts behind one bastion share its connection.
func TestPoolBastionShared(t *testing.T) {
	bastion := sshtest.Start(t)
	front := sshtest.StartProxy(t, bastion.Addr())
	p := newPool(t, PoolOptions{})
	for i := 0; i < 3; i++ {
		target := sshtest.Start(t)
		cfg := config(target)
		b := viaProxy(bastion, front)
		cfg.Bastion = &b
		tr, release := poolTransport_(t, p, cfg)
		if out, err := run(context.Background(), tr, "echo hop"); err != nil || out != "hop\n" {
			t.Fatalf("%q, %v", out, err)
		}
		release()
	}
	if n := front.Accepted(); n != 1 {
		t.Errorf("bastion saw %d connections for 3 hosts, want 1", n)
	}
}

// TestPoolIdle: a connection nobody holds closes after IdleTimeout, with
// its bastion; the next user dials again.
func TestPoolIdle(t *testing.T) {
	target := sshtest.Start(t)
	bastion := sshtest.Start(t)
	front := sshtest.StartProxy(t, bastion.Addr())
	p := newPool(t, PoolOptions{IdleTimeout: 200 * time.Millisecond})
	cfg := config(target)
	b := viaProxy(bastion, front)
	cfg.Bastion = &b
	tr, release := poolTransport_(t, p, cfg)
	if _, err := run(context.Background(), tr, "true"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if front.Active() != 1 {
		t.Fatalf("connection closed while held")
	}
	release()
	release() // harmless
	waitFor(t, "the idle connections to close", func() bool { return front.Active() == 0 })
	if _, err := run(context.Background(), tr, "true"); err == nil || !strings.Contains(err.Error(), "after its release") {
		t.Errorf("Start after release and expiry: %v", err)
	}
	tr, release = poolTransport_(t, p, cfg)
	defer release()
	if _, err := run(context.Background(), tr, "true"); err != nil {
		t.Fatal(err)
	}
	if front.Accepted() != 2 {
		t.Errorf("Accepted = %d", front.Accepted())
	}
}

func TestPoolClose(t *testing.T) {
	s := sshtest.Start(t)
	p := NewPool(PoolOptions{})
	tr, release := poolTransport_(t, p, config(s))
	defer release()
	proc, err := tr.Start(context.Background(), "cat")
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := proc.Wait(); err == nil || !strings.Contains(err.Error(), "pool was closed") {
		t.Errorf("Wait after Close: %v", err)
	}
	if _, _, err := p.Transport(context.Background(), config(s)); err == nil {
		t.Error("Transport after Close succeeded")
	}
}

// TestPoolErrors: connection errors surface from Transport, typed.
func TestPoolErrors(t *testing.T) {
	s := sshtest.Start(t)
	p := newPool(t, PoolOptions{})
	cfg := config(s)
	cfg.HostKey = newKey(t).Authorized
	_, _, err := p.Transport(context.Background(), cfg)
	var hk *HostKeyError
	if !errorsAs(err, &hk) {
		t.Errorf("want *HostKeyError, got %v", err)
	}
	cfg = config(s)
	cfg.PrivateKey = newKey(t).PEM
	_, _, err = p.Transport(context.Background(), cfg)
	var ae *AuthError
	if !errorsAs(err, &ae) {
		t.Errorf("want *AuthError, got %v", err)
	}
	// Waiting callers give up with their context; the pool stays usable.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := p.Transport(ctx, config(s)); err == nil {
		t.Error("Transport with a cancelled context succeeded")
	}
	tr, release := poolTransport_(t, p, config(s))
	defer release()
	if _, err := run(context.Background(), tr, "true"); err != nil {
		t.Fatal(err)
	}
}

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }

// TestPoolCutFailsRunningCommand: when the connection under a running
// command is cut, the command's writes, reads and Wait fail with the
// connection's LostError, not with "remote command has exited" or a bare
// socket error (the session ends a moment before the connection is
// declared dead).
func TestPoolCutFailsRunningCommand(t *testing.T) {
	s := sshtest.Start(t)
	proxy := sshtest.StartProxy(t, s.Addr())
	p := newPool(t, PoolOptions{})
	tr, release := poolTransport_(t, p, viaProxy(s, proxy))
	defer release()
	for _, side := range []string{"writing", "reading"} {
		t.Run(side, func(t *testing.T) {
			proc, err := tr.Start(context.Background(), "cat >/dev/null; sleep 30")
			if side == "reading" {
				proc, err = tr.Start(context.Background(), "cat")
			}
			if err != nil {
				t.Fatal(err)
			}
			go func() { _, _ = io.Copy(io.Discard, proc.Stderr()) }()
			readErr := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, proc.Stdout())
				readErr <- err
			}()
			chunk := make([]byte, 32<<10)
			if _, err := proc.Stdin().Write(chunk); err != nil {
				t.Fatal(err)
			}
			proxy.CutAll()
			var writeErr error
			deadline := time.Now().Add(5 * time.Second)
			for writeErr == nil && time.Now().Before(deadline) {
				_, writeErr = proc.Stdin().Write(chunk)
			}
			_, waitErr := proc.Wait()
			rErr := <-readErr
			for what, err := range map[string]error{"write": writeErr, "read": rErr, "wait": waitErr} {
				var lost *LostError
				if !errors.As(err, &lost) {
					t.Errorf("%s after the cut: %v, want a *LostError", what, err)
				}
			}
		})
	}
}
