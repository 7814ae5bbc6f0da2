package sshtest

import (
	"bufio"
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
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
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
// override the rig's; use the dedicated options for those.
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

// bindAttempts is how many ports StartServer tries. The free port is found
// by listening on :0 and closing, so another process can take it before
// sshd binds; that race is rare, and a fresh port fixes it.
const bindAttempts = 5

// errBindRace marks a start that failed only because the port was taken.
var errBindRace = errors.New("port taken before sshd could bind it")

// StartServer writes a config, keys and known_hosts into dir (which must
// exist and be private to the caller) and starts sshd in the foreground on
// 127.0.0.1 with a free port. It returns once the port answers with an SSH
// banner. Call Stop when done. On failure the error includes sshd's log.
func StartServer(dir string, opts ...Option) (*Server, error) {
	o := options{sshd: DefaultSSHD, startTimeout: 10 * time.Second, pickPort: freePort}
	for _, opt := range opts {
		opt(&o)
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
		logPath:        filepath.Join(dir, "sshd.log"),
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

	for attempt := 1; ; attempt++ {
		err := s.start(&o)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errBindRace) || attempt == bindAttempts || o.port != 0 {
			return nil, err
		}
	}
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
	host, client := o.hostKey, o.clientKey
	var err error
	if host == nil {
		if host, err = NewKeyPair(); err != nil {
			return fmt.Errorf("sshtest: host key: %w", err)
		}
	}
	if client == nil {
		if client, err = NewKeyPair(); err != nil {
			return fmt.Errorf("sshtest: client key: %w", err)
		}
	}
	s.HostKeyAuthorized = host.Authorized
	s.HostPublicKey = host.Public
	s.ClientKeyPEM = client.PEM
	s.ClientSigner = client.Signer

	// sshd refuses a host key file readable by others, whatever StrictModes
	// says; the client key gets the same mode so OpenSSH's ssh -i accepts it.
	files := []struct {
		name, content string
		mode          os.FileMode
	}{
		{"host_key", host.PEM, 0o600},
		{"host_key.pub", host.Authorized + "\n", 0o644},
		{"client_key", client.PEM, 0o600},
		{"client_key.pub", client.Authorized + "\n", 0o644},
		{"authorized_keys", client.Authorized + "\n", 0o600},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(s.Dir, f.name), f.content, f.mode); err != nil {
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

// start makes one attempt: pick a port, write the config, run sshd, wait.
func (s *Server) start(o *options) error {
	port, err := o.pickPort()
	if o.port != 0 {
		port, err = o.port, nil
	}
	if err != nil {
		return err
	}
	s.Port = port

	cfgPath := filepath.Join(s.Dir, "sshd_config")
	if err := writeFile(cfgPath, s.config(o), 0o600); err != nil {
		return err
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostPublicKey)
	if err := writeFile(s.KnownHostsFile, line+"\n", 0o600); err != nil {
		return err
	}
	pidPath := filepath.Join(s.Dir, "sshd.pid")
	_ = os.Remove(pidPath) // a stale pid from a failed attempt would fool waitReady

	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("sshtest: open sshd log: %w", err)
	}
	// The log keeps every attempt; judge this attempt by its own part.
	logStart := 0
	if fi, err := logFile.Stat(); err == nil {
		logStart = int(fi.Size())
	}
	fmt.Fprintf(logFile, "--- sshtest: starting %s on %s ---\n", o.sshd, s.Addr())

	// -D: stay in the foreground so Stop can kill and reap it.
	// -e: log to stderr, which goes to the log file (children inherit it).
	cmd := exec.Command(o.sshd, "-D", "-e", "-f", cfgPath)
	if o.password != "" {
		cmd = s.passwordCommand(o.sshd, cfgPath)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("sshtest: run %s: %w (is openssh-server installed?)", o.sshd, err)
	}
	logFile.Close() // the child holds its own copy
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	err = s.waitReady(pidPath, o.startTimeout)
	if err == nil {
		return nil
	}
	s.kill()
	log := s.Log()
	if logStart <= len(log) && strings.Contains(log[logStart:], "Address already in use") {
		return fmt.Errorf("sshtest: %w (port %d)", errBindRace, port)
	}
	return fmt.Errorf("sshtest: sshd on %s did not start: %w\n--- sshd log (%s) ---\n%s", s.Addr(), err, s.logPath, log)
}

func (s *Server) config(o *options) string {
	q := func(p string) string { return `"` + p + `"` }
	var b strings.Builder
	b.WriteString("# Written by sshtest for a throwaway test server.\n")
	fmt.Fprintf(&b, "Port %d\n", s.Port)
	b.WriteString("ListenAddress 127.0.0.1\n")
	fmt.Fprintf(&b, "HostKey %s\n", q(filepath.Join(s.Dir, "host_key")))
	fmt.Fprintf(&b, "PidFile %s\n", q(filepath.Join(s.Dir, "sshd.pid")))
	// AuthorizedKeysFile expands %-tokens; double any literal percent.
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", q(strings.ReplaceAll(filepath.Join(s.Dir, "authorized_keys"), "%", "%%")))
	// The temp dir and its parents are not root-owned 0755 as StrictModes
	// demands of a real home directory.
	b.WriteString("StrictModes no\n")
	b.WriteString("UsePAM no\n")
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
	for _, extra := range o.extra {
		b.WriteString(strings.TrimRight(extra, "\n"))
		b.WriteString("\n")
	}
	return b.String()
}

// freePort asks the kernel for a free port on 127.0.0.1. The listener is
// closed before sshd binds, hence the retry in StartServer.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("sshtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil //nolint:forcetypeassert // a "tcp" listener's address is a *net.TCPAddr
}

// waitReady returns when our sshd has bound the port and answers with an
// SSH banner. sshd writes its pid file only after binding, so a pid file
// holding our child's pid proves the banner comes from our sshd and not
// from some other process that won the port.
func (s *Server) waitReady(pidPath string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := strconv.Itoa(s.cmd.Process.Pid)
	lastErr := errors.New("no pid file yet")
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("sshd exited: %w", s.waitErr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", timeout, lastErr)
		}
		if pid, err := os.ReadFile(pidPath); err != nil || strings.TrimSpace(string(pid)) != want {
			lastErr = errors.New("sshd has not written its pid file (not bound yet)")
		} else if lastErr = readBanner(s.Addr()); lastErr == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readBanner connects and reads the server's identification line.
func readBanner(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read SSH banner: %w", err)
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return fmt.Errorf("unexpected banner %q", strings.TrimSpace(line))
	}
	return nil
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

// Log returns everything sshd has logged so far (LogLevel VERBOSE).
func (s *Server) Log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read sshd log: %v)", err)
	}
	return string(b)
}

// Stop terminates sshd and waits for it to exit, which releases the port.
// Sessions already open live on in their own processes until their client
// disconnects, as with any sshd restart. Stop is idempotent. It reports an
// error if sshd had died on its own before Stop, so tests notice crashes.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			s.stopErr = fmt.Errorf("sshtest: sshd on %s exited before Stop: %w\n--- sshd log ---\n%s", s.Addr(), s.waitErr, s.Log())
			return
		default:
		}
		s.kill()
	})
	return s.stopErr
}

// kill asks sshd to exit (SIGTERM lets it remove its pid file), then
// forces it after a grace period, and reaps it.
func (s *Server) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return
	case <-time.After(5 * time.Second):
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}
