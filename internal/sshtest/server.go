package sshtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultSSHD is the sshd binary the rig runs unless WithSSHD says otherwise.
// sshd re-executes itself for every connection, so the path must be absolute.
const DefaultSSHD = "/usr/sbin/sshd"

// Server is a running sshd listening on 127.0.0.1, with a throwaway host key
// and one authorized client key. All file paths point into the directory
// given to StartServer.
type Server struct {
	Host string // always "127.0.0.1"
	Port int
	User string // the current user: the only account a test may log in as
	Dir  string // holds sshd_config, keys, known_hosts, pid file and log

	// ClientKeyPEM is the authorized client private key (OpenSSH PEM,
	// unencrypted); ClientKeyFile is the same key on disk (mode 0600).
	ClientKeyPEM  string
	ClientKeyFile string
	// ClientSigner is the client key, ready for ssh.PublicKeys.
	ClientSigner ssh.Signer

	// HostKeyAuthorized is the server's public host key in authorized_keys
	// format, one line, no comment ("ssh-ed25519 AAAA...").
	HostKeyAuthorized string
	// HostPublicKey is the same key, parsed.
	HostPublicKey ssh.PublicKey
	// KnownHostsFile holds one line, "[127.0.0.1]:PORT ssh-ed25519 AAAA...",
	// exactly as OpenSSH's known_hosts writes it for a non-22 port.
	KnownHostsFile string
	// HostCertificate is the host certificate sshd presents (one line, as
	// in KEY-cert.pub), set only with WithHostCertificate.
	HostCertificate string

	daemon  string // "sshd" or "dropbear", in messages
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd.Wait returns
	waitErr error         // cmd.Wait's result, readable after exited is closed
	logPath string

	stopOnce sync.Once
	stopErr  error
}

// Option adjusts the generated sshd_config or how sshd is run.
type Option func(*options)

type options struct {
	sshd         string
	maxSessions  int
	maxStartups  int
	extra        []string
	startTimeout time.Duration
	pickPort     func() (int, error) // freePort; replaced in tests of the retry

	password  string   // WithPassword: enables password logins for User
	hostCA    *CA      // WithHostCertificate: sshd presents a host certificate
	userCA    *CA      // WithTrustedUserCA: sshd trusts user certificates
	port      int      // WithPort: this port, not a free one
	hostKey   *KeyPair // WithKeys: fixed keys instead of fresh ones
	clientKey *KeyPair
	logLevel  string // WithLogLevel; default VERBOSE

	dropbear    string // StartDropbearServer: the binary (WithDropbear)
	hostKeyType string // StartDropbearServer: dropbearkey -t (WithHostKeyType)
}

// WithLogLevel sets sshd's LogLevel (default VERBOSE). DEBUG1 logs what
// VERBOSE does not, such as each forwarded connection a jump host opens
// ("server_request_direct_tcpip: originator ... target HOST port PORT").
func WithLogLevel(level string) Option {
	return func(o *options) { o.logLevel = level }
}

// WithMaxSessions sets MaxSessions: how many sessions (channels running a
// command) one connection may open at once. OpenSSH's default is 10.
func WithMaxSessions(n int) Option {
	return func(o *options) { o.maxSessions = n }
}

// WithMaxStartups sets MaxStartups to n. OpenSSH's default (10:30:100)
// starts refusing concurrent unauthenticated connections after 10, which
// tests that open many connections at once would trip over.
func WithMaxStartups(n int) Option {
	return func(o *options) { o.maxStartups = n }
}

// WithExtraConfig appends lines to sshd_config after the rig's own settings.
// sshd keeps the first value it reads for most keywords, so extra lines can
// add settings (and Match blocks, which must come last anyway) but cannot
// override the rig's; use the dedicated options for those. SetEnv lines
// outside Match blocks are the exception: their variables join the rig's
// own SetEnv line (sshd reads one).
func WithExtraConfig(lines string) Option {
	return func(o *options) { o.extra = append(o.extra, lines) }
}

// WithSSHD runs the given sshd binary (absolute path) instead of DefaultSSHD.
func WithSSHD(path string) Option {
	return func(o *options) { o.sshd = path }
}

// WithStartTimeout bounds how long StartServer waits for sshd to accept
// connections and send its banner (default 10 s).
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) { o.startTimeout = d }
}

