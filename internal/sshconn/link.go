package sshconn

import (
	"fmt"
	"sync"
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
	addr   string
	done   chan struct{} // closed when the link is dead

	mu     sync.Mutex
	err    error // why it died; set before done closes
	onDead []func(error)
}

func newLink(client *ssh.Client, cfg Config) *link {
	l := &link{client: client, addr: cfg.addr(), done: make(chan struct{})}
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
	callbacks := l.onDead
	l.onDead = nil
	l.mu.Unlock()
	close(l.done)
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
// OpenSSH's ServerAliveInterval does, and kills the link when none has
// been answered for countMax intervals. Any answer counts, including
// "request failed" (sshd refuses the request but answers it).
func (l *link) keepalive(interval time.Duration, countMax int) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	replies := make(chan struct{}, 1)
	lastReply := time.Now()
	inflight := false
	for {
		select {
		case <-l.done:
			return
		case <-replies:
			lastReply, inflight = time.Now(), false
		case <-ticker.C:
			if silent := time.Since(lastReply); silent >= time.Duration(countMax)*interval {
				l.die(&LostError{Addr: l.addr, Reason: fmt.Sprintf(
					"no reply to keepalives for %v (keepalive_interval %v, %d unanswered): the server or the network path stopped responding",
					silent.Round(time.Millisecond), interval, countMax)})
				return
			}
			if !inflight {
				inflight = true
				go func() {
					if _, _, err := l.client.SendRequest("keepalive@openssh.com", true, nil); err == nil {
						replies <- struct{}{}
					}
				}()
			}
		}
	}
}
