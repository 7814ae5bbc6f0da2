//go:build unix

package sshconn

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// viaProxy configures a login to s through proxy p. The host key is pinned,
// since known_hosts names sshd's port, not the proxy's.
func viaProxy(s *sshtest.Server, p *sshtest.Proxy) Config {
	cfg := config(s)
	cfg.Host, cfg.Port = p.Host, p.Port
	cfg.KnownHostsFile, cfg.HostKey = "", s.HostKeyAuthorized
	return cfg
}

func TestDialBastion(t *testing.T) {
	target := sshtest.Start(t)
	// The bastion may forward only to the target.
	bastion := sshtest.Start(t, sshtest.WithExtraConfig("AllowTcpForwarding yes\nPermitOpen "+target.Addr()))
	front := sshtest.StartProxy(t, bastion.Addr())

	cfg := config(target)
	b := viaProxy(bastion, front)
	cfg.Bastion = &b
	c := dial(t, cfg)
	if _, out, _ := runCommand(t, NewTransport(c), "echo through"); out != "through\n" {
		t.Errorf("got %q", out)
	}
	if front.Accepted() != 1 {
		t.Errorf("bastion saw %d connections, want 1", front.Accepted())
	}
	if !strings.Contains(target.Log(), "Accepted publickey for "+target.User) {
		t.Error("target did not log the login")
	}
	// Closing the client closes the bastion connection it runs through.
	c.Close()
	waitFor(t, "the bastion connection to close", func() bool { return front.Active() == 0 })

	t.Run("bastion may not forward there", func(t *testing.T) {
		other := sshtest.Start(t)
		cfg := config(other)
		b := viaProxy(bastion, front)
		cfg.Bastion = &b
		dialErr(t, cfg, "through the bastion", "administratively prohibited", "PermitOpen")
	})
	t.Run("bastion authentication fails", func(t *testing.T) {
		cfg := config(target)
		b := viaProxy(bastion, front)
		b.PrivateKey = newKey(t).PEM
		cfg.Bastion = &b
		err := dialError(t, cfg, "ssh: bastion "+bastion.User+"@"+front.Addr()+": authentication as")
		var authErr *AuthError
		if !errors.As(err, &authErr) || authErr.Addr != front.Addr() {
			t.Errorf("want the bastion's *AuthError, got %T %v", err, err)
		}
	})
	t.Run("bastion host key problem is reported before connecting", func(t *testing.T) {
		cfg := config(target)
		b := viaProxy(bastion, front)
		b.HostKey = "garbage"
		dialErr(t, Config{Host: cfg.Host, Port: cfg.Port, PrivateKey: cfg.PrivateKey, KnownHostsFile: cfg.KnownHostsFile, Bastion: &b},
			"bastion", "host_key")
	})
	t.Run("two hops", func(t *testing.T) {
		outer := sshtest.Start(t)
		cfg := config(target)
		b := config(bastion)
		o := config(outer)
		b.Bastion = &o
		cfg.Bastion = &b
		c := dial(t, cfg)
		if _, out, _ := runCommand(t, NewTransport(c), "echo two hops"); out != "two hops\n" {
			t.Errorf("got %q", out)
		}
	})
}

func TestDialRetryUntilServerStarts(t *testing.T) {
	port, err := sshtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := sshtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	clientKey, err := sshtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Host: "127.0.0.1", Port: port, PrivateKey: clientKey.PEM, HostKey: hostKey.Authorized,
		ConnectRetryTimeout: 30 * time.Second, Timeout: 5 * time.Second}

	// Nothing listens yet: without retry, refused at once.
	noRetry := cfg
	noRetry.ConnectRetryTimeout = 0
	dialErr(t, noRetry, "connection refused")

	start := time.Now()
	type result struct {
		err     error
		elapsed time.Duration
	}
	res := make(chan result, 1)
	go func() {
		c, err := Dial(context.Background(), cfg)
		if err == nil {
			c.Close()
		}
		res <- result{err, time.Since(start)}
	}()
	time.Sleep(2 * time.Second)
	sshtest.Start(t, sshtest.WithPort(port), sshtest.WithKeys(hostKey, clientKey))
	select {
	case r := <-res:
		if r.err != nil {
			t.Fatalf("Dial with retry: %v", r.err)
		}
		if r.elapsed < 2*time.Second {
			t.Errorf("connected after %v, before the server started", r.elapsed)
		}
		t.Logf("connected %v after the first attempt", r.elapsed)
	case <-time.After(30 * time.Second):
		t.Fatal("Dial did not return")
	}
}

