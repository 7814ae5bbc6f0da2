package sshconn

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// These tests run on every platform, and as Windows binaries: they check
// where the settings' defaults come from.

// setHome makes dir the home directory os.UserHomeDir reports: $HOME, or
// %USERPROFILE% on Windows.
func setHome(t *testing.T, dir string) {
	t.Helper()
	t.Setenv("HOME", dir)
	t.Setenv("USERPROFILE", dir)
}

// writeKey writes a new private key of kind ("rsa", "ecdsa", "ed25519")
// to path, encrypted when passphrase is set, and returns its public key.
func writeKey(t *testing.T, path, kind, passphrase string) ssh.PublicKey {
	t.Helper()
	var priv interface{}
	var err error
	switch kind {
	case "rsa":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ecdsa":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase != "" {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	} else {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer.PublicKey()
}

func TestDefaultKnownHostsFile(t *testing.T) {
	home := t.TempDir()
	setHome(t, home)
	c, err := Config{Host: "h", User: "u", Agent: AgentOff}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, ".ssh", "known_hosts"); c.KnownHostsFile != want {
		t.Errorf("KnownHostsFile = %q, want %q", c.KnownHostsFile, want)
	}
	c, err = Config{Host: "h", User: "u", Agent: AgentOff, KnownHostsFile: "~/kh"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, "kh"); c.KnownHostsFile != want {
		t.Errorf("KnownHostsFile ~/kh = %q, want %q", c.KnownHostsFile, want)
	}
}

func TestExpandHome(t *testing.T) {
	home := t.TempDir()
	setHome(t, home)
	tests := map[string]string{
		"~":         home,
		"~/":        home,
		"~/.ssh/id": filepath.Join(home, ".ssh", "id"),
		"/abs/id":   "/abs/id",
		"rel/id":    "rel/id",
		"~user/id":  "~user/id",
	}
	if filepath.Separator == '\\' {
		tests[`~\.ssh\id`] = filepath.Join(home, ".ssh", "id")
	} else {
		tests[`~\.ssh\id`] = `~\.ssh\id` // "\" is a name character on Unix
	}
	for in, want := range tests {
		got, err := expandHome(in)
		if err != nil {
			t.Errorf("expandHome(%q): %v", in, err)
		} else if filepath.Clean(got) != filepath.Clean(want) {
			t.Errorf("expandHome(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDefaultKeys: with no key configured, the files ssh tries by default
// (~/.ssh/id_rsa, id_ecdsa, id_ed25519) are offered, in ssh's order; a
// configured key replaces them; one that cannot be used is said why.
func TestDefaultKeys(t *testing.T) {
	home := t.TempDir()
	setHome(t, home)
	dir := filepath.Join(home, ".ssh")
	edPub := writeKey(t, filepath.Join(dir, "id_ed25519"), "ed25519", "")
	rsaPub := writeKey(t, filepath.Join(dir, "id_rsa"), "rsa", "")
	base := Config{Host: "h", User: "u", Agent: AgentOff, InsecureIgnoreHostKey: true}

	c, err := base.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := [len(defaultKeyNames)]string{filepath.Join(dir, "id_rsa"), filepath.Join(dir, "id_ed25519")}
	if c.defaultKeys != want {
		t.Fatalf("defaultKeys = %q, want %q", c.defaultKeys, want)
	}
	p, err := planAuth(c)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.open()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(s.offered) != 2 || !strings.Contains(s.offered[0], "id_rsa") || !strings.Contains(s.offered[0], ssh.FingerprintSHA256(rsaPub)) ||
		!strings.Contains(s.offered[1], "id_ed25519") || !strings.Contains(s.offered[1], ssh.FingerprintSHA256(edPub)) {
		t.Errorf("offered %q, want id_rsa then id_ed25519", s.offered)
	}

	// A configured key file replaces the defaults.
	other := filepath.Join(t.TempDir(), "deploy")
	writeKey(t, other, "ecdsa", "")
	kc := base
	kc.PrivateKeyFile = other
	if c, err := kc.withDefaults(); err != nil || c.defaultKeys[0] != "" {
		t.Errorf("with private_key_file: defaultKeys = %q, %v; want none", c.defaultKeys, err)
	}

	// An encrypted default key, without an agent, is skipped with a note.
	home2 := t.TempDir()
	setHome(t, home2)
	writeKey(t, filepath.Join(home2, ".ssh", "id_ed25519"), "ed25519", "secret")
	c, err = base.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	_, err = planAuth(c)
	if err == nil || !strings.Contains(err.Error(), "no authentication method") ||
		!strings.Contains(err.Error(), filepath.Join(home2, ".ssh", "id_ed25519")+" not used: it is encrypted") {
		t.Errorf("encrypted default key: err = %v", err)
	}
	// ... and decrypted with private_key_passphrase.
	pc := base
	pc.PrivateKeyPassphrase = "secret"
	c, err = pc.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if p, err := planAuth(c); err != nil || len(p.defaults) != 1 || p.defaults[0].signer == nil {
		t.Errorf("encrypted default key with passphrase: %+v, %v", p, err)
	}
}

// TestDefaultAgentSocket: without SSH_AUTH_SOCK the agent is the
// platform's default: none on Unix, Windows' OpenSSH agent pipe on
// Windows.
func TestDefaultAgentSocket(t *testing.T) {
	setHome(t, t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")
	c, err := Config{Host: "h", User: "u", InsecureIgnoreHostKey: true}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	if filepath.Separator == '\\' {
		want = `\\.\pipe\openssh-ssh-agent`
	}
	if c.AgentSocket != want || defaultAgentSocket() != want {
		t.Errorf("AgentSocket = %q, defaultAgentSocket() = %q, want %q", c.AgentSocket, defaultAgentSocket(), want)
	}
	t.Setenv("SSH_AUTH_SOCK", "/run/agent.sock")
	if c, _ := (Config{Host: "h", User: "u", InsecureIgnoreHostKey: true}).withDefaults(); c.AgentSocket != "/run/agent.sock" {
		t.Errorf("with SSH_AUTH_SOCK: AgentSocket = %q", c.AgentSocket)
	}
}

// TestAgentDial: the agent seam reaches an agent where the platform keeps
// one (a Unix socket; a named pipe on Windows) and lists its keys.
func TestAgentDial(t *testing.T) {
	keyring := agent.NewKeyring()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv, Comment: "deploy key"}); err != nil {
		t.Fatal(err)
	}
	socket := serveAgent(t, keyring)
	conn, offers, err := agentSigners(socket, "")
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if len(offers) != 1 || !strings.Contains(offers[0].desc, `"deploy key"`) {
		t.Errorf("offers = %+v, want the one key", offers)
	}
}
