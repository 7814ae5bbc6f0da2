//go:build unix

package sshconn

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// IdentityFiles are tried in order, a missing one skipped; IdentitiesOnly
// keeps ssh-agent's other keys out of the way: with MaxAuthTries 2 and
// three unknown keys in the agent, only IdentitiesOnly gets the
// configured key offered in time.
func TestDialIdentityFiles(t *testing.T) {
	s := sshtest.Start(t, sshtest.WithExtraConfig("MaxAuthTries 2"))
	a := sshtest.StartAgent(t)
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		a.Add(t, sshtest.WriteKey(t, dir, newKey(t).KeyPair, "decoy "+strconv.Itoa(i)))
	}
	cfg := config(s)
	cfg.PrivateKey = ""
	cfg.Agent, cfg.AgentSocket = AgentOn, a.Socket
	cfg.IdentityFiles = []string{filepath.Join(dir, "missing"), s.ClientKeyFile}

	dialErr(t, cfg, "Too many authentication failures", `ssh-agent key "decoy 0"`, "IdentityFile "+s.ClientKeyFile)

	cfg.IdentitiesOnly = true
	dial(t, cfg).Close()
	fp := ssh.FingerprintSHA256(s.ClientSigner.PublicKey())
	if log := s.Log(); !strings.Contains(log, "Accepted publickey for "+s.User+" from 127.0.0.1") || !strings.Contains(log, fp) {
		t.Errorf("no login with the IdentityFile's key %s:\n%s", fp, log)
	}
}
