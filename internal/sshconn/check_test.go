//go:build unix

package sshconn

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// TestCheckSettings: mistakes in the key settings, of the target or of a
// bastion, are found without connecting, with Dial's words; good settings
// pass.
func TestCheckSettings(t *testing.T) {
	kp, err := sshtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := Config{Host: "192.0.2.1", User: "u", InsecureIgnoreHostKey: true, Agent: AgentOff}
	with := func(f func(c *Config)) Config { c := base; f(&c); return c }
	good := with(func(c *Config) { c.PrivateKey = kp.PEM })
	if err := CheckSettings(good); err != nil {
		t.Fatalf("good settings: %v", err)
	}
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"missing key file":        {with(func(c *Config) { c.PrivateKeyFile = filepath.Join(dir, "nosuch") }), "read private_key_file"},
		"key file is a directory": {with(func(c *Config) { c.PrivateKeyFile = dir }), "is a directory"},
		"not a key":               {with(func(c *Config) { c.PrivateKeyFile = garbage }), "it must be a private key in OpenSSH or PEM format"},
		"public key":              {with(func(c *Config) { c.PrivateKey = kp.Authorized }), "holds a public key"},
		"bastion's key": {with(func(c *Config) {
			c.PrivateKey = kp.PEM
			c.Bastion = &Config{Host: "192.0.2.2", User: "j", PrivateKeyFile: garbage, InsecureIgnoreHostKey: true, Agent: AgentOff}
		}), "bastion j@192.0.2.2"},
	} {
		err := CheckSettings(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
		if name == "missing key file" && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v is not fs.ErrNotExist", name, err)
		}
	}
}
