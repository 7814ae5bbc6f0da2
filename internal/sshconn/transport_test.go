//go:build unix

package sshconn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// output collects a process's streams the way the engine must: stdout and
// stderr concurrently.
type output struct {
	stdout, stderr bytes.Buffer
	done           chan struct{}
}

func collect(p rsync.Process) *output {
	o := &output{done: make(chan struct{})}
	errDone := make(chan struct{})
	go func() { _, _ = io.Copy(&o.stderr, p.Stderr()); close(errDone) }()
	go func() { _, _ = io.Copy(&o.stdout, p.Stdout()); <-errDone; close(o.done) }()
	return o
}

func runCommand(t *testing.T, tr rsync.Transport, command string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := tr.Start(ctx, command)
	if err != nil {
		t.Fatalf("Start(%q): %v", command, err)
	}
	if err := p.Stdin().Close(); err != nil {
		t.Fatalf("close stdin: %v", err)
	}
	o := collect(p)
	<-o.done
	code, err = p.Wait()
	if err != nil {
		t.Fatalf("Wait(%q): %v", command, err)
	}
	return code, o.stdout.String(), o.stderr.String()
}

func newTestTransport(t *testing.T, opts ...sshtest.Option) rsync.Transport {
	t.Helper()
	s := sshtest.Start(t, opts...)
	return NewTransport(dial(t, config(s)))
}

func TestTransportRsyncVersion(t *testing.T) {
	tr := newTestTransport(t)
	code, out, _ := runCommand(t, tr, "rsync --version")
	if code != 0 || !strings.HasPrefix(out, "rsync  version ") {
		t.Fatalf("rsync --version: exit %d, output %q", code, out)
	}
}

func TestTransportExitCodes(t *testing.T) {
	tr := newTestTransport(t)
	for _, tc := range []struct {
		command string
		want    int
	}{
		{"true", 0},
		{"exit 3", 3},
		{"exit 255", 255},
		{"kill -TERM $$", 128 + 15}, // signal deaths read as a shell reports them
	} {
		if code, _, stderr := runCommand(t, tr, tc.command); code != tc.want {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tc.command, code, tc.want, stderr)
		}
	}
}

func TestTransportStreams(t *testing.T) {
	tr := newTestTransport(t)
	ctx := context.Background()
	p, err := tr.Start(ctx, "cat; echo done >&2")
	if err != nil {
		t.Fatal(err)
	}
	o := collect(p)
	// More than the SSH window (2 MiB) in both directions at once.
	payload := bytes.Repeat([]byte("0123456789abcdef"), 300_000)
	if _, err := p.Stdin().Write(payload); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := p.Stdin().Close(); err != nil {
		t.Fatal(err)
	}
	<-o.done
	code, err := p.Wait()
	if err != nil || code != 0 {
		t.Fatalf("Wait: %d, %v", code, err)
	}
	if !bytes.Equal(o.stdout.Bytes(), payload) {
		t.Errorf("stdout: %d bytes, want the %d written", o.stdout.Len(), len(payload))
	}
	if o.stderr.String() != "done\n" {
		t.Errorf("stderr = %q", o.stderr.String())
	}
	if _, err := p.Stdin().Write([]byte("late")); err == nil {
		t.Error("write after exit succeeded")
	}
}

