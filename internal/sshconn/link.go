package sshconn

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// LostError means an established connection died: keepalives went
// unanswered, or the server or the network closed it. Operations that were
// running on it fail with it, so their errors say why.
type LostError struct {
	Addr   string // host:port
	Reason string
}

func (e *LostError) Error() string {
	return fmt.Sprintf("ssh: connection to %s lost: %s", e.Addr, e.Reason)
}

// link watches one established connection: it sends keepalives, notices
// when the connection ends, and then runs the death callbacks (once) with
// the reason.
type link struct {
	client *ssh.Client
	act    *activityConn
	addr   string
	done   chan struct{} // closed when the link is dead

	mu     sync.Mutex
	err    error // why it died; set before done closes
	onDead []func(error)
}

func newLink(client *ssh.Client, act *activityConn, cfg Config) *link {
	l := &link{client: client, act: act, addr: cfg.addr(), done: make(chan struct{})}
	go func() {
		err := client.Wait()
		reason := "the connection was closed"
		if err != nil {
			reason = fmt.Sprintf("the connection was closed (%v)", err)
		}
		l.die(&LostError{Addr: l.addr, Reason: reason})
	}()
	if cfg.KeepaliveInterval > 0 {
		go l.keepalive(cfg.KeepaliveInterval, cfg.KeepaliveCountMax)
	}
	return l
}

// onDeath registers f to run when the link dies (at once if it has).
func (l *link) onDeath(f func(error)) {
	l.mu.Lock()
	if l.err == nil {
		l.onDead = append(l.onDead, f)
		l.mu.Unlock()
		return
	}
	err := l.err
	l.mu.Unlock()
	f(err)
}

// die marks the link dead with reason (the first reason wins), runs the
// callbacks and closes the connection.
func (l *link) die(reason error) {
	l.mu.Lock()
	if l.err != nil {
		l.mu.Unlock()
		return
	}
	l.err = reason
	// done closes under the lock, with err set: whoever sees Err non-nil
	// then sees alive false. The pool relies on it: a Start that found
	// the connection dead must be handed a new one, not this one again.
	close(l.done)
	callbacks := l.onDead
	l.onDead = nil
	l.mu.Unlock()
	for _, f := range callbacks {
		f(reason)
	}
	// Closing the socket unblocks every reader and writer, even those
	// stuck on a stalled path.
	l.client.Close()
}

// Err is why the link died, or nil while it lives.
func (l *link) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *link) alive() bool {
	select {
	case <-l.done:
		return false
	default:
		return true
	}
}

// keepalive sends keepalive@openssh.com requests every interval, as
// OpenSSH's ServerAliveInterval does, and kills the link when nothing at
// all has arrived from the server for countMax intervals. Like OpenSSH,
// any incoming packet counts, not only replies: a slow link busy with a
// large transfer may answer late, but it is not dead. Any reply counts,
// including "request failed" (sshd refuses the request but answers it).
func (l *link) keepalive(interval time.Duration, countMax int) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	replies := make(chan struct{}, 1)
	inflight := false
	for {
		select {
		case <-l.done:
			return
		case <-replies:
			inflight = false
		case <-ticker.C:
			if silent := time.Since(l.act.lastRead()); silent >= time.Duration(countMax)*interval {
				l.die(&LostError{Addr: l.addr, Reason: fmt.Sprintf(
					"nothing received for %v despite keepalives (keepalive_interval %v, %d unanswered): the server or the network path stopped responding",
					silent.Round(time.Millisecond), interval, countMax)})
				return
			}
			if !inflight {
				inflight = true
				go func() {
					_, _, _ = l.client.SendRequest("keepalive@openssh.com", true, nil)
					replies <- struct{}{}
				}()
			}
		}
	}
}

// activityConn records when bytes last arrived on a connection.
type activityConn struct {
	net.Conn
	last atomic.Int64 // unix nanoseconds
}

func newActivityConn(c net.Conn) *activityConn {
	a := &activityConn{Conn: c}
	a.last.Store(time.Now().UnixNano())
	return a
}

func (a *activityConn) Read(p []byte) (int, error) {
	n, err := a.Conn.Read(p)
	if n > 0 {
		a.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (a *activityConn) lastRead() time.Time { return time.Unix(0, a.last.Load()) }
