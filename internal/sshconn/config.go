// Package sshconn opens SSH connections for the provider: it turns the
// connection settings into an authenticated, host-verified *ssh.Client,
// and adapts an *ssh.Client to the engine's rsync.Transport.
//
// Errors say what failed and which setting to change; they never include
// private key material. Every blocking step honours its context.
package sshconn

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"
)

// Config holds the settings for one SSH connection.
type Config struct {
	Host string
	Port int    // default 22
	User string // default: the user running the provider

	// PrivateKey is a private key's content (OpenSSH or PEM format).
	// Sensitive: never logged or included in errors.
	PrivateKey string
	// PrivateKeyFile is a path to a private key; a leading ~ is expanded.
	PrivateKeyFile string

	// HostKey pins the server's public key, in authorized_keys format
	// ("ssh-ed25519 AAAA... [comment]"). When set, known_hosts is not read.
	HostKey string
	// KnownHostsFile is read when HostKey is empty; default ~/.ssh/known_hosts.
	KnownHostsFile string
	// InsecureIgnoreHostKey accepts any host key. It must be asked for
	// explicitly; it conflicts with HostKey.
	InsecureIgnoreHostKey bool

	// Timeout bounds the TCP connect and, separately, the SSH handshake
	// (including authentication); default 30s.
	Timeout time.Duration
}

// DefaultTimeout is used when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// withDefaults fills in defaults and checks for settings that cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.Host == "" {
		return c, errors.New("ssh: host is empty: set the host to connect to")
	}
	if c.Port == 0 {
		c.Port = 22
	}
	if c.Port < 0 || c.Port > 65535 {
		return c, fmt.Errorf("ssh: port %d is out of range 1-65535", c.Port)
	}
	if c.User == "" {
		u, err := currentUser()
		if err != nil {
			return c, err
		}
		c.User = u
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 0 {
		return c, fmt.Errorf("ssh: timeout %v is negative", c.Timeout)
	}
	if c.HostKey != "" && c.InsecureIgnoreHostKey {
		return c, errors.New("ssh: host_key and insecure_ignore_host_key = true contradict each other: keep host_key (verified) or drop it (unverified)")
	}
	if c.PrivateKeyFile != "" {
		p, err := expandHome(c.PrivateKeyFile)
		if err != nil {
			return c, fmt.Errorf("ssh: private_key_file %s: %w", c.PrivateKeyFile, err)
		}
		c.PrivateKeyFile = p
	}
	if c.KnownHostsFile == "" && c.HostKey == "" && !c.InsecureIgnoreHostKey {
		home, err := os.UserHomeDir()
		if err != nil {
			return c, fmt.Errorf("ssh: cannot find ~/.ssh/known_hosts (%v): set known_hosts_file or host_key", err)
		}
		c.KnownHostsFile = filepath.Join(home, ".ssh", "known_hosts")
	} else if c.KnownHostsFile != "" {
		p, err := expandHome(c.KnownHostsFile)
		if err != nil {
			return c, fmt.Errorf("ssh: known_hosts_file %s: %w", c.KnownHostsFile, err)
		}
		c.KnownHostsFile = p
	}
	return c, nil
}

// currentUser is the login name OpenSSH's ssh would use by default.
func currentUser() (string, error) {
	u, err := user.Current()
	if err == nil && u.Username != "" {
		return u.Username, nil
	}
	if name := os.Getenv("USER"); name != "" {
		return name, nil
	}
	return "", fmt.Errorf("ssh: user is empty and the current user is unknown (%v): set user", err)
}

// expandHome expands "~" and "~/..." like a shell. "~user" is not
// supported: it is rare in configuration and ambiguous across machines.
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot expand ~: %w", err)
	}
	return filepath.Join(home, p[1:]), nil
}