// StartServer writes a config, keys and known_hosts into dir (which must
// exist and be private to the caller) and starts sshd in the foreground on
// 127.0.0.1 with a free port. It returns once the port answers with an SSH
// banner. Call Stop when done. On failure the error includes sshd's log.
func StartServer(dir string, opts ...Option) (*Server, error) {
	o := options{sshd: DefaultSSHD, startTimeout: 10 * time.Second, pickPort: freePort}
	for _, opt := range opts {
		opt(&o)
	}
	if o.dropbear != "" || o.hostKeyType != "" {
		return nil, errors.New("sshtest: WithDropbear and WithHostKeyType are for StartDropbearServer")
	}
	if !filepath.IsAbs(o.sshd) {
		return nil, fmt.Errorf("sshtest: sshd path %q must be absolute (sshd re-executes itself by path)", o.sshd)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("sshtest: %w", err)
	}
	// Paths go into sshd_config inside double quotes; sshd has no way to
	// escape these characters there.
	if strings.ContainsAny(dir, "\"\\\n\r") {
		return nil, fmt.Errorf("sshtest: directory %q contains a quote, backslash or newline, which sshd_config cannot express", dir)
	}
	// sshd insists on its privilege separation directory even though this
	// config never drops privileges to it; create it and let sshd report
	// the problem if this fails (e.g. when not root).
	_ = os.MkdirAll("/run/sshd", 0o755)

	s := &Server{
		Host:           "127.0.0.1",
		Dir:            dir,
		ClientKeyFile:  filepath.Join(dir, "client_key"),
		KnownHostsFile: filepath.Join(dir, "known_hosts"),
	}
	if s.User, err = currentUser(); err != nil {
		return nil, err
	}
	if err := s.writeKeys(&o); err != nil {
		return nil, err
	}
	if err := s.writeAuthFiles(&o); err != nil {
		return nil, err
	}

	if err := s.run(&o, sshdDaemon(&o)); err != nil {
		return nil, err
	}
	return s, nil
}

// currentUser is the account sshd must let us log in as. A process not
// running as root can only run an sshd that authenticates its own user.
func currentUser() (string, error) {
	u, err := user.Current()
	if err == nil && u.Username != "" {
		return u.Username, nil
	}
	if name := os.Getenv("USER"); name != "" {
		return name, nil
	}
	return "", fmt.Errorf("sshtest: cannot determine the current user name (user.Current: %w; $USER unset)", err)
}

func (s *Server) writeKeys(o *options) error {
	host := o.hostKey
	if host == nil {
		var err error
		if host, err = NewKeyPair(); err != nil {
			return fmt.Errorf("sshtest: host key: %w", err)
		}
	}
	s.HostKeyAuthorized = host.Authorized
	s.HostPublicKey = host.Public
	// sshd refuses a host key file readable by others, whatever StrictModes
	// says.
	if err := writeFile(filepath.Join(s.Dir, "host_key"), host.PEM, 0o600); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(s.Dir, "host_key.pub"), host.Authorized+"\n", 0o644); err != nil {
		return err
	}
	return s.writeClientKey(o, filepath.Join(s.Dir, "authorized_keys"))
}

