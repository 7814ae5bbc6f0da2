//go:build unix

package sshconn

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// TestDialDropbear: the provider's connection reaches Dropbear 2022.83
// under every host-key policy, with each host key type Dropbear makes.
//
// Dropbear 2022.83 lists rsa-sha2-256 and ssh-rsa in its KEXINIT even
// when it has no RSA host key, and its session dies on an assertion when
// a client picks one ("Failed assertion (rsa.c:164)"; the client sees EOF
// in the handshake). x/crypto's default host key order puts RSA before
// ed25519, so a policy that knows no key type for the host (insecure,
// accept-new for a new host) used to fail against an ed25519-only
// Dropbear; Dial now offers OpenSSH's order (ed25519 first) then.
func TestDialDropbear(t *testing.T) {
	for _, keyType := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(keyType, func(t *testing.T) {
			s := sshtest.StartDropbear(t, sshtest.WithHostKeyType(keyType))
			check := func(name string, cfg Config) {
				t.Helper()
				c, err := Dial(context.Background(), cfg)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				defer c.Close()
				sess, err := c.NewSession()
				if err != nil {
					t.Errorf("%s: session: %v", name, err)
					return
				}
				defer sess.Close()
				out, err := sess.Output("rsync --version")
				if err != nil || !strings.HasPrefix(string(out), "rsync  version") {
					t.Errorf("%s: rsync --version: %v: %q", name, err, out)
				}
			}

			check("known_hosts", config(s))

			pinned := config(s)
			pinned.KnownHostsFile, pinned.HostKey = "", s.HostKeyAuthorized
			check("host_key", pinned)

			insecure := config(s)
			insecure.KnownHostsFile, insecure.InsecureIgnoreHostKey = "", true
			check("insecure_ignore_host_key", insecure)

			// accept-new, twice: the first dial records the key, the
			// second verifies it.
			acceptNew := config(s)
			acceptNew.KnownHostsFile = filepath.Join(t.TempDir(), "known_hosts")
			acceptNew.AcceptNewHostKeys = true
			check("accept-new, new host", acceptNew)
			recorded, err := os.ReadFile(acceptNew.KnownHostsFile)
			if err != nil || !strings.Contains(string(recorded), s.HostKeyAuthorized) {
				t.Errorf("accept-new recorded %q (%v), want the server's key %s", recorded, err, s.HostKeyAuthorized)
			}
			check("accept-new, known host", acceptNew)
		})
	}
}

// TestPoolDropbearConcurrent: resources sharing one Dropbear host run
// their commands through one pooled connection. Dropbear 2022.83 closes a
// session channel that has not yet started its command whenever another
// session's command on the connection exits (its sesscheckclose treats
// "no process yet" as "ready to close", and every SIGCHLD re-checks all
// channels), which the client sees as EOF in reply to its exec. Many short
// commands at once make that window likely; every one must still run.
func TestPoolDropbearConcurrent(t *testing.T) {
	s := sshtest.StartDropbear(t)
	p := newPool(t, PoolOptions{})
	tr, release := poolTransport_(t, p, config(s))
	defer release()
	var wg sync.WaitGroup
	errs := make(chan error, 16*4)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 4 {
				want := fmt.Sprintf("%d-%d", i, j)
				out, err := run(context.Background(), tr, "echo "+want)
				if err == nil && out != want+"\n" {
					err = fmt.Errorf("echo %s printed %q", want, out)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 3 {
			t.Error(err)
		}
	}
	if n > 0 {
		t.Errorf("%d of 64 commands failed", n)
	}
}

// TestStartRetriesSessionClosedBeforeExec: a session that Dropbear closes
// while it waits for its exec (here: another command on the connection
// exits in that moment, as a command abandoned with Kill may) is replaced
// by a fresh one, and the command runs once.
func TestStartRetriesSessionClosedBeforeExec(t *testing.T) {
	s := sshtest.StartDropbear(t)
	c := dial(t, config(s))
	var attempts []int
	h := hooks{beforeExec: func(attempt int) {
		attempts = append(attempts, attempt)
		if attempt == 1 {
			// Another session's command runs and exits while ours waits.
			other, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if err := other.Run("true"); err != nil {
				t.Fatal(err)
			}
		}
	}}
	p, err := startProcess(c, "echo ran", h)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	p.Stdin().Close()
	go func() { _, _ = io.Copy(io.Discard, p.Stderr()) }()
	out, err := io.ReadAll(p.Stdout())
	if err != nil || string(out) != "ran\n" {
		t.Fatalf("output %q, %v", out, err)
	}
	if code, err := p.Wait(); code != 0 || err != nil {
		t.Fatalf("exit %d, %v", code, err)
	}
	if fmt.Sprint(attempts) != "[1 2]" {
		t.Errorf("attempts %v, want [1 2]: the first session should have been closed by Dropbear and replaced", attempts)
	}
}
