package sshtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultDropbear is the Dropbear server StartDropbearServer runs unless
// WithDropbear says otherwise (Debian's dropbear-bin package, which
// .ci/fetch-dropbear installs; the dropbear package would also start a
// system service).
const DefaultDropbear = "/usr/sbin/dropbear"

// ErrDropbearUnavailable: StartDropbearServer cannot run on this machine
// (dropbear or dropbearkey is missing, or there is no private mount
// namespace for it). Test wrappers skip on it outside TF_ACC.
var ErrDropbearUnavailable = errors.New("sshtest: Dropbear cannot run here")

// WithDropbear runs the given dropbear binary instead of DefaultDropbear
// (StartDropbearServer only). dropbearkey is looked up beside it, then on
// PATH.
func WithDropbear(path string) Option {
	return func(o *options) { o.dropbear = path }
}

// WithHostKeyType makes StartDropbearServer generate a host key of this
// dropbearkey type ("ed25519", the default; "rsa", "ecdsa"): appliances
// often have only an RSA host key, which the client must verify as
// rsa-sha2-256, the one RSA signature Dropbear 2022 offers.
func WithHostKeyType(keyType string) Option {
	return func(o *options) { o.hostKeyType = keyType }
}

// StartDropbearServer is StartServer for Dropbear: it starts dropbear in
// the foreground on 127.0.0.1 with a free port, a host key made by
// dropbearkey (the known_hosts file verifies it), and the client key
// authorized for User. It returns once the port answers with an SSH banner;
// call Stop when done. Of the options it honours WithPort, WithKeys (the
// client key only), WithStartTimeout, WithDropbear and WithHostKeyType,
// and fails on the others rather than ignore them.
//
// Dropbear (2022.83) reads authorized keys only from the login user's
// ~/.ssh/authorized_keys, with the home directory from the passwd
// database. The rig never touches the real one: dropbear runs in a private
// mount namespace in which a copy of /etc/passwd giving User the home
// directory dir/home is bind-mounted over /etc/passwd (needs root, as CI
// runs). Sessions therefore start in dir/home with HOME set to it; rsync
// paths in tests are absolute, so nothing else changes.
func StartDropbearServer(dir string, opts ...Option) (*Server, error) {
	o := options{dropbear: DefaultDropbear, hostKeyType: "ed25519", startTimeout: 10 * time.Second, pickPort: freePort}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.dropbearOnly(); err != nil {
		return nil, err
	}
	keygen, err := dropbearTools(o.dropbear)
	if err != nil {
		return nil, err
	}
	if err := checkNamespace(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDropbearUnavailable, err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("sshtest: %w", err)
	}
	// The home directory goes into a passwd line and onto dropbear's
	// command line; passwd has no escape for these.
	if strings.ContainsAny(dir, ":\n\r") {
		return nil, fmt.Errorf("sshtest: directory %q contains a colon or newline, which a passwd line cannot express", dir)
	}
	s := &Server{
		Host:           "127.0.0.1",
		Dir:            dir,
		ClientKeyFile:  filepath.Join(dir, "client_key"),
		KnownHostsFile: filepath.Join(dir, "known_hosts"),
	}
	if s.User, err = currentUser(); err != nil {
		return nil, err
	}
	hostKey := filepath.Join(dir, "host_key")
	if err := s.dropbearHostKey(keygen, o.hostKeyType, hostKey); err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "home")
	// Dropbear refuses authorized_keys when the home directory, ~/.ssh or
	// the file is writable by group or others.
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		return nil, fmt.Errorf("sshtest: %w", err)
	}
	if err := s.writeClientKey(&o, filepath.Join(home, ".ssh", "authorized_keys")); err != nil {
		return nil, err
	}
	passwd := filepath.Join(dir, "passwd")
	if err := writePasswd(passwd, s.User, home); err != nil {
		return nil, err
	}

	d := daemon{
		name: "dropbear",
		hint: "install dropbear-bin",
		command: func(s *Server, pidPath string) (*exec.Cmd, error) {
			// -F: foreground, so Stop can kill and reap it; -E: log to
			// stderr; -s: no password logins (keys only, as the sshd rig).
			return privateMounts([]bindMount{{passwd, "/etc/passwd"}},
				o.dropbear, "-F", "-E", "-s",
				"-p", s.Addr(), "-r", hostKey, "-P", pidPath), nil
		},
	}
	if err := s.run(&o, d); err != nil {
		return nil, err
	}
	return s, nil
}

