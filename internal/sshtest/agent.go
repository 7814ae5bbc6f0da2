package sshtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Agent is a real OpenSSH ssh-agent listening on a socket in a temp dir.
type Agent struct {
	Socket string // for SSH_AUTH_SOCK

	cmd    *exec.Cmd
	exited chan struct{}
}

// StartAgent runs `ssh-agent -D -a SOCKET` (foreground, so the test owns
// and reaps it) and stops it when the test ends. It fails the test if
// ssh-agent is missing: CI installs openssh-client with openssh-server.
func StartAgent(t testing.TB) *Agent {
	t.Helper()
	// A unix socket path is limited to 108 bytes; t.TempDir() paths carry
	// the test name and can exceed that, so use a short directory.
	dir, err := os.MkdirTemp("", "agent") //nolint:usetesting // t.TempDir() is too long a socket path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := &Agent{Socket: filepath.Join(dir, "sock"), exited: make(chan struct{})}
	a.cmd = exec.Command("ssh-agent", "-D", "-a", a.Socket)
	var out bytes.Buffer
	a.cmd.Stdout, a.cmd.Stderr = &out, &out
	a.cmd.SysProcAttr = sysProcAttr()
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("sshtest: run ssh-agent: %v (is openssh-client installed?)", err)
	}
	go func() {
		_ = a.cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(a.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", a.Socket)
		if err == nil {
			c.Close()
			return a
		}
		select {
		case <-a.exited:
			t.Fatalf("sshtest: ssh-agent exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshtest: ssh-agent socket %s not ready: %v", a.Socket, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (a *Agent) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(5 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
}

// Add loads a private key file into the agent with ssh-add, which also
// loads KEYFILE-cert.pub when it exists. The key file must be mode 0600.
// A passphrase-protected key is not supported (ssh-add would prompt).
func (a *Agent) Add(t testing.TB, keyFile string) {
	t.Helper()
	cmd := exec.Command("ssh-add", keyFile)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+a.Socket)
	cmd.Stdin = strings.NewReader("")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sshtest: ssh-add %s: %v: %s", keyFile, err, out)
	}
}

// WriteKey writes k's private key to a fresh 0600 file in dir with the
// given comment on its public half in KEYFILE.pub, and returns the path.
// ssh-add takes the key's comment from the private key file; ssh-keygen -c
// sets it there, so the comment is set with it.
func WriteKey(t testing.TB, dir string, k *KeyPair, comment string) string {
	t.Helper()
	path := filepath.Join(dir, "id_"+strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(comment)))
	if err := writeFile(path, k.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if comment != "" {
		out, err := exec.Command("ssh-keygen", "-q", "-c", "-C", comment, "-f", path).CombinedOutput()
		if err != nil {
			t.Fatalf("sshtest: ssh-keygen -c: %v: %s", err, out)
		}
	}
	if err := writeFile(path+".pub", fmt.Sprintf("%s %s\n", k.Authorized, comment), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
