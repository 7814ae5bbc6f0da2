//go:build unix

package sshconn

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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
