package sshtest

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestServerRunsCommand(t *testing.T) {
	s := Start(t)

	if s.Host != "127.0.0.1" || s.Port == 0 {
		t.Fatalf("Host/Port = %q/%d", s.Host, s.Port)
	}
	if !strings.HasPrefix(s.HostKeyAuthorized, "ssh-ed25519 AAAA") || strings.ContainsAny(s.HostKeyAuthorized, "\n") {
		t.Errorf("HostKeyAuthorized = %q, want one authorized_keys line", s.HostKeyAuthorized)
	}
	kh, err := os.ReadFile(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[127.0.0.1]:" + strconv.Itoa(s.Port) + " " + s.HostKeyAuthorized + "\n"; string(kh) != want {
		t.Errorf("known_hosts = %q, want %q", kh, want)
	}

	// Log in the way production code does: key from the file on disk,
	// host key checked against the known_hosts file the rig wrote.
	keyPEM, err := os.ReadFile(s.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(keyPEM) != s.ClientKeyPEM {
		t.Error("ClientKeyFile content differs from ClientKeyPEM")
	}
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	callback, err := knownhosts.New(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: callback,
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer client.Close()

	out := run(t, client, "echo hi")
	if out != "hi\n" {
		t.Errorf("echo hi printed %q", out)
	}
	if log := s.Log(); !strings.Contains(log, "Accepted publickey for "+s.User) {
		t.Errorf("sshd log does not show the login:\n%s", log)
	}
}

func TestClientConfig(t *testing.T) {
	s := Start(t)
	client, err := ssh.Dial("tcp", s.Addr(), s.ClientConfig())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer client.Close()
	if out := run(t, client, "printf %s ok"); out != "ok" {
		t.Errorf("got %q", out)
	}
}

func TestStopReleasesPort(t *testing.T) {
	s, err := StartServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port not released after Stop: %v", err)
	}
	l.Close()
}

func TestOptionsReachConfig(t *testing.T) {
	s := Start(t, WithMaxSessions(3), WithMaxStartups(100), WithExtraConfig("ClientAliveInterval 30\n"))
	cfg, err := os.ReadFile(s.Dir + "/sshd_config")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"MaxSessions 3\n", "MaxStartups 100\n", "ClientAliveInterval 30\n"} {
		if !bytes.Contains(cfg, []byte(want)) {
			t.Errorf("sshd_config lacks %q:\n%s", want, cfg)
		}
	}
	// MaxSessions 3: the fourth concurrent session is refused by sshd.
	client, err := ssh.Dial("tcp", s.Addr(), s.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var sessions []*ssh.Session
	defer func() {
		for _, ss := range sessions {
			ss.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		ss, err := client.NewSession()
		if err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
		sessions = append(sessions, ss)
	}
	if ss, err := client.NewSession(); err == nil {
		ss.Close()
		t.Error("fourth session was accepted despite MaxSessions 3")
	}
}

func TestDefaultConfigHasNoMaxStartups(t *testing.T) {
	s := Start(t)
	cfg, err := os.ReadFile(s.Dir + "/sshd_config")
	if err != nil {
		t.Fatal(err)
	}
	// Match keywords at line start: the temp dir name contains the test name.
	if bytes.Contains(cfg, []byte("\nMaxStartups ")) || bytes.Contains(cfg, []byte("\nMaxSessions ")) {
		t.Errorf("default config sets limits:\n%s", cfg)
	}
}

func TestStartFailureIncludesLog(t *testing.T) {
	_, err := StartServer(t.TempDir(), WithExtraConfig("NoSuchKeyword yes"))
	if err == nil {
		t.Fatal("sshd started with an invalid config")
	}
	if !strings.Contains(err.Error(), "NoSuchKeyword") || !strings.Contains(err.Error(), "sshd log") {
		t.Errorf("error does not carry the sshd log: %v", err)
	}
}

func TestRelativeSSHDRejected(t *testing.T) {
	if _, err := StartServer(t.TempDir(), WithSSHD("sshd")); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Fatalf("err = %v, want absolute-path error", err)
	}
}

func run(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer sess.Close()
	var stderr bytes.Buffer
	sess.Stderr = &stderr
	out, err := sess.Output(cmd)
	if err != nil {
		t.Fatalf("%s: %v (stderr %q)", cmd, err, stderr.String())
	}
	return string(out)
}

// TestRetriesWhenPortTaken simulates losing the race between picking a free
// port and sshd binding it: the first port offered is already in use.
func TestRetriesWhenPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	calls := 0
	pick := func(o *options) {
		o.pickPort = func() (int, error) {
			calls++
			if calls == 1 {
				return takenPort, nil
			}
			return freePort()
		}
	}
	s := Start(t, pick)
	if s.Port == takenPort || calls != 2 {
		t.Fatalf("port %d after %d picks; want a second, different port", s.Port, calls)
	}
	if !strings.Contains(s.Log(), "Address already in use") {
		t.Errorf("log does not show the lost race:\n%s", s.Log())
	}
	client, err := ssh.Dial("tcp", s.Addr(), s.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	client.Close()
}
