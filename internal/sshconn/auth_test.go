//go:build unix

package sshconn

import (
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// TestMain makes the tests independent of the developer's own ssh-agent:
// tests that want an agent start one and name it.
func TestMain(m *testing.M) {
	os.Unsetenv("SSH_AUTH_SOCK")
	os.Exit(m.Run())
}

func TestDialPassword(t *testing.T) {
	s, err := sshtest.StartServer(t.TempDir(), sshtest.WithPassword("s3cret pass"))
	if errors.Is(err, sshtest.ErrPasswordUnsupported) {
		t.Skipf("not faked, skipped: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	cfg := config(s)
	cfg.PrivateKey = ""
	cfg.Password = "s3cret pass"
	c := dial(t, cfg)
	if _, out, _ := runCommand(t, NewTransport(c), "echo ok"); out != "ok\n" {
		t.Errorf("got %q", out)
	}
	if !strings.Contains(s.Log(), "Accepted password for "+s.User) {
		t.Errorf("sshd did not log a password login:\n%s", s.Log())
	}

	cfg.Password = "wrong"
	err = dialError(t, cfg, "authentication as "+s.User+"@", "offered: keyboard-interactive with password, password")
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error echoes the password: %v", err)
	}
	var authErr *AuthError
	if !errors.As(err, &authErr) {
		t.Errorf("not an *AuthError: %T", err)
	}
}

// writeEncrypted writes k's private key encrypted with passphrase.
func writeEncrypted(t *testing.T, k testKey, passphrase string) string {
	t.Helper()
	block, err := ssh.MarshalPrivateKeyWithPassphrase(k.Private, "enc", []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "id_enc")
	if err := os.WriteFile(f, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDialEncryptedKey(t *testing.T) {
	s := sshtest.Start(t)
	raw, err := ssh.ParseRawPrivateKey([]byte(s.ClientKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	enc := writeEncrypted(t, testKey{Private: raw}, "open sesame")
	cfg := config(s)
	cfg.PrivateKey, cfg.PrivateKeyFile = "", enc
	dialErr(t, cfg, "private key is encrypted: set private_key_passphrase")
	cfg.PrivateKeyPassphrase = "open sesame"
	dial(t, cfg)

	// The same key as content.
	b, _ := os.ReadFile(enc)
	cfg.PrivateKeyFile, cfg.PrivateKey = "", string(b)
	dial(t, cfg)
	cfg.PrivateKeyPassphrase = "nope"
	err = dialError(t, cfg, "private_key_passphrase does not decrypt the key in private_key")
	if strings.Contains(err.Error(), "nope") {
		t.Errorf("error echoes the passphrase: %v", err)
	}

	// A passphrase with an unencrypted key is harmless (a provider-wide
	// passphrase may be meant for another resource's key).
	cfg = config(s)
	cfg.PrivateKeyPassphrase = "unused"
	dial(t, cfg)
}

func TestDialCertificate(t *testing.T) {
	ca, err := sshtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	s := sshtest.Start(t, sshtest.WithTrustedUserCA(ca))
	k := newKey(t) // not in authorized_keys: only the certificate lets it in
	cert, err := ca.Sign(k.Public, ssh.UserCert, s.User)
	if err != nil {
		t.Fatal(err)
	}
	base := config(s)
	base.PrivateKey = k.PEM

	t.Run("without certificate the key is refused", func(t *testing.T) {
		dialErr(t, base, "authentication as")
	})
	t.Run("content", func(t *testing.T) {
		cfg := base
		cfg.Certificate = sshtest.CertLine(cert)
		dial(t, cfg)
	})
	t.Run("file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "id-cert.pub")
		if err := os.WriteFile(f, []byte(sshtest.CertLine(cert)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := base
		cfg.Certificate = f
		dial(t, cfg)
	})
	t.Run("beside the key file, as ssh does", func(t *testing.T) {
		dir := t.TempDir()
		key := filepath.Join(dir, "id_ed25519")
		if err := os.WriteFile(key, []byte(k.PEM), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(key+"-cert.pub", []byte(sshtest.CertLine(cert)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := base
		cfg.PrivateKey, cfg.PrivateKeyFile = "", key
		dial(t, cfg)
	})
	t.Run("certificate for another key", func(t *testing.T) {
		other := newKey(t)
		otherCert, err := ca.Sign(other.Public, ssh.UserCert, s.User)
		if err != nil {
			t.Fatal(err)
		}
		cfg := base
		cfg.Certificate = sshtest.CertLine(otherCert)
		dialErr(t, cfg, "certifies ssh-ed25519 "+ssh.FingerprintSHA256(other.Public), "use the certificate issued for this key")
	})
	t.Run("expired", func(t *testing.T) {
		old := *cert
		old.ValidBefore = uint64(time.Now().Add(-time.Hour).Unix())
		old.ValidAfter = uint64(time.Now().Add(-2 * time.Hour).Unix())
		if err := old.SignCert(rand.Reader, ca.Signer); err != nil {
			t.Fatal(err)
		}
		cfg := base
		cfg.Certificate = sshtest.CertLine(&old)
		dialErr(t, cfg, "certificate expired at", "signed again")
	})
	t.Run("wrong principal is offered and refused by the server", func(t *testing.T) {
		wrong, err := ca.Sign(k.Public, ssh.UserCert, "someone-else")
		if err != nil {
			t.Fatal(err)
		}
		cfg := base
		cfg.Certificate = sshtest.CertLine(wrong)
		dialErr(t, cfg, "offered: publickey certificate (ssh-ed25519 SHA256:", "principals [someone-else]")
	})
	t.Run("a plain public key is not a certificate", func(t *testing.T) {
		cfg := base
		f := filepath.Join(t.TempDir(), "plain.pub")
		if err := os.WriteFile(f, []byte(k.Authorized), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg.Certificate = f
		dialErr(t, cfg, "holds a plain public key", "ssh-keygen -s")
	})
}

func TestDialAgent(t *testing.T) {
	s := sshtest.Start(t, sshtest.WithExtraConfig("MaxAuthTries 2"))
	a := sshtest.StartAgent(t)
	dir := t.TempDir()
	// Three keys the server does not know, then the right one: with
	// MaxAuthTries 2 only agent_identity gets the right one offered in time.
	for i := 0; i < 3; i++ {
		a.Add(t, sshtest.WriteKey(t, dir, newKey(t).KeyPair, "decoy "+strconv.Itoa(i)))
	}
	right := &sshtest.KeyPair{PEM: s.ClientKeyPEM, Signer: s.ClientSigner, Public: s.ClientSigner.PublicKey(),
		Authorized: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.ClientSigner.PublicKey())))}
	a.Add(t, sshtest.WriteKey(t, dir, right, "deploy@ci"))

	base := config(s)
	base.PrivateKey = ""

	t.Run("SSH_AUTH_SOCK turns the agent on", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", a.Socket)
		err := dialError(t, base, `ssh-agent key "decoy 0"`, "agent_identity")
		var authErr *AuthError
		if !errors.As(err, &authErr) {
			t.Errorf("not an *AuthError: %T", err)
		}
	})
	t.Run("agent_identity by comment", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", a.Socket)
		cfg := base
		cfg.AgentIdentity = "deploy@ci"
		dial(t, cfg)
	})
	t.Run("agent_identity by fingerprint, socket given", func(t *testing.T) {
		cfg := base
		cfg.Agent, cfg.AgentSocket = AgentOn, a.Socket
		cfg.AgentIdentity = ssh.FingerprintSHA256(s.ClientSigner.PublicKey())
		dial(t, cfg)
	})
	t.Run("agent_identity matching nothing", func(t *testing.T) {
		cfg := base
		cfg.AgentSocket = a.Socket
		cfg.AgentIdentity = "nobody"
		dialErr(t, cfg, `agent_identity "nobody" matches no key`, `"deploy@ci"`, "ssh-add -l")
	})
	t.Run("agent = false ignores SSH_AUTH_SOCK", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", a.Socket)
		cfg := base
		cfg.Agent = AgentOff
		dialErr(t, cfg, "no authentication method")
	})
	t.Run("agent = true without an agent", func(t *testing.T) {
		cfg := base
		cfg.Agent = AgentOn
		dialErr(t, cfg, "agent = true but SSH_AUTH_SOCK is not set")
	})
	t.Run("configured key in the agent is tried first and needs no passphrase", func(t *testing.T) {
		raw, err := ssh.ParseRawPrivateKey([]byte(s.ClientKeyPEM))
		if err != nil {
			t.Fatal(err)
		}
		cfg := base
		cfg.AgentSocket = a.Socket
		cfg.PrivateKeyFile = writeEncrypted(t, testKey{Private: raw}, "pw") // no passphrase given
		dial(t, cfg)
	})
	t.Run("unreachable agent in auto mode is skipped", func(t *testing.T) {
		cfg := config(s)
		cfg.AgentSocket = filepath.Join(t.TempDir(), "gone")
		dial(t, cfg)
	})
}

func TestDialCertAuthorityKnownHosts(t *testing.T) {
	ca, err := sshtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	s := sshtest.Start(t, sshtest.WithHostCertificate(ca))
	otherCA, err := sshtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	host := knownhostsHost(s)
	write := func(t *testing.T, lines ...string) string {
		f := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	cases := []struct {
		name  string
		lines []string
		want  []string // error substrings; nil: success
	}{
		{"CA for the host", []string{"@cert-authority " + host + " " + ca.Authorized}, nil},
		{"CA for a wildcard", []string{"@cert-authority [127.0.0.*]:" + strconv.Itoa(s.Port) + " " + ca.Authorized}, nil},
		{"CA and the plain key", []string{plainLine(t, s), "@cert-authority " + host + " " + ca.Authorized}, nil},
		{"plain key only (the certificate's key is checked as a plain key)", []string{plainLine(t, s)}, nil},
		{"another CA, no plain key", []string{"@cert-authority " + host + " " + otherCA.Authorized},
			[]string{"not in", "host certificate signed by ssh-ed25519 " + ssh.FingerprintSHA256(ca.Signer.PublicKey())}},
		{"CA for another host", []string{"@cert-authority example.com " + ca.Authorized},
			[]string{"not in", "no @cert-authority line there trusts that CA for " + host}},
		{"a pattern without a port matches port 22 only", []string{"@cert-authority * " + ca.Authorized},
			[]string{"not in", "matches port 22 only"}},
		{"CA revoked", []string{"@cert-authority " + host + " " + ca.Authorized, "@revoked * " + ca.Authorized},
			[]string{"host certificate", "not valid", "revoked"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(s)
			cfg.KnownHostsFile = write(t, tc.lines...)
			if tc.want == nil {
				dial(t, cfg)
				return
			}
			dialErr(t, cfg, tc.want...)
		})
	}

	t.Run("pinned CA in host_key", func(t *testing.T) {
		cfg := config(s)
		cfg.KnownHostsFile = ""
		cfg.HostKey = "@cert-authority " + ca.Authorized
		dial(t, cfg)
		cfg.HostKey = "@cert-authority " + otherCA.Authorized
		dialErr(t, cfg, "not accepted by the pinned certificate authority", "no authorities")
	})
	t.Run("pinned CA, server without certificate", func(t *testing.T) {
		plain := sshtest.Start(t)
		cfg := config(plain)
		cfg.HostKey = "@cert-authority " + ca.Authorized
		dialErr(t, cfg, "presented a plain key", "HostCertificate")
	})
}

// TestHostCertificatePresented proves the CA path is the one taken: with
// only a CA line, the server must have presented its certificate.
func TestHostCertificatePresented(t *testing.T) {
	ca, err := sshtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	s := sshtest.Start(t, sshtest.WithHostCertificate(ca))
	f := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(f, []byte("@cert-authority "+knownhostsHost(s)+" "+ca.Authorized+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Config{Host: s.Host, Port: s.Port, KnownHostsFile: f}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	policy, err := newHostKeyPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var presented ssh.PublicKey
	c, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{
		User: s.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(s.ClientSigner)},
		HostKeyCallback: func(addr string, remote net.Addr, key ssh.PublicKey) error {
			presented = key
			return policy.callback(addr, remote, key)
		},
		HostKeyAlgorithms: policy.algorithms(s.Addr(), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: s.Port}),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, ok := presented.(*ssh.Certificate); !ok {
		t.Errorf("server presented %T, want a certificate", presented)
	}
}

func plainLine(t *testing.T, s *sshtest.Server) string {
	b, err := os.ReadFile(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func knownhostsHost(s *sshtest.Server) string {
	return "[" + s.Host + "]:" + strconv.Itoa(s.Port)
}
