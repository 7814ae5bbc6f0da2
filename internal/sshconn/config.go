// Package sshconn opens SSH connections for the provider: it turns the
// connection settings into an authenticated, host-verified *ssh.Client,
// and adapts an *ssh.Client to the engine's rsync.Transport.
//
// Errors say what failed and which setting to change; they never include
// private key material. Every blocking step honours its context.
package sshconn

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
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
	// When PATH-cert.pub exists beside it and Certificate is empty, that
	// certificate is offered too, as OpenSSH's ssh does.
	PrivateKeyFile string
	// PrivateKeyPassphrase decrypts an encrypted private key. Sensitive.
	PrivateKeyPassphrase string
	// Certificate is an OpenSSH user certificate for the private key:
	// the content of KEY-cert.pub ("ssh-ed25519-cert-v01@openssh.com
	// AAAA...") or a path to it.
	Certificate string
	// Password is tried after public keys, with the "keyboard-interactive"
	// method (answering a password prompt) and the "password" method.
	// Sensitive.
	Password string

	// Agent says whether to use the ssh-agent at AgentSocket; default
	// (AgentAuto): when there is one.
	Agent AgentMode
	// AgentSocket is the agent's socket; default $SSH_AUTH_SOCK.
	AgentSocket string
	// AgentIdentity restricts the agent to one key, chosen by its comment
	// or its fingerprint ("SHA256:..." or the MD5 hex form). Without it
	// every agent key is offered, as OpenSSH does, and a server's
	// MaxAuthTries (default 6) can run out before the right one.
	AgentIdentity string

	// HostKey pins the server's public key, in authorized_keys format
	// ("ssh-ed25519 AAAA... [comment]"). Prefixed with "@cert-authority ",
	// it pins the CA that signs the server's host certificate instead.
	// When set, known_hosts is not read.
	HostKey string
	// KnownHostsFile is read when HostKey is empty; default
	// ~/.ssh/known_hosts. Its @cert-authority and @revoked lines are
	// honoured.
	KnownHostsFile string
	// InsecureIgnoreHostKey accepts any host key. It must be asked for
	// explicitly; it conflicts with HostKey.
	InsecureIgnoreHostKey bool

	// Timeout bounds the TCP connect and, separately, the SSH handshake
	// (including authentication); default 30s.
	Timeout time.Duration
	// KeepaliveInterval is how often an idle-or-not connection sends a
	// keepalive@openssh.com request; after KeepaliveCountMax intervals
	// without a reply the connection is declared dead and closed, and
	// every operation on it fails saying so. Zero means
	// DefaultKeepaliveInterval; negative disables keepalives.
	KeepaliveInterval time.Duration
	// KeepaliveCountMax is OpenSSH's ServerAliveCountMax; default 3.
	KeepaliveCountMax int
	// ConnectRetryTimeout keeps retrying a connection that fails the way a
	// booting server fails (refused, unreachable, timed out, reset before
	// the SSH handshake, name not yet resolvable), with backoff, until this
	// much time has passed since the first attempt. Zero: one attempt.
	ConnectRetryTimeout time.Duration

	// Settings an ssh_config file gives (SSHConfig.Apply); they can be
	// set directly too.

	// IdentityFiles are private key files tried in order, each with its
	// FILE-cert.pub, when neither PrivateKey nor PrivateKeyFile is set
	// (ssh_config IdentityFile). They replace the default key files; one
	// that does not exist is skipped, as ssh does.
	IdentityFiles []string
	// IdentitiesOnly offers only the configured keys, even when ssh-agent
	// holds others (ssh_config IdentitiesOnly).
	IdentitiesOnly bool
	// HostKeyAlias is the name the host key is looked up (and recorded)
	// under in known_hosts, instead of the host and port.
	HostKeyAlias string
	// AcceptNewHostKeys records the key of a host not in KnownHostsFile
	// there, and accepts it (StrictHostKeyChecking accept-new); a changed
	// key is still refused.
	AcceptNewHostKeys bool
	// ExtraKnownHostsFiles are read besides KnownHostsFile, never written
	// (GlobalKnownHostsFile, further UserKnownHostsFile entries).
	ExtraKnownHostsFiles []string
	// Origin says which settings came from which ssh_config line, for
	// messages; it does not change the connection.
	Origin string

	// Bastion, when set, is the jump host the connection goes through
	// (as ssh -J). A bastion may have its own Bastion: multi-hop.
	Bastion *Config

	// defaultKeys are the key files OpenSSH's ssh tries when none is
	// configured (~/.ssh/id_rsa, id_ecdsa, id_ed25519; on Windows ~ is
	// %USERPROFILE%), those that exist, then empty strings: set by
	// withDefaults.
	defaultKeys [len(defaultKeyNames)]string
}