// TestTransportConcurrentSessions runs several commands over one client.
func TestTransportConcurrentSessions(t *testing.T) {
	tr := newTestTransport(t)
	const n = 5
	errs := make(chan error, n)
	for i := range n {
		go func() {
			p, err := tr.Start(context.Background(), "echo "+strconv.Itoa(i))
			if err != nil {
				errs <- err
				return
			}
			p.Stdin().Close()
			o := collect(p)
			<-o.done
			if code, err := p.Wait(); err != nil || code != 0 || o.stdout.String() != strconv.Itoa(i)+"\n" {
				errs <- errors.New("session " + strconv.Itoa(i) + ": " + o.stdout.String())
				return
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestTransportMaxSessions(t *testing.T) {
	tr := newTestTransport(t, sshtest.WithMaxSessions(1))
	first, err := tr.Start(context.Background(), "cat") // ends when its session closes
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := first.Kill(); err != nil {
			t.Error(err)
		}
	}()
	_, err = tr.Start(context.Background(), "true")
	if err == nil || !strings.Contains(err.Error(), "MaxSessions") {
		t.Fatalf("second session: err = %v, want a MaxSessions hint", err)
	}
}

// startSleeper runs a command that prints its pid and then blocks, so the
// test can check that the remote process really goes away (the server is
// on this machine).
//
// The commands block on their pipes, as rsync --server does, rather than
// in sleep: sshd refuses signal requests on root logins ("session
// signalling requires privilege separation", and CI logs in as root), so
// what ends the remote process there is sshd closing its pipes when the
// session closes: EOF on stdin, EPIPE on stdout.
func startSleeper(t *testing.T, ctx context.Context, tr rsync.Transport, command string) (rsync.Process, int) {
	t.Helper()
	p, err := tr.Start(ctx, "echo $$; exec "+command)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, p.Stderr()) }()
	var line []byte
	buf := make([]byte, 1)
	for {
		if _, err := p.Stdout().Read(buf); err != nil {
			t.Fatalf("read pid: %v", err)
		}
		if buf[0] == '\n' {
			break
		}
		line = append(line, buf[0])
	}
	pid, err := strconv.Atoi(string(line))
	if err != nil {
		t.Fatalf("pid line %q: %v", line, err)
	}
	return p, pid
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("remote process %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// within fails unless f returns within d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func TestTransportCancelUnblocksRead(t *testing.T) {
	tr := newTestTransport(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, pid := startSleeper(t, ctx, tr, "cat") // waits for stdin, prints nothing

	time.AfterFunc(100*time.Millisecond, cancel)
	var readErr error
	within(t, 2*time.Second, "blocked Read after cancel", func() {
		_, readErr = p.Stdout().Read(make([]byte, 10))
	})
	if !errors.Is(readErr, context.Canceled) {
		t.Errorf("Read after cancel: %v, want context.Canceled", readErr)
	}
	var waitErr error
	within(t, 2*time.Second, "Wait after cancel", func() { _, waitErr = p.Wait() })
	if !errors.Is(waitErr, context.Canceled) {
		t.Errorf("Wait after cancel: %v, want context.Canceled", waitErr)
	}
	waitGone(t, pid)
}

func TestTransportCancelUnblocksWrite(t *testing.T) {
	tr := newTestTransport(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// yes never reads stdin, so writes stall once the windows fill; its
	// stdout, which nobody reads, stalls too.
	p, pid := startSleeper(t, ctx, tr, "yes")

	var written atomic.Int64
	writeErr := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		for {
			n, err := p.Stdin().Write(chunk)
			written.Add(int64(n))
			if err != nil {
				writeErr <- err
				return
			}
		}
	}()
	// Wait until writing has stalled.
	for last := int64(-1); ; {
		time.Sleep(200 * time.Millisecond)
		now := written.Load()
		if now == last {
			break
		}
		last = now
	}
	cancel()
	select {
	case err := <-writeErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Write after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("blocked Write (after %d bytes) did not return after cancel", written.Load())
	}
	waitGone(t, pid)
}

func TestTransportKill(t *testing.T) {
	tr := newTestTransport(t)
	p, pid := startSleeper(t, context.Background(), tr, "cat")
	within(t, time.Second, "Kill", func() {
		if err := p.Kill(); err != nil {
			t.Errorf("Kill: %v", err)
		}
	})
	within(t, time.Second, "Wait after Kill", func() {
		if code, err := p.Wait(); err == nil {
			t.Errorf("Wait after Kill: exit %d and no error", code)
		}
	})
	if _, err := p.Stdout().Read(make([]byte, 1)); err == nil {
		t.Error("Read after Kill succeeded")
	}
	waitGone(t, pid)
}

// TestTransportCancelAfterExit: once the command has exited, cancelling
// its context changes nothing, and the output is all there.
func TestTransportCancelAfterExit(t *testing.T) {
	tr := newTestTransport(t)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := tr.Start(ctx, "echo out; exit 4")
	if err != nil {
		t.Fatal(err)
	}
	p.Stdin().Close()
	go func() { _, _ = io.Copy(io.Discard, p.Stderr()) }()
	// Wait for the exit before reading stdout: the output must survive
	// it. (A fixed sleep was too short on a loaded machine: the login
	// shell can take longer than that to start.)
	select {
	case <-p.(*process).done:
	case <-time.After(20 * time.Second):
		t.Fatal("the command did not exit")
	}
	cancel()
	out, err := io.ReadAll(p.Stdout())
	if err != nil || string(out) != "out\n" {
		t.Errorf("stdout %q, %v", out, err)
	}
	if code, err := p.Wait(); err != nil || code != 4 {
		t.Errorf("Wait: %d, %v; want 4", code, err)
	}
}

func TestTransportStartCancelled(t *testing.T) {
	tr := newTestTransport(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Start(ctx, "true"); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with cancelled ctx: %v", err)
	}
}

func TestTransportClientClosed(t *testing.T) {
	s := sshtest.Start(t)
	c := dial(t, config(s))
	tr := NewTransport(c)
	p, pid := startSleeper(t, context.Background(), tr, "cat")
	c.Close()
	within(t, 2*time.Second, "Wait after the connection closed", func() {
		if _, err := p.Wait(); err == nil {
			t.Error("Wait reported a status for a lost connection")
		}
	})
	if _, err := tr.Start(context.Background(), "true"); err == nil {
		t.Error("Start on a closed client succeeded")
	}
	waitGone(t, pid)
}

// TestTransportKillAfterExit: Kill after the command has exited keeps its
// real status.
func TestTransportKillAfterExit(t *testing.T) {
	tr := newTestTransport(t)
	p, err := tr.Start(context.Background(), "exit 5")
	if err != nil {
		t.Fatal(err)
	}
	p.Stdin().Close()
	o := collect(p)
	<-o.done
	code, err := p.Wait()
	if err != nil || code != 5 {
		t.Fatalf("Wait: %d, %v", code, err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 5 {
		t.Errorf("Wait after a late Kill: %d, %v; want 5", code, err)
	}
}
