package provider

// Commands run on the remote host outside the rsync protocol, and the hints
// and summaries that explain a failed connection or transfer.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
)

// remoteHint says what to do about a failed remote operation.
func (r *directoryResource) remoteHint(c syncConfig, err error, remote bool) string {
	if !remote {
		return "Check that the path exists and that Terraform may read it."
	}
	return pushHint(err, r.rsyncPath(c))
}

// pushHint says what to do about a failed transfer or listing.
func pushHint(err error, rsyncPath string) string {
	var lost *sshconn.LostError
	if errors.As(err, &lost) {
		return "The SSH connection was lost during the transfer (the network path broke or stalled, or the server " +
			"went away). " + interruptedHint
	}
	var unsupported *rsync.UnsupportedError
	if errors.As(err, &unsupported) {
		return fmt.Sprintf("The server's rsync speaks protocol %d (%s). Remove the setting that needs %s, or "+
			"install rsync 3.x on the server and point rsync_path at it.", unsupported.Protocol,
			rsync.ProtocolPeers(unsupported.Protocol), unsupported.Option)
	}
	var ee *rsync.ExitError
	if errors.As(err, &ee) {
		switch {
		case (ee.Code == 1 || ee.Code == 2) && (strings.Contains(ee.Messages, "usermap") || strings.Contains(ee.Messages, "groupmap")):
			// owner/group travel as --usermap/--groupmap (rsync 3.1+).
			return "owner and group are applied with rsync's --chown (--usermap/--groupmap, rsync 3.1 and later), " +
				"which the server's rsync does not have (rsync 2.6.x and openrsync, the rsync of macOS and OpenBSD, " +
				"lack it). Remove owner and group, or install rsync 3.1+ on the server and point rsync_path at it."
		case ee.Code == 126 || ee.Code == 127:
			return fmt.Sprintf("The remote command %q could not be run. Install rsync on the remote host, "+
				"or set the provider's rsync_path to the command that starts it.", rsyncPath)
		case ee.Code == 3 || ee.Code == 11 || ee.Code == 23:
			return "Check that the path exists and is readable and writable by the SSH user (rsync_path = \"sudo rsync\" " +
				"runs the remote side with sudo) and that the disk is not full."
		case ee.Code == 20 || ee.Code == 30 || (ee.Code > 128 && ee.Code < 160):
			return "The remote rsync was stopped before it finished (a signal, a timeout, or the server shutting down). " +
				interruptedHint + " A remote rsync killed outright (SIGKILL) cannot remove its temporary file " +
				"(.NAME.XXXXXX beside the file it was writing): the next apply deletes it with delete = true; " +
				"otherwise the plan names it."
		}
	}
	return "Check that rsync is installed on the remote host (or set the provider's rsync_path), and that the " +
		"SSH user may read and write the path."
}

// dialDiagnostic words a failed SSH connection. sshconn's errors already
// name the setting to fix; the summary says which kind of failure it is.
func dialDiagnostic(err error, cfg sshconn.Config) (summary, detail string) {
	msg := strings.TrimPrefix(err.Error(), "ssh: ") + "."
	var hostKeyErr *sshconn.HostKeyError
	var authErr *sshconn.AuthError
	switch {
	case errors.As(err, &hostKeyErr):
		return "SSH host key not trusted", msg
	case errors.As(err, &authErr):
		return "SSH authentication failed", msg
	}
	return "SSH connection failed", fmt.Sprintf("Could not connect to %s: %s", displayHost(cfg), msg)
}

// remoteExists runs a `test` command through the transport: exit 0 means it
// exists, 1 that it does not; anything else is an error.
func remoteExists(ctx context.Context, t rsync.Transport, command string) (bool, error) {
	code, msg, err := runCommand(ctx, t, command)
	if err != nil {
		return false, err
	}
	switch code {
	case 0:
		return true, nil
	case 1:
		return false, nil
	}
	return false, fmt.Errorf("remote command %q exited with status %d: %s", command, code, msg)
}

// runRemote runs a command that must succeed.
func runRemote(ctx context.Context, t rsync.Transport, command string) error {
	code, msg, err := runCommand(ctx, t, command)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("exited with status %d: %s", code, msg)
	}
	return nil
}

// runCommand runs a remote shell command with no input and returns its
// exit status and (the start of) its error output.
func runCommand(ctx context.Context, t rsync.Transport, command string) (int, string, error) {
	p, err := t.Start(ctx, command)
	if err != nil {
		return 0, "", err
	}
	_ = p.Stdin().Close()
	stderr := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(p.Stderr(), 64<<10))
		_, _ = io.Copy(io.Discard, p.Stderr())
		stderr <- strings.TrimSpace(string(b))
	}()
	_, _ = io.Copy(io.Discard, p.Stdout())
	code, err := p.Wait()
	msg := <-stderr
	if err != nil {
		_ = p.Kill()
		return 0, "", err
	}
	if msg == "" {
		msg = "no message"
	}
	return code, msg, nil
}

// displayHost is user@host[ port N] for messages.
func displayHost(cfg sshconn.Config) string {
	h := cfg.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if cfg.User != "" {
		h = cfg.User + "@" + h
	}
	if cfg.Port != 0 {
		h = fmt.Sprintf("%s port %d", h, cfg.Port)
	}
	return h
}