// defaultKeyNames are the files in ~/.ssh tried when no private key is
// configured, in OpenSSH's order (ssh_config(5), IdentityFile). Security
// key (-sk) types are left out: x/crypto/ssh cannot sign with them.
var defaultKeyNames = [...]string{"id_rsa", "id_ecdsa", "id_ed25519"}

// AgentMode says whether to use ssh-agent.
type AgentMode int

const (
	AgentAuto AgentMode = iota // when AgentSocket (or SSH_AUTH_SOCK) is set
	AgentOn                    // required: an error when there is no agent
	AgentOff                   // never
)

// Defaults used for zero Config fields.
const (
	DefaultTimeout           = 30 * time.Second
	DefaultKeepaliveInterval = 15 * time.Second
	DefaultKeepaliveCountMax = 3
)

// maxHops bounds a bastion chain (and catches a chain that loops).
const maxHops = 8

// withDefaults fills in defaults and checks for settings that cannot work,
// for this hop and every bastion.
func (c Config) withDefaults() (Config, error) {
	return c.withDefaultsDepth(0)
}

func (c Config) withDefaultsDepth(depth int) (Config, error) {
	c, err := c.hopDefaults()
	if err != nil {
		if depth > 0 {
			return c, fmt.Errorf("bastion: %w", err)
		}
		return c, err
	}
	if c.Bastion != nil {
		if depth+1 >= maxHops {
			return c, fmt.Errorf("ssh: more than %d jump hosts: is the bastion chain a loop?", maxHops-1)
		}
		b, err := c.Bastion.withDefaultsDepth(depth + 1)
		if err != nil {
			return c, err
		}
		c.Bastion = &b
	}
	return c, nil
}

