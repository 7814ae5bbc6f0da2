//go:build !windows

package sshconn

import (
	"context"
	"net"
)

// defaultAgentSocket is the agent used when SSH_AUTH_SOCK is not set:
// none. An OpenSSH agent on Unix is found only through SSH_AUTH_SOCK.
func defaultAgentSocket() string { return "" }

// dialAgent connects to the ssh-agent at socket, a Unix socket.
func dialAgent(ctx context.Context, socket string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", socket)
}