// writeClientKey writes the client key (o's or a fresh one) to
// ClientKeyFile and its public half to authorizedKeys.
func (s *Server) writeClientKey(o *options, authorizedKeys string) error {
	client := o.clientKey
	if client == nil {
		var err error
		if client, err = NewKeyPair(); err != nil {
			return fmt.Errorf("sshtest: client key: %w", err)
		}
	}
	s.ClientKeyPEM = client.PEM
	s.ClientSigner = client.Signer
	// Mode 0600, so that OpenSSH's ssh -i accepts the key too.
	files := []struct {
		path, content string
		mode          os.FileMode
	}{
		{s.ClientKeyFile, client.PEM, 0o600},
		{s.ClientKeyFile + ".pub", client.Authorized + "\n", 0o644},
		{authorizedKeys, client.Authorized + "\n", 0o600},
	}
	for _, f := range files {
		if err := writeFile(f.path, f.content, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// writeFile replaces path with content and mode, even if it already exists
// with looser permissions (os.WriteFile keeps an existing file's mode).
func writeFile(path, content string, mode os.FileMode) error {
	_ = os.Remove(path)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		return fmt.Errorf("sshtest: write %s: %w", path, err)
	}
	return nil
}

// sshdDaemon runs OpenSSH's sshd with a config written for each attempt.
func sshdDaemon(o *options) daemon {
	return daemon{
		name: "sshd",
		hint: "is openssh-server installed?",
		command: func(s *Server, pidPath string) (*exec.Cmd, error) {
			cfgPath := filepath.Join(s.Dir, "sshd_config")
			if err := writeFile(cfgPath, s.config(o, pidPath), 0o600); err != nil {
				return nil, err
			}
			if o.password != "" {
				return s.passwordCommand(o.sshd, cfgPath), nil
			}
			// -D: stay in the foreground so Stop can kill and reap it.
			// -e: log to stderr, which goes to the log file (children
			// inherit it).
			return exec.Command(o.sshd, "-D", "-e", "-f", cfgPath), nil
		},
	}
}

func (s *Server) config(o *options, pidPath string) string {
	q := func(p string) string { return `"` + p + `"` }
	var b strings.Builder
	b.WriteString("# Written by sshtest for a throwaway test server.\n")
	fmt.Fprintf(&b, "Port %d\n", s.Port)
	b.WriteString("ListenAddress 127.0.0.1\n")
	fmt.Fprintf(&b, "HostKey %s\n", q(filepath.Join(s.Dir, "host_key")))
	fmt.Fprintf(&b, "PidFile %s\n", q(pidPath))
	// AuthorizedKeysFile expands %-tokens; double any literal percent.
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", q(strings.ReplaceAll(filepath.Join(s.Dir, "authorized_keys"), "%", "%%")))
	// The temp dir and its parents are not root-owned 0755 as StrictModes
	// demands of a real home directory.
	b.WriteString("StrictModes no\n")
	b.WriteString("UsePAM no\n")
	// bash sources the login user's ~/.bashrc before each command sshd
	// runs (SSH_SOURCE_BASHRC, on in Debian's bash) unless SHLVL says it
	// is nested. On the CI machine root's runs pyenv init: 1.1 s per
	// remote command, which tripled the acceptance suite's time and says
	// nothing about the provider (the bench's rig does the same). sshd
	// takes only the first SetEnv line, so the extra config's own
	// (outside Match blocks) are merged into this one.
	setEnv, extra := mergeSetEnv(o.extra)
	fmt.Fprintf(&b, "SetEnv %s\n", strings.Join(append(setEnv, "SHLVL=2"), " "))
	if o.password != "" {
		// Checked against the private shadow file (see WithPassword).
		b.WriteString("PasswordAuthentication yes\n")
		b.WriteString("PermitRootLogin yes\n")
	} else {
		b.WriteString("PasswordAuthentication no\n")
		// Tests usually run as root (CI does); key-only root login is enough.
		b.WriteString("PermitRootLogin prohibit-password\n")
	}
	b.WriteString("KbdInteractiveAuthentication no\n")
	b.WriteString("PubkeyAuthentication yes\n")
	if o.hostCA != nil {
		fmt.Fprintf(&b, "HostCertificate %s\n", q(filepath.Join(s.Dir, "host_key-cert.pub")))
	}
	if o.userCA != nil {
		fmt.Fprintf(&b, "TrustedUserCAKeys %s\n", q(filepath.Join(s.Dir, "user_ca.pub")))
	}
	level := "VERBOSE"
	if o.logLevel != "" {
		level = o.logLevel
	}
	fmt.Fprintf(&b, "LogLevel %s\n", level)
	b.WriteString("PrintMotd no\n")
	b.WriteString("PrintLastLog no\n")
	if o.maxSessions > 0 {
		fmt.Fprintf(&b, "MaxSessions %d\n", o.maxSessions)
	}
	if o.maxStartups > 0 {
		fmt.Fprintf(&b, "MaxStartups %d\n", o.maxStartups)
	}
	for _, line := range extra {
		b.WriteString(line)
		b.WriteString("\n")
	}
	return b.String()
}

// mergeSetEnv splits the extra config's lines into the variables of its
// SetEnv lines before the first Match block, and the other lines.
func mergeSetEnv(extras []string) (vars, rest []string) {
	inMatch := false
	for _, extra := range extras {
		for _, line := range strings.Split(strings.TrimRight(extra, "\n"), "\n") {
			fields := strings.Fields(line)
			if len(fields) > 0 && strings.EqualFold(fields[0], "Match") {
				inMatch = true
			}
			if !inMatch && len(fields) > 1 && strings.EqualFold(fields[0], "SetEnv") {
				vars = append(vars, fields[1:]...)
				continue
			}
			rest = append(rest, line)
		}
	}
	return vars, rest
}

// Addr is "127.0.0.1:PORT".
func (s *Server) Addr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

// ClientConfig returns a config that logs in as User with the client key
// and accepts only this server's host key.
func (s *Server) ClientConfig() *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:              s.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(s.ClientSigner)},
		HostKeyCallback:   ssh.FixedHostKey(s.HostPublicKey),
		HostKeyAlgorithms: []string{s.HostPublicKey.Type()},
		Timeout:           10 * time.Second,
	}
}