func TestDialRetryGivesUp(t *testing.T) {
	port, err := sshtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Host: "127.0.0.1", Port: port, PrivateKey: newKey(t).PEM, InsecureIgnoreHostKey: true,
		ConnectRetryTimeout: 1500 * time.Millisecond}
	start := time.Now()
	dialErr(t, cfg, "still failing after", "attempts", "connect_retry_timeout 1.5s", "connection refused")
	if e := time.Since(start); e < time.Second || e > 5*time.Second {
		t.Errorf("gave up after %v, want about 1.5s", e)
	}

	// Authentication failures are not retried.
	s := sshtest.Start(t)
	cfg = config(s)
	cfg.PrivateKey = newKey(t).PEM
	cfg.ConnectRetryTimeout = 30 * time.Second
	// A retried failure would end only at the deadline, saying how many
	// attempts were made; how fast a single failure returns depends on
	// the machine's load, so that is not what is checked.
	start = time.Now()
	err = dialError(t, cfg, "authentication as")
	if strings.Contains(err.Error(), "attempts") {
		t.Errorf("an authentication failure was retried: %v", err)
	}
	if e := time.Since(start); e >= cfg.ConnectRetryTimeout {
		t.Errorf("an authentication failure took %v: it was retried until connect_retry_timeout", e)
	}

	// Cancelling stops the retries.
	cfg = Config{Host: "127.0.0.1", Port: port, PrivateKey: newKey(t).PEM, InsecureIgnoreHostKey: true,
		ConnectRetryTimeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, cfg); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
}

// TestDialRetryBehindBastion: the bastion is up, the target behind it is
// not yet; the bastion's "connect failed" is retried.
func TestDialRetryBehindBastion(t *testing.T) {
	bastion := sshtest.Start(t)
	port, err := sshtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	hostKey, _ := sshtest.NewKeyPair()
	clientKey, _ := sshtest.NewKeyPair()
	b := config(bastion)
	cfg := Config{Host: "127.0.0.1", Port: port, PrivateKey: clientKey.PEM, HostKey: hostKey.Authorized,
		ConnectRetryTimeout: 30 * time.Second, Bastion: &b}
	go func() {
		time.Sleep(1500 * time.Millisecond)
		sshtest.Start(t, sshtest.WithPort(port), sshtest.WithKeys(hostKey, clientKey))
	}()
	c := dial(t, cfg)
	if _, out, _ := runCommand(t, NewTransport(c), "echo up"); out != "up\n" {
		t.Errorf("got %q", out)
	}
}

// TestKeepaliveClosesStalledConnection: a path that goes silent (packets
// dropped, nothing closed) is detected by keepalives and the client closes.
func TestKeepaliveClosesStalledConnection(t *testing.T) {
	s := sshtest.Start(t)
	p := sshtest.StartProxy(t, s.Addr())
	cfg := viaProxy(s, p)
	cfg.KeepaliveInterval = 200 * time.Millisecond
	c := dial(t, cfg)

	// Healthy: keepalives are answered for longer than the limit.
	time.Sleep(time.Second)
	if _, out, _ := runCommand(t, NewTransport(c), "echo alive"); out != "alive\n" {
		t.Fatalf("got %q", out)
	}

	proc, err := NewTransport(c).Start(context.Background(), "cat")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, proc.Stderr()) }()
	p.Stall()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		t.Logf("Wait: %v", err)
		if e := time.Since(start); e > 3*time.Second {
			t.Errorf("detected after %v, want about 600ms", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stalled connection not detected")
	}
	if _, err := io.ReadAll(proc.Stdout()); err == nil {
		t.Log("stdout ended with EOF")
	}
	if _, err := proc.Wait(); err == nil {
		t.Error("Wait succeeded on a dead connection")
	}
	p.Resume()
}

// TestKeepaliveAnyTrafficCounts: the server keeps talking but our
// keepalive requests do not reach it (one direction stalled, as a slow
// link busy with a transfer delays the replies): incoming traffic alone
// keeps the connection alive, as with OpenSSH.
func TestKeepaliveAnyTrafficCounts(t *testing.T) {
	s := sshtest.Start(t)
	p := sshtest.StartProxy(t, s.Addr())
	cfg := viaProxy(s, p)
	// Three unanswered keepalives 250 ms apart (750 ms) declare the path
	// dead; the server talks every 100 ms for 2 s, and the path stalls
	// only once it has begun.
	cfg.KeepaliveInterval = 250 * time.Millisecond
	c := dial(t, cfg)
	proc, err := NewTransport(c).Start(context.Background(), "for i in $(seq 20); do echo $i; sleep 0.1; done")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, proc.Stderr()) }()
	// Stall once the command talks: stalled from the start, the login
	// shell's start-up (seconds on a loaded machine) is silence that
	// rightly kills the connection.
	stdout := bufio.NewReader(proc.Stdout())
	first, err := stdout.ReadString('\n')
	if err != nil || first != "1\n" {
		t.Fatalf("first line %q, %v", first, err)
	}
	p.StallToTarget()
	out, err := io.ReadAll(stdout)
	if err != nil || !strings.HasSuffix(string(out), "\n20\n") {
		t.Fatalf("output %q, %v: the connection was declared dead while the server was talking", out, err)
	}
	// Once the server falls silent too, the connection is declared dead.
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		t.Logf("Wait: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("silent connection not detected")
	}
	p.Resume()
}

func TestKeepaliveDisabled(t *testing.T) {
	s := sshtest.Start(t)
	p := sshtest.StartProxy(t, s.Addr())
	cfg := viaProxy(s, p)
	cfg.KeepaliveInterval = -1
	c := dial(t, cfg)
	p.Stall()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("connection closed although keepalives are off: %v", err)
	case <-time.After(time.Second):
	}
	p.Resume()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