// dropbearOnly rejects the options that configure sshd and have no
// Dropbear equivalent in the rig.
func (o *options) dropbearOnly() error {
	var bad []string
	for name, set := range map[string]bool{
		"WithPassword": o.password != "", "WithHostCertificate": o.hostCA != nil,
		"WithTrustedUserCA": o.userCA != nil, "WithMaxSessions": o.maxSessions != 0,
		"WithMaxStartups": o.maxStartups != 0, "WithExtraConfig": len(o.extra) != 0,
		"WithLogLevel": o.logLevel != "", "WithSSHD": o.sshd != "",
		"WithKeys (host key)": o.hostKey != nil,
	} {
		if set {
			bad = append(bad, name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("sshtest: the Dropbear rig does not support %s", strings.Join(bad, ", "))
	}
	return nil
}

// dropbearTools checks that dropbear exists and finds dropbearkey (beside
// it, else on PATH: Debian puts them in /usr/sbin and /usr/bin).
func dropbearTools(dropbear string) (string, error) {
	if !filepath.IsAbs(dropbear) {
		return "", fmt.Errorf("sshtest: dropbear path %q must be absolute", dropbear)
	}
	if _, err := os.Stat(dropbear); err != nil {
		return "", fmt.Errorf("%w: %w (apt-get install dropbear-bin, or .ci/fetch-dropbear)", ErrDropbearUnavailable, err)
	}
	beside := filepath.Join(filepath.Dir(dropbear), "dropbearkey")
	if _, err := os.Stat(beside); err == nil {
		return beside, nil
	}
	keygen, err := exec.LookPath("dropbearkey")
	if err != nil {
		return "", fmt.Errorf("%w: %w (apt-get install dropbear-bin)", ErrDropbearUnavailable, err)
	}
	return keygen, nil
}

// dropbearHostKey has dropbearkey make a host key in Dropbear's own format
// at path, and reads its public half back (dropbearkey -y) for
// known_hosts: the key the client verifies is the one dropbear serves.
func (s *Server) dropbearHostKey(keygen, keyType, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = os.Remove(path) // dropbearkey refuses to overwrite
	if out, err := exec.CommandContext(ctx, keygen, "-t", keyType, "-f", path).CombinedOutput(); err != nil {
		return fmt.Errorf("sshtest: dropbearkey -t %s: %w: %s", keyType, err, bytes.TrimSpace(out))
	}
	out, err := exec.CommandContext(ctx, keygen, "-y", "-f", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("sshtest: dropbearkey -y: %w: %s", err, bytes.TrimSpace(out))
	}
	// "Public key portion is:\nssh-ed25519 AAAA... user@host\nFingerprint: ..."
	for _, line := range strings.Split(string(out), "\n") {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			continue
		}
		s.HostPublicKey = pub
		s.HostKeyAuthorized = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
		return writeFile(path+".pub", s.HostKeyAuthorized+"\n", 0o644)
	}
	return fmt.Errorf("sshtest: dropbearkey -y printed no public key line: %q", out)
}

// writePasswd writes a copy of /etc/passwd in which user's home directory
// is home.
func writePasswd(path, user, home string) error {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return fmt.Errorf("sshtest: %w", err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	found := false
	for i, line := range lines {
		f := strings.Split(strings.TrimRight(line, "\n"), ":")
		if len(f) != 7 || f[0] != user {
			continue
		}
		f[5] = home
		lines[i] = strings.Join(f, ":") + "\n"
		found = true
	}
	if !found {
		return fmt.Errorf("%w: user %s is not in /etc/passwd, where the rig gives it a home directory for dropbear", ErrDropbearUnavailable, strconv.Quote(user))
	}
	return writeFile(path, strings.Join(lines, ""), 0o644)
}
