//go:build windows

package sshconn

import (
	"context"
	"net"
	"strings"

	"github.com/Microsoft/go-winio"
)

// windowsAgentPipe is where Windows' own OpenSSH agent (the
// "ssh-agent" service, which ssh-add talks to) listens.
const windowsAgentPipe = `\\.\pipe\openssh-ssh-agent`

// defaultAgentSocket is the agent used when SSH_AUTH_SOCK is not set:
// Windows' OpenSSH agent, which sets no variable.
func defaultAgentSocket() string { return windowsAgentPipe }

// dialAgent connects to the ssh-agent at socket: a named pipe
// (\\.\pipe\...), as Windows' OpenSSH agent serves, or else a Unix
// socket, which Windows 10 1803 and later also have.
func dialAgent(ctx context.Context, socket string) (net.Conn, error) {
	if strings.HasPrefix(socket, `\\.\pipe\`) || strings.HasPrefix(socket, `//./pipe/`) {
		return winio.DialPipeContext(ctx, socket)
	}
	var d net.Dialer
	return d.DialContext(ctx, "unix", socket)
}
