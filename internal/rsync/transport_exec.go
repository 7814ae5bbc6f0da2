package rsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
)

// ExecTransport runs the server command through a local /bin/sh, the way a
// remote login shell would. It serves tests and local transfers that use a
// stock rsync binary as the peer.
type ExecTransport struct {
	// Shell is the shell to run commands with; default /bin/sh.
	Shell string
}

// Start implements Transport.
func (t ExecTransport) Start(ctx context.Context, command string) (Process, error) {
	shell := t.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	cmd := exec.Command(shell, "-c", command)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", shell, err)
	}
	return &execProcess{cmd: cmd, stdin: stdin, stdout: stdout, stderr: stderr}, nil
}

type execProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.Reader
	stderr io.Reader

	waitOnce sync.Once
	code     int
	err      error
}

func (p *execProcess) Stdin() io.WriteCloser { return p.stdin }
func (p *execProcess) Stdout() io.Reader     { return p.stdout }
func (p *execProcess) Stderr() io.Reader     { return p.stderr }

func (p *execProcess) Wait() (int, error) {
	p.waitOnce.Do(func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.Exited():
			p.code = ee.ExitCode()
		case errors.As(err, &ee):
			p.code = 128 + 9 // killed by a signal
		default:
			p.err = err
		}
	})
	return p.code, p.err
}

func (p *execProcess) Kill() error {
	if p.cmd.Process == nil {
		return nil
	}
	err := p.cmd.Process.Kill()
	return err
}
