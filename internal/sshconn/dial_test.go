//go:build unix

package sshconn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
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
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// config logs in to s the way a user would: key content, known_hosts file.
func config(s *sshtest.Server) Config {
	return Config{
		Host:           s.Host,
		Port:           s.Port,
		User:           s.User,
		PrivateKey:     s.ClientKeyPEM,
		KnownHostsFile: s.KnownHostsFile,
		Timeout:        10 * time.Second,
	}
}

func dial(t *testing.T, cfg Config) *ssh.Client {
	t.Helper()
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialErr dials expecting failure and checks the message has every want.
func dialErr(t *testing.T, cfg Config, want ...string) {
	t.Helper()
	_ = dialError(t, cfg, want...) // dialError has checked and reported it
}

// dialError dials cfg, fails the test unless Dial fails with an error
// containing each of want, and returns that error for further checks.
func dialError(t *testing.T, cfg Config, want ...string) error {
	t.Helper()
	c, err := Dial(context.Background(), cfg)
	if err == nil {
		c.Close()
		t.Fatalf("Dial succeeded, want error containing %q", want)
	}
	t.Logf("error (as users see it): %v", err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	return err
}

func TestDialKnownHosts(t *testing.T) {
	s := sshtest.Start(t)
	c := dial(t, config(s))
	if got := c.User(); got != s.User {
		t.Errorf("User() = %q", got)
	}
}

func TestDialKeyFileWithTilde(t *testing.T) {
	s := sshtest.Start(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_test"), []byte(s.ClientKeyPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	// known_hosts defaults to ~/.ssh/known_hosts.
	kh, err := os.ReadFile(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "known_hosts"), kh, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config(s)
	cfg.PrivateKey, cfg.PrivateKeyFile, cfg.KnownHostsFile = "", "~/.ssh/id_test", ""
	dial(t, cfg)
}

func TestDialUnknownHost(t *testing.T) {
	s := sshtest.Start(t)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(empty, []byte("# nothing yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config(s)
	cfg.KnownHostsFile = empty
	err := dialError(t, cfg,
		"host key verification failed for "+s.Addr(),
		"not in "+empty,
		"ssh-ed25519 "+ssh.FingerprintSHA256(s.HostPublicKey),
		"ssh-keyscan -p "+strconv.Itoa(s.Port)+" 127.0.0.1",
		"insecure_ignore_host_key",
	)
	var hk *HostKeyError
	if !errors.As(err, &hk) || hk.Presented == nil {
		t.Errorf("error is not a *HostKeyError with the presented key: %T", err)
	}
}

func TestDialMissingKnownHostsFile(t *testing.T) {
	s := sshtest.Start(t)
	cfg := config(s)
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "absent")
	dialErr(t, cfg, "not in "+cfg.KnownHostsFile+" (the file does not exist)", "insecure_ignore_host_key")
}

func TestDialDefaultKnownHostsMissing(t *testing.T) {
	s := sshtest.Start(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfg := config(s)
	cfg.KnownHostsFile = ""
	dialErr(t, cfg, "not in "+filepath.Join(home, ".ssh", "known_hosts"))
}

func TestDialChangedHostKey(t *testing.T) {
	s := sshtest.Start(t)
	other := newKey(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, other.Public)
	if err := os.WriteFile(kh, []byte("# comment\n"+line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config(s)
	cfg.KnownHostsFile = kh
	dialErr(t, cfg,
		"host key has changed",
		kh+":2 has ssh-ed25519 "+ssh.FingerprintSHA256(other.Public),
		"presented ssh-ed25519 "+ssh.FingerprintSHA256(s.HostPublicKey),
		"ssh-keygen -R",
	)
}

func TestDialPinnedHostKey(t *testing.T) {
	s := sshtest.Start(t)
	cfg := config(s)
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "absent") // must not be consulted
	cfg.HostKey = s.HostKeyAuthorized + " root@server"
	dial(t, cfg)
}

func TestDialPinnedHostKeyMismatch(t *testing.T) {
	s := sshtest.Start(t)
	other := newKey(t)
	cfg := config(s)
	cfg.HostKey = other.Authorized
	dialErr(t, cfg,
		"host key verification failed for "+s.Addr(),
		"presented ssh-ed25519 "+ssh.FingerprintSHA256(s.HostPublicKey),
		"pins ssh-ed25519 "+ssh.FingerprintSHA256(other.Public),
	)
}

func TestDialBadPinnedHostKey(t *testing.T) {
	cfg := Config{Host: "127.0.0.1", PrivateKey: newKey(t).PEM, HostKey: "not a key"}
	dialErr(t, cfg, "host_key", "authorized_keys format")
	cfg.HostKey = newKey(t).PEM
	err := dialError(t, cfg, "(a private key)")
	if strings.Contains(err.Error(), "BEGIN") {
		t.Errorf("error echoes key material: %v", err)
	}
}

func TestDialInsecure(t *testing.T) {
	s := sshtest.Start(t)
	cfg := config(s)
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "absent")
	cfg.InsecureIgnoreHostKey = true
	dial(t, cfg)

	cfg.HostKey = s.HostKeyAuthorized
	dialErr(t, cfg, "contradict")
}

// TestDialOffersKnownKeyType: the server has ECDSA and ed25519 host keys
// and Go prefers ECDSA; known_hosts has only the ed25519 key, so Dial must
// ask for ed25519 rather than fail with "changed".
func TestDialOffersKnownKeyType(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	ecdsaFile := filepath.Join(t.TempDir(), "ecdsa_host_key")
	if err := os.WriteFile(ecdsaFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s := sshtest.Start(t, sshtest.WithExtraConfig(`HostKey "`+ecdsaFile+`"`))

	// Without the known_hosts hint the server does present ECDSA.
	var presented string
	probe := &ssh.ClientConfig{
		User: s.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(s.ClientSigner)},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error { presented = k.Type(); return nil },
	}
	if c, err := ssh.Dial("tcp", s.Addr(), probe); err == nil {
		c.Close()
	}
	if presented != ssh.KeyAlgoECDSA256 {
		t.Fatalf("premise: server presented %q by default, want ECDSA", presented)
	}
	dial(t, config(s))
}

func TestDialWrongKey(t *testing.T) {
	s := sshtest.Start(t)
	cfg := config(s)
	wrong := newKey(t)
	cfg.PrivateKey = wrong.PEM
	err := dialError(t, cfg,
		"ssh: authentication as "+s.User+"@"+s.Addr()+" failed; offered: publickey private_key (ssh-ed25519 "+ssh.FingerprintSHA256(wrong.Public)+")",
		"authorized_keys",
		"unable to authenticate",
	)
	var authErr *AuthError
	if !errors.As(err, &authErr) {
		t.Errorf("not an *AuthError: %T", err)
	}
}

func TestDialWrongUser(t *testing.T) {
	s := sshtest.Start(t)
	cfg := config(s)
	cfg.User = "nosuchuser"
	dialErr(t, cfg, "authentication as nosuchuser@")
}

func TestDialNoKey(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("HOME", t.TempDir()) // no default keys
	cfg := Config{Host: "127.0.0.1", InsecureIgnoreHostKey: true}
	c, err := Dial(context.Background(), cfg)
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded without a key")
	}
	if err.Error() != "ssh: no authentication method: set private_key, private_key_file or password, run an ssh-agent (SSH_AUTH_SOCK), "+
		"or keep a key in ~/.ssh (id_ed25519, id_ecdsa or id_rsa)" {
		t.Errorf("err = %v", err)
	}
}

func TestDialKeyProblems(t *testing.T) {
	key := newKey(t)
	base := Config{Host: "127.0.0.1", InsecureIgnoreHostKey: true}

	cfg := base
	cfg.PrivateKey, cfg.PrivateKeyFile = key.PEM, "/some/file"
	dialErr(t, cfg, "both private_key and private_key_file")

	cfg = base
	cfg.PrivateKeyFile = filepath.Join(t.TempDir(), "absent")
	dialErr(t, cfg, "read private_key_file", "absent")

	cfg = base
	cfg.PrivateKey = key.Authorized
	dialErr(t, cfg, "private_key holds a public key")

	cfg = base
	cfg.PrivateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0\n-----END OPENSSH PRIVATE KEY-----\n"
	err := dialError(t, cfg, "parse private_key")
	if strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("error echoes key material: %v", err)
	}

	// An encrypted key is recognised and explained.
	block, err := ssh.MarshalPrivateKeyWithPassphrase(key.Private, "", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	encFile := filepath.Join(t.TempDir(), "id_enc")
	if err := os.WriteFile(encFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = base
	cfg.PrivateKeyFile = encFile
	dialErr(t, cfg, "private key is encrypted: set private_key_passphrase", encFile)

	cfg.PrivateKeyPassphrase = "wrong"
	dialErr(t, cfg, "private_key_passphrase does not decrypt", encFile)

	cfg.PrivateKeyPassphrase = "pw"
	if _, err := loadKey(cfg); err != nil {
		t.Errorf("loadKey with the right passphrase: %v", err)
	}
}

func TestDialConfigErrors(t *testing.T) {
	key := newKey(t).PEM
	dialErr(t, Config{PrivateKey: key}, "host is empty")
	dialErr(t, Config{Host: "h", Port: 70000, PrivateKey: key}, "out of range")
	dialErr(t, Config{Host: "h", Timeout: -1, PrivateKey: key}, "negative")
}

func TestDialConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := Config{Host: "127.0.0.1", Port: port, PrivateKey: newKey(t).PEM, InsecureIgnoreHostKey: true}
	dialErr(t, cfg, "connect to 127.0.0.1:"+strconv.Itoa(port), "check host and port")
}

// silentListener accepts connections and never speaks, like a firewall
// that swallows packets after the handshake or a wedged server.
func silentListener(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

func TestDialCancelDuringHandshake(t *testing.T) {
	port := silentListener(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	cfg := Config{Host: "127.0.0.1", Port: port, PrivateKey: newKey(t).PEM, InsecureIgnoreHostKey: true}

	start := time.Now()
	c, err := Dial(ctx, cfg)
	elapsed := time.Since(start)
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded against a silent listener")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("Dial took %v after cancel at 200ms", elapsed)
	}
}

func TestDialHandshakeTimeout(t *testing.T) {
	port := silentListener(t)
	cfg := Config{Host: "127.0.0.1", Port: port, PrivateKey: newKey(t).PEM, InsecureIgnoreHostKey: true, Timeout: 300 * time.Millisecond}
	start := time.Now()
	dialErr(t, cfg, "timed out after 300ms", "is it an SSH port?")
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Dial took %v with a 300ms timeout", elapsed)
	}
}

func TestDialContextDeadline(t *testing.T) {
	port := silentListener(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	cfg := Config{Host: "127.0.0.1", Port: port, PrivateKey: newKey(t).PEM, InsecureIgnoreHostKey: true}
	start := time.Now()
	c, err := Dial(ctx, cfg)
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded against a silent listener")
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Dial took %v with a 300ms context deadline", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestDialCancelledBeforeStart(t *testing.T) {
	s := sshtest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := Dial(ctx, config(s))
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded with a cancelled context")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

type testKey struct {
	*sshtest.KeyPair
	Private any
}

func newKey(t *testing.T) testKey {
	t.Helper()
	k, err := sshtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey([]byte(k.PEM))
	if err != nil {
		t.Fatal(err)
	}
	return testKey{KeyPair: k, Private: raw}
}
