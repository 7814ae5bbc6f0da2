package sshtest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestDropbearRunsCommand: the Dropbear rig serves the key dropbearkey made
// (checked against its known_hosts file, as production code checks),
// accepts the client key from the private home directory, and leaves the
// system's /etc/passwd and the real home's .ssh alone.
func TestDropbearRunsCommand(t *testing.T) {
	passwdBefore, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	realHome, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	sshDirBefore := describe(filepath.Join(realHome, ".ssh"))

	s := StartDropbear(t)
	callback, err := knownhosts.New(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.ClientSigner)},
		HostKeyCallback: callback,
		// Dropbear 2022.83 also lists RSA algorithms without an RSA key
		// and aborts when one is picked; x/crypto's default order would
		// (see sshconn's defaultAlgorithms).
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Timeout:           10 * time.Second,
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer client.Close()
	if v := string(client.ServerVersion()); !strings.HasPrefix(v, "SSH-2.0-dropbear") {
		t.Errorf("server version %q is not Dropbear's", v)
	}
	home := filepath.Join(s.Dir, "home")
	if out := run(t, client, `printf '%s %s' "$HOME" "$(pwd)"`); out != home+" "+home {
		t.Errorf("HOME and working directory %q, want %s (the rig's home)", out, home)
	}
	// Eight commands can run at once on one connection, as long as each
	// has started before any ends: Dropbear closes a session still
	// waiting for its exec when another command exits (why sshconn's pool
	// gives Dropbear one session at a time).
	var running []*ssh.Session
	var outs []*bytes.Buffer
	var stdins []io.WriteCloser
	defer func() {
		for _, ss := range running {
			ss.Close()
		}
	}()
	for i := range 8 {
		ss, err := client.NewSession()
		if err != nil {
			t.Fatalf("session %d of 8: %v", i+1, err)
		}
		running = append(running, ss)
		in, err := ss.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out := new(bytes.Buffer)
		ss.Stdout = out
		if err := ss.Start("cat"); err != nil {
			t.Fatalf("session %d of 8: start: %v", i+1, err)
		}
		stdins, outs = append(stdins, in), append(outs, out)
	}
	for i, in := range stdins {
		fmt.Fprintf(in, "session %d\n", i+1)
		in.Close()
	}
	for i, ss := range running {
		if err := ss.Wait(); err != nil || outs[i].String() != fmt.Sprintf("session %d\n", i+1) {
			t.Errorf("session %d: %q, %v", i+1, outs[i], err)
		}
	}
	if log := s.Log(); !strings.Contains(log, "Pubkey auth succeeded for '"+s.User+"'") {
		t.Errorf("dropbear log does not show the key login:\n%s", log)
	}

	passwdAfter, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	if string(passwdAfter) != string(passwdBefore) {
		t.Error("the system's /etc/passwd changed")
	}
	if after := describe(filepath.Join(realHome, ".ssh")); after != sshDirBefore {
		t.Errorf("%s/.ssh changed: %s, was %s", realHome, after, sshDirBefore)
	}
}

// describe is a path's type, mode and mtime, or why it has none.
func describe(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return err.Error()
	}
	return fi.Mode().String() + " " + fi.ModTime().String()
}

// TestDropbearAlgorithms: every key exchange, cipher and MAC that Dropbear
// 2022.83 and x/crypto/ssh both implement works when it is the only one
// offered, with each host key type Dropbear makes; so the client's
// defaults (which pick curve25519-sha256 and chacha20-poly1305 here) are
// not the only path that works, and an appliance configured down to
// aes-ctr with hmac-sha2-256, or with only an RSA host key, is reachable.
func TestDropbearAlgorithms(t *testing.T) {
	// Dropbear's KEXINIT lists, less what x/crypto lacks (its kexguess2
	// and strict-kex markers are not algorithms).
	kexes := []string{
		ssh.KeyExchangeCurve25519, "curve25519-sha256@libssh.org",
		ssh.KeyExchangeECDHP521, ssh.KeyExchangeECDHP384, ssh.KeyExchangeECDHP256,
		ssh.KeyExchangeDH14SHA256, ssh.InsecureKeyExchangeDH14SHA1,
	}
	ciphers := []string{ssh.CipherChaCha20Poly1305, ssh.CipherAES128CTR, ssh.CipherAES256CTR}
	macs := []string{ssh.HMACSHA256, ssh.HMACSHA1}
	hostKeys := map[string][]string{
		"ed25519": {ssh.KeyAlgoED25519},
		"ecdsa":   {ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521},
		// The order sshconn offers for an RSA key: Dropbear has only
		// rsa-sha2-256 and the SHA-1 ssh-rsa.
		"rsa": {ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA},
	}
	for keyType, hostAlgos := range hostKeys {
		t.Run(keyType, func(t *testing.T) {
			s := StartDropbear(t, WithHostKeyType(keyType))
			try := func(name string, alter func(*ssh.ClientConfig)) {
				t.Helper()
				cfg := s.ClientConfig()
				cfg.HostKeyAlgorithms = hostAlgos
				alter(cfg)
				client, err := ssh.Dial("tcp", s.Addr(), cfg)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				defer client.Close()
				if out := run(t, client, "echo ok"); out != "ok\n" {
					t.Errorf("%s: echo printed %q", name, out)
				}
			}
			try("defaults", func(*ssh.ClientConfig) {})
			for _, kex := range kexes {
				try("kex "+kex, func(c *ssh.ClientConfig) { c.KeyExchanges = []string{kex} })
			}
			for _, cipher := range ciphers {
				for _, mac := range macs {
					try("cipher "+cipher+" mac "+mac, func(c *ssh.ClientConfig) {
						c.Ciphers, c.MACs = []string{cipher}, []string{mac}
					})
				}
			}
			// What x/crypto prefers and Dropbear lacks fails cleanly, in
			// the handshake: the lists above are the real intersection.
			cfg := s.ClientConfig()
			cfg.HostKeyAlgorithms = hostAlgos
			cfg.Ciphers = []string{ssh.CipherAES128GCM, ssh.CipherAES256GCM}
			if c, err := ssh.Dial("tcp", s.Addr(), cfg); err == nil {
				c.Close()
				t.Error("Dropbear 2022.83 accepted AES-GCM, which its build does not offer: update the lists above")
			}
		})
	}
}

// TestDropbearStopReleasesPort: Stop ends dropbear (and its namespace)
// and frees the port; a second Stop is a no-op.
func TestDropbearStopReleasesPort(t *testing.T) {
	s := StartDropbear(t)
	addr := s.Addr()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port not released after Stop: %v", err)
	}
	l.Close()
}

// TestDropbearRejectsSSHDOptions: an option the Dropbear rig cannot honour
// is an error, not silently dropped.
func TestDropbearRejectsSSHDOptions(t *testing.T) {
	_, err := StartDropbearServer(t.TempDir(), WithMaxSessions(3), WithPassword("pw"))
	if err == nil || !strings.Contains(err.Error(), "WithMaxSessions") || !strings.Contains(err.Error(), "WithPassword") {
		t.Fatalf("err = %v, want one naming WithMaxSessions and WithPassword", err)
	}
	if _, err := StartServer(t.TempDir(), WithHostKeyType("rsa")); err == nil {
		t.Fatal("StartServer accepted WithHostKeyType")
	}
}