func (c Config) hopDefaults() (Config, error) {
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
	if c.KeepaliveInterval == 0 {
		c.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if c.KeepaliveCountMax <= 0 {
		c.KeepaliveCountMax = DefaultKeepaliveCountMax
	}
	if c.ConnectRetryTimeout < 0 {
		return c, fmt.Errorf("ssh: connect_retry_timeout %v is negative", c.ConnectRetryTimeout)
	}
	switch c.Agent {
	case AgentAuto, AgentOn:
		if c.AgentSocket == "" {
			c.AgentSocket = os.Getenv("SSH_AUTH_SOCK")
		}
		if c.AgentSocket == "" {
			c.AgentSocket = defaultAgentSocket()
		}
		if c.AgentSocket == "" && c.Agent == AgentOn {
			return c, errors.New("ssh: agent = true but SSH_AUTH_SOCK is not set: start ssh-agent (eval $(ssh-agent); ssh-add KEY) in the environment Terraform runs in, or set agent = false")
		}
	case AgentOff:
		c.AgentSocket = ""
	default:
		return c, fmt.Errorf("ssh: agent mode %d is invalid", c.Agent)
	}
	if c.AgentSocket == "" && c.AgentIdentity != "" {
		return c, errors.New("ssh: agent_identity is set but no ssh-agent is in use: set SSH_AUTH_SOCK (agent = true) or drop agent_identity")
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
	c.defaultKeys = [len(defaultKeyNames)]string{}
	if len(c.IdentityFiles) > 0 {
		files := make([]string, len(c.IdentityFiles)) // the caller's slice stays as it was
		for i, f := range c.IdentityFiles {
			p, err := expandHome(f)
			if err != nil {
				return c, fmt.Errorf("ssh: IdentityFile %s: %w", f, err)
			}
			files[i] = p
		}
		c.IdentityFiles = files
	}
	if c.PrivateKey == "" && c.PrivateKeyFile == "" && c.Certificate == "" && len(c.IdentityFiles) == 0 {
		// Without a home directory there are no default keys; the other
		// methods may still serve, and planAuth says when none does.
		if home, err := os.UserHomeDir(); err == nil {
			i := 0
			for _, n := range defaultKeyNames {
				p := filepath.Join(home, ".ssh", n)
				if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
					c.defaultKeys[i] = p
					i++
				}
			}
		}
	}
	if c.Certificate != "" && !isCertContent(c.Certificate) {
		p, err := expandHome(strings.TrimSpace(c.Certificate))
		if err != nil {
			return c, fmt.Errorf("ssh: certificate %s: %w", c.Certificate, err)
		}
		c.Certificate = p
	}
	if c.KnownHostsFile == "" && c.HostKey == "" && !c.InsecureIgnoreHostKey {
		home, err := os.UserHomeDir()
		if err != nil {
			return c, fmt.Errorf("ssh: cannot find ~/.ssh/known_hosts (%w): set known_hosts_file or host_key", err)
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

// addr is host:port.
func (c Config) addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// poolKey identifies what makes two configs reach the same account on the
// same server the same way: user, host, port, credentials (with
// ssh_config's identity files), host-key policy (with the known_hosts
// files, alias and accept-new), keepalive and the bastion chain. Timeout and ConnectRetryTimeout
// only shape how a connection is made, not which one, and are left out.
// Secrets enter only through a hash, so the key can be printed.
func (c Config) poolKey() string {
	h := sha256.New()
	var write func(c *Config)
	write = func(c *Config) {
		for _, f := range []string{
			c.Host, strconv.Itoa(c.Port), c.User,
			c.PrivateKey, c.PrivateKeyFile, c.PrivateKeyPassphrase, c.Certificate, c.Password,
			strconv.Itoa(int(c.Agent)), c.AgentSocket, c.AgentIdentity,
			c.HostKey, c.KnownHostsFile, strconv.FormatBool(c.InsecureIgnoreHostKey),
			c.KeepaliveInterval.String(), strconv.Itoa(c.KeepaliveCountMax),
			strings.Join(c.defaultKeys[:], "\x00"),
			strings.Join(c.IdentityFiles, "\x00"), strconv.FormatBool(c.IdentitiesOnly), c.HostKeyAlias,
			strconv.FormatBool(c.AcceptNewHostKeys), strings.Join(c.ExtraKnownHostsFiles, "\x00"),
		} {
			// Length-prefixed, so that no two field lists collide.
			fmt.Fprintf(h, "%d:%s;", len(f), f)
		}
		if c.Bastion != nil {
			h.Write([]byte("via;"))
			write(c.Bastion)
		}
	}
	write(&c)
	return fmt.Sprintf("%s@%s/%x", c.User, c.addr(), h.Sum(nil)[:12])
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
	return "", fmt.Errorf("ssh: user is empty and the current user is unknown (%w): set user", err)
}

// expandHome expands "~" and "~/..." like a shell, and on Windows
// "~\..." too (os.IsPathSeparator); the home directory is
// os.UserHomeDir's: $HOME, or %USERPROFILE% on Windows. "~user" is not
// supported: it is rare in configuration and ambiguous across machines.
func expandHome(p string) (string, error) {
	if p != "~" && (len(p) < 2 || p[0] != '~' || !os.IsPathSeparator(p[1])) {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot expand ~: %w", err)
	}
	return filepath.Join(home, p[1:]), nil
}
