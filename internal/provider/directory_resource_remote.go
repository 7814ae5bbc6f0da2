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

// dialDiagnostic words a failed SSH connection. sshconn's errors already
// name the setting to fix; the summary says which kind of failure it is.
func dialDiagnostic(err error, cfg sshconn.Config) (summary, detail string) {
	msg := strings.TrimPrefix(err.Error(), "ssh: ") + "."
	msg += sshConfigNote(cfg)
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
	_, code, msg, err := runCommandOutput(ctx, t, command)
	return code, msg, err
}

// maxCommandOutput bounds what runCommandOutput keeps of a command's
// output (a release listing: a line per release).
const maxCommandOutput = 4 << 20

// runCommandOutput is runCommand that also returns (the first 4 MiB of)
// the command's standard output.
func runCommandOutput(ctx context.Context, t rsync.Transport, command string) (string, int, string, error) {
	p, err := t.Start(ctx, command)
	if err != nil {
		return "", 0, "", err
	}
	_ = p.Stdin().Close()
	stderr := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(p.Stderr(), 64<<10))
		_, _ = io.Copy(io.Discard, p.Stderr())
		stderr <- strings.TrimSpace(string(b))
	}()
	out, _ := io.ReadAll(io.LimitReader(p.Stdout(), maxCommandOutput))
	_, _ = io.Copy(io.Discard, p.Stdout())
	code, err := p.Wait()
	msg := <-stderr
	if err != nil {
		_ = p.Kill()
		return "", 0, "", err
	}
	if msg == "" {
		msg = "no message"
	}
	return string(out), code, msg, nil
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
