//go:build !windows

package sshconn

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh/agent"
)

// serveAgent serves keyring where an agent is on Unix, a Unix socket, and
// returns the socket's path.
func serveAgent(t *testing.T, keyring agent.Agent) string {
	t.Helper()
	// A short directory: a socket path is limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "agent") //nolint:usetesting // t.TempDir() is too long a socket path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "s")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = agent.ServeAgent(keyring, c)
			}()
		}
	}()
	return socket
}
