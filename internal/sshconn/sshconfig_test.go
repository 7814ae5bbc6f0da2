package sshconn

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func writeSSHConfig(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func loadSSHConfig(t *testing.T, content string) (*SSHConfig, string) {
	t.Helper()
	p := writeSSHConfig(t, t.TempDir(), "config", content)
	c, err := LoadSSHConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}

// First value wins across blocks in file order; negation excludes a host;
// IdentityFile accumulates; each value knows its file, line and block.
func TestSSHConfigLookup(t *testing.T) {
	c, p := loadSSHConfig(t, `User top
Host web* !web9
  HostName %h.example.com
  Port 2200
  IdentityFile ~/.ssh/web
Host web1 db1
  Port 2201
  User deploy
Host *
  IdentityFile ~/.ssh/all
  Port 22
`)
	h := c.Lookup("web1", "")
	if v, _ := h.Get("port"); v.Value != "2200" || v.Line != 4 || v.Block != "Host web* !web9" || v.File != p {
		t.Errorf("Port = %+v, want 2200 from line 4 of Host web* !web9", v)
	}
	if v, _ := h.Get("User"); v.Value != "top" || v.Block != "" || v.Where() != p+":1" {
		t.Errorf("User = %+v (%s), want top from the top of the file", v, v.Where())
	}
	if got := h.GetAll("IdentityFile"); len(got) != 2 || got[0].Value != "~/.ssh/web" || got[1].Value != "~/.ssh/all" {
		t.Errorf("IdentityFile = %+v", got)
	}
	if v, _ := c.Lookup("web9", "").Get("Port"); v.Value != "22" {
		t.Errorf("web9 (negated) Port = %q, want 22 from Host *", v.Value)
	}
	if v, _ := c.Lookup("DB1", "").Get("Port"); v.Value != "2201" { // case does not matter, as in ssh
		t.Errorf("db1 Port = %q", v.Value)
	}
}

// Include: relative to ~/.ssh, globbed in sorted order, inside a Host
// block only for the hosts it matches; values point into the included
// file. Match, evaluated as ssh does: host (a comma list, against the
// HostName set above, else the name as written), originalhost, user (the
// user set outside or above); criteria combine; Match exec is noted and
// its block skipped.
func TestSSHConfigIncludeAndMatch(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	inc := writeSSHConfig(t, home, ".ssh/conf.d/10-a.conf", "Host a\n  Port 1001\n")
	writeSSHConfig(t, home, ".ssh/conf.d/20-b.conf", "Host a b\n  Port 1002\n  User bee\n")
	writeSSHConfig(t, home, ".ssh/only-c.conf", "Port 3003\n")
	main := writeSSHConfig(t, home, ".ssh/config", `Include conf.d/*.conf
Host c
  Include only-c.conf
Match host x,y
  Port 4004
Match user deploy originalhost z*
  Port 5005
Match exec "true"
  Port 6006
Host alias1
  HostName real.example.com
Match host real.*,!real.example.org
  Port 7007
Host *
  Port 22
`)
	c, err := LoadSSHConfig(main)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Lookup("a", "").Get("Port"); v.Value != "1001" || v.File != inc || v.Line != 2 || v.Block != "Host a" {
		t.Errorf("a: Port %+v, want 1001 from %s:2", v, inc)
	}
	if v, _ := c.Lookup("b", "").Get("User"); v.Value != "bee" {
		t.Errorf("b: User %q", v.Value)
	}
	if v, _ := c.Lookup("c", "").Get("Port"); v.Value != "3003" {
		t.Errorf("c: Port %q, want 3003 from the Include in its block", v.Value)
	}
	if v, _ := c.Lookup("a", "").Get("Port"); v.Value == "3003" {
		t.Error("the Include inside Host c applied to a")
	}
	if v, _ := c.Lookup("y", "").Get("Port"); v.Value != "4004" || v.Block != "Match host x,y" {
		t.Errorf("y: Port %+v, want 4004 from Match host x,y", v)
	}
	if v, _ := c.Lookup("z1", "deploy").Get("Port"); v.Value != "5005" || v.Block != "Match user deploy originalhost z*" {
		t.Errorf("z1 as deploy: Port %+v, want 5005", v)
	}
	h := c.Lookup("z1", "")
	if v, _ := h.Get("Port"); v.Value != "22" {
		t.Errorf("z1 as the local user: Port %q, want 22 (Match user deploy does not hold; Match exec skipped)", v.Value)
	}
	if len(h.Notes) != 1 || h.Notes[0].Value != "exec true" || h.Notes[0].Line != 8 {
		t.Errorf("notes %+v, want Match exec true at line 8", h.Notes)
	}
	if v, _ := c.Lookup("alias1", "").Get("Port"); v.Value != "7007" {
		t.Errorf("alias1: Port %q, want 7007 (Match host tests the HostName set above)", v.Value)
	}
}

func TestSSHConfigApply(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	c, p := loadSSHConfig(t, `Host web1
  HostName 10.0.0.5
  User deploy
  Port 2222
  IdentityFile ~/.ssh/id_%h_%r
  IdentityFile ${RSYNC_TEST_KEYDIR}/second
  IdentitiesOnly yes
  ProxyJump ops@jump1,jump2:2022
  StrictHostKeyChecking accept-new
  UserKnownHostsFile ~/kh1 ~/kh2
  HostKeyAlias web1-key
  ConnectTimeout 7
  ServerAliveInterval 0
  ServerAliveCountMax 5
  ProxyCommand ssh -W %h:%p other
  LocalForward 8080 localhost:80
Host jump1
  HostName 10.0.0.1
  IdentityFile ~/.ssh/jump
  ProxyJump gate
Host jump2
  ProxyJump ignored
  StrictHostKeyChecking no
Host web2
  HostName 10.0.0.6
  ProxyJump none
  ProxyCommand none
`)
	t.Setenv("RSYNC_TEST_KEYDIR", "/keys")
	explicit := Config{Host: "web1", Port: 22, PrivateKeyPassphrase: "pp", Timeout: 0, KnownHostsFile: "", Agent: AgentOff}
	cfg, warns, err := c.Apply(explicit)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "10.0.0.5" || cfg.Port != 22 || cfg.User != "deploy" {
		t.Errorf("host %s port %d user %s: want 10.0.0.5, the explicit 22, deploy", cfg.Host, cfg.Port, cfg.User)
	}
	if want := []string{filepath.Join(home, ".ssh/id_10.0.0.5_deploy"), "/keys/second"}; strings.Join(cfg.IdentityFiles, ",") != strings.Join(want, ",") {
		t.Errorf("IdentityFiles %q, want %q", cfg.IdentityFiles, want)
	}
	if !cfg.IdentitiesOnly || !cfg.AcceptNewHostKeys || cfg.HostKeyAlias != "web1-key" || cfg.InsecureIgnoreHostKey {
		t.Errorf("IdentitiesOnly %v AcceptNew %v HostKeyAlias %q Insecure %v", cfg.IdentitiesOnly, cfg.AcceptNewHostKeys, cfg.HostKeyAlias, cfg.InsecureIgnoreHostKey)
	}
	if cfg.KnownHostsFile != filepath.Join(home, "kh1") || len(cfg.ExtraKnownHostsFiles) != 1 || cfg.ExtraKnownHostsFiles[0] != filepath.Join(home, "kh2") {
		t.Errorf("known hosts %q + %q", cfg.KnownHostsFile, cfg.ExtraKnownHostsFiles)
	}
	if cfg.Timeout != 7*time.Second || cfg.KeepaliveInterval != -1 || cfg.KeepaliveCountMax != 5 {
		t.Errorf("timeout %v keepalive %v count %d", cfg.Timeout, cfg.KeepaliveInterval, cfg.KeepaliveCountMax)
	}
	// web1 <- jump2:2022 <- ops@jump1 (10.0.0.1) <- gate: jump1's own
	// ProxyJump applies, jump2's does not (it is reached through jump1).
	j2 := cfg.Bastion
	if j2 == nil || j2.Host != "jump2" || j2.Port != 2022 || !j2.InsecureIgnoreHostKey || j2.Agent != AgentOff || j2.PrivateKeyPassphrase != "pp" {
		t.Fatalf("first bastion %+v, want jump2:2022, insecure, agent off inherited", j2)
	}
	j1 := j2.Bastion
	if j1 == nil || j1.Host != "10.0.0.1" || j1.User != "ops" || len(j1.IdentityFiles) != 1 || j1.IdentityFiles[0] != filepath.Join(home, ".ssh/jump") {
		t.Fatalf("second bastion %+v, want ops@10.0.0.1 with ~/.ssh/jump", j1)
	}
	if j1.Bastion == nil || j1.Bastion.Host != "gate" || j1.Bastion.Bastion != nil {
		t.Errorf("jump1's own ProxyJump gate not applied: %+v", j1.Bastion)
	}
	var got []string
	for _, w := range warns {
		got = append(got, w.Keyword+"@"+w.Where())
	}
	want := []string{"ProxyCommand@" + p + ":15 (Host web1)", "LocalForward@" + p + ":16 (Host web1)", "StrictHostKeyChecking@" + p + ":23 (Host jump2)"}
	for _, w := range want {
		if !strings.Contains(strings.Join(got, "\n"), w) {
			t.Errorf("warnings %q lack %q", got, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
	if strings.Contains(cfg.Origin, "Port 2222") {
		t.Errorf("origin names Port 2222, which the explicit port overrode: %s", cfg.Origin)
	}
	if !strings.Contains(cfg.Origin, "HostName 10.0.0.5 from "+p+":2 (Host web1)") || !strings.Contains(cfg.Origin, "jump host jump1: HostName 10.0.0.1 from "+p+":18 (Host jump1)") {
		t.Errorf("origin %s", cfg.Origin)
	}

	cfg, warns, err = c.Apply(Config{Host: "web2"})
	if err != nil || cfg.Bastion != nil || len(warns) != 0 || cfg.Host != "10.0.0.6" {
		t.Errorf("web2: %+v %v %v: want no bastion (ProxyJump none), no warning (ProxyCommand none)", cfg, warns, err)
	}
	// An explicit known_hosts_file replaces UserKnownHostsFile.
	cfg, _, err = c.Apply(Config{Host: "web1", KnownHostsFile: "/explicit"})
	if err != nil || cfg.KnownHostsFile != "/explicit" || len(cfg.ExtraKnownHostsFiles) != 0 {
		t.Errorf("explicit known_hosts_file: %q + %q, %v", cfg.KnownHostsFile, cfg.ExtraKnownHostsFiles, err)
	}
	// An explicit bastion wins over ProxyJump.
	cfg, _, err = c.Apply(Config{Host: "web1", Bastion: &Config{Host: "mine"}})
	if err != nil || cfg.Bastion.Host != "mine" || cfg.Bastion.Bastion != nil {
		t.Errorf("explicit bastion replaced: %+v %v", cfg.Bastion, err)
	}
}

// A file with CRLF line ends (written on Windows) reads the same.
func TestSSHConfigCRLF(t *testing.T) {
	c, _ := loadSSHConfig(t, "Match host web1,web2\r\n  Port 2200\r\nHost *\r\n  Port 22\r\n")
	if v, _ := c.Lookup("web2", "").Get("Port"); v.Value != "2200" {
		t.Errorf("Port %q, want 2200", v.Value)
	}
}

func TestSSHConfigErrors(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{"Host a\n  Port http\n", "config:2 (Host a): Port http: not a port number"},
		{"Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n", "ProxyJump"},
		{"Host a\n  IdentityFile ~/%k\n", "the token %k is not supported here"},
		{"Host a\n  StrictHostKeyChecking maybe\n", "must be yes, accept-new, no or ask"},
	} {
		c, _ := loadSSHConfig(t, tc.content)
		_, _, err := c.Apply(Config{Host: "a"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.content, err, tc.want)
		}
	}
	if _, err := LoadSSHConfig(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// accept-new records an unknown host's key (creating the file), accepts
// it, and still refuses a changed key; HostKeyAlias names the entry.
func TestAcceptNewHostKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", "known_hosts")
	key := func() ssh.PublicKey {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k1, k2 := key(), key()
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}
	policy := func(accept bool) *hostKeyPolicy {
		p, err := newHostKeyPolicy(Config{KnownHostsFile: file, AcceptNewHostKeys: accept, HostKeyAlias: "web-alias"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var hkErr *HostKeyError
	if err := policy(false).callback("127.0.0.1:2222", remote, k1); !errors.As(err, &hkErr) || !strings.Contains(err.Error(), "web-alias") {
		t.Fatalf("without accept-new: %v, want an unknown-host error for web-alias", err)
	}
	if err := policy(true).callback("127.0.0.1:2222", remote, k1); err != nil {
		t.Fatalf("accept-new: %v", err)
	}
	b, err := os.ReadFile(file)
	if want := "web-alias " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k1))) + "\n"; err != nil || string(b) != want {
		t.Fatalf("known_hosts %q (%v), want %q", b, err, want)
	}
	if err := policy(false).callback("127.0.0.1:2222", remote, k1); err != nil {
		t.Errorf("the recorded key is not accepted: %v", err)
	}
	if err := policy(true).callback("127.0.0.1:2222", remote, k2); !errors.As(err, &hkErr) || !strings.Contains(err.Error(), "changed") {
		t.Errorf("a changed key under accept-new: %v, want refused as changed", err)
	}
}
