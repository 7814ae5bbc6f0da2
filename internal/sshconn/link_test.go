package sshconn

import (
	"errors"
	"testing"

	"golang.org/x/crypto/ssh"
)

// closeOnlyConn is an ssh.Conn whose Close does nothing: die closes the
// link's client, and these tests have no connection behind it.
type closeOnlyConn struct{ ssh.Conn }

func (closeOnlyConn) Close() error { return nil }

// TestLinkDeathIsOneStep: once Err reports a link dead, alive says so too.
// Pool.start relies on it: a transport that found the connection dead
// (acquire returned its Err) asks the pool for a live one, and must not be
// handed the same dead connection, which would make a cut fail the
// command instead of reconnecting (a CI failure of TestPoolReconnects).
// The window it closes is a few instructions wide, so the test repeats the
// race many times; it cannot fail when the death is one step.
func TestLinkDeathIsOneStep(t *testing.T) {
	reason := errors.New("cut")
	for i := 0; i < 2000; i++ {
		l := &link{client: &ssh.Client{Conn: closeOnlyConn{}}, done: make(chan struct{})}
		go l.die(reason)
		for l.Err() == nil {
		}
		if l.alive() {
			t.Fatalf("round %d: Err is %v but alive is true", i, l.Err())
		}
	}
}
