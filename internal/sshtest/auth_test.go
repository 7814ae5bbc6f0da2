package sshtest

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestPasswordLogin(t *testing.T) {
	before, _ := os.ReadFile("/etc/shadow")
	s, err := StartServer(t.TempDir(), WithPassword("correct horse"))
	if errors.Is(err, ErrPasswordUnsupported) {
		t.Skipf("password logins cannot be set up here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	}()
	cfg := s.ClientConfig()
	cfg.Auth = []ssh.AuthMethod{ssh.Password("correct horse")}
	c, err := ssh.Dial("tcp", s.Addr(), cfg)
	if err != nil {
		t.Fatalf("password login: %v\n%s", err, s.Log())
	}
	if out := run(t, c, "echo ok"); out != "ok\n" {
		t.Errorf("got %q", out)
	}
	c.Close()
	cfg.Auth = []ssh.AuthMethod{ssh.Password("wrong")}
	if c, err := ssh.Dial("tcp", s.Addr(), cfg); err == nil {
		c.Close()
		t.Fatal("a wrong password was accepted")
	}
	// The system's shadow file is untouched, and the bind mount lives
	// only in sshd's namespace.
	if after, _ := os.ReadFile("/etc/shadow"); string(after) != string(before) {
		t.Error("/etc/shadow changed")
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), " /etc/shadow ") {
		t.Error("/etc/shadow is bind-mounted in the test's namespace")
	}
}

func TestCertificates(t *testing.T) {
	hostCA, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	userCA, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	s := Start(t, WithHostCertificate(hostCA), WithTrustedUserCA(userCA))
	if !strings.HasPrefix(s.HostCertificate, "ssh-ed25519-cert-v01@openssh.com ") {
		t.Fatalf("HostCertificate = %q", s.HostCertificate)
	}

	// A key that is not in authorized_keys logs in with a certificate.
	k, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := userCA.Sign(k.Public, ssh.UserCert, s.User)
	if err != nil {
		t.Fatal(err)
	}
	certSigner, err := ssh.NewCertSigner(cert, k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	caPub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hostCA.Authorized))
	if err != nil {
		t.Fatal(err)
	}
	checker := &ssh.CertChecker{IsHostAuthority: func(auth ssh.PublicKey, _ string) bool {
		return string(auth.Marshal()) == string(caPub.Marshal())
	}}
	c, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{
		User:              s.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(certSigner)},
		HostKeyCallback:   checker.CheckHostKey,
		HostKeyAlgorithms: []string{ssh.CertAlgoED25519v01},
		Timeout:           10 * time.Second,
	})
	if err != nil {
		t.Fatalf("certificate login: %v", err)
	}
	c.Close()
}

func TestProxyCountsAndStalls(t *testing.T) {
	s := Start(t)
	p := StartProxy(t, s.Addr())
	cfg := s.ClientConfig()
	cfg.Timeout = 2 * time.Second
	c, err := ssh.Dial("tcp", p.Addr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p.Accepted() != 1 {
		t.Errorf("Accepted = %d", p.Accepted())
	}
	p.Stall()
	res := make(chan error, 1)
	go func() { _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); res <- err }()
	select {
	case err := <-res:
		t.Fatalf("request answered through a stalled proxy: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	p.Resume()
	select {
	case err := <-res:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer after Resume")
	}
	p.CutAll()
	if err := c.Wait(); err == nil {
		t.Log("connection ended cleanly after CutAll")
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err != nil {
		t.Errorf("proxy stopped accepting after CutAll: %v", err)
	}
}

func TestAgent(t *testing.T) {
	a := StartAgent(t)
	k, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	a.Add(t, WriteKey(t, t.TempDir(), k, "deploy key"))
	conn, err := net.Dial("unix", a.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keys, err := agent.NewClient(conn).List()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].Comment != "deploy key" || keys[0].String() == "" {
		t.Fatalf("agent keys = %v", keys)
	}
}
