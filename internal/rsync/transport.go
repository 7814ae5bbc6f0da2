// Package rsync is the rsync engine: it speaks the rsync wire protocol
// (protocol 30–32) to a stock `rsync --server` over any byte transport.
// It never imports Terraform and knows nothing about SSH.
package rsync

import (
	"context"
	"io"
)

// Transport starts the remote half of a transfer. For SSH it opens a
// session and runs command through the remote login shell; in tests and
// for local work it may run command through /bin/sh.
type Transport interface {
	// Start runs command (a complete shell command line, already quoted)
	// and returns its standard streams. ctx bounds the whole process:
	// when it is cancelled the process must be terminated and blocked
	// reads/writes must return.
	Start(ctx context.Context, command string) (Process, error)
}

// Process is a running remote `rsync --server`.
type Process interface {
	// Stdin is the server's standard input (client → server bytes).
	Stdin() io.WriteCloser
	// Stdout is the server's standard output (server → client bytes).
	Stdout() io.Reader
	// Stderr is the server's standard error. Since rsync 3.2.3 the server's
	// error text arrives here rather than in-band, so it must be drained.
	Stderr() io.Reader
	// Wait waits for the process to exit and returns its exit status.
	// A non-nil error means the status could not be obtained (transport
	// failure), not that the status was non-zero.
	Wait() (exitCode int, err error)
	// Kill terminates the process (best effort) and releases the transport.
	Kill() error
}
