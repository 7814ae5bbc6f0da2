package sshtest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// WithPassword lets User log in with password as well as with the client
// key (PasswordAuthentication yes, PermitRootLogin yes).
//
// sshd (with UsePAM no, as the rig runs it) checks passwords against
// /etc/shadow. The rig does not touch the system's file: sshd runs in a
// private mount namespace (unshare -m) in which a shadow file holding only
// User's entry, with this password, is bind-mounted over /etc/shadow. That
// needs root (CAP_SYS_ADMIN), util-linux's unshare and mount, and openssl
// or perl to hash the password; StartServer fails with
// ErrPasswordUnsupported when any is missing, so tests can skip with a
// reason instead of faking the login.
func WithPassword(password string) Option {
	return func(o *options) { o.password = password }
}

// ErrPasswordUnsupported: WithPassword cannot work on this machine.
var ErrPasswordUnsupported = errors.New("sshtest: password logins need root, unshare, mount and openssl or perl")

// WithHostCertificate makes sshd present, besides its plain host key, a
// host certificate for it signed by ca, valid for the principals
// "127.0.0.1" and "localhost". Server.HostCertificate holds it.
func WithHostCertificate(ca *CA) Option {
	return func(o *options) { o.hostCA = ca }
}

// WithTrustedUserCA makes sshd accept user certificates signed by ca
// (TrustedUserCAKeys) whose principals include the login name.
func WithTrustedUserCA(ca *CA) Option {
	return func(o *options) { o.userCA = ca }
}

// WithPort makes sshd listen on port instead of a free one. With it a test
// can know the address before sshd runs (say, to start dialling first).
// StartServer does not retry another port when this one is taken.
func WithPort(port int) Option {
	return func(o *options) { o.port = port }
}

// WithKeys uses the given host and client keys instead of fresh ones
// (either may be nil), so that a client can be configured before sshd
// runs.
func WithKeys(host, client *KeyPair) Option {
	return func(o *options) { o.hostKey, o.clientKey = host, client }
}

// FreePort returns a port on 127.0.0.1 that was free a moment ago, for
// WithPort.
func FreePort() (int, error) { return freePort() }

// CA is a throwaway OpenSSH certificate authority (an ed25519 key).
type CA struct {
	Signer ssh.Signer
	// Authorized is the CA's public key in authorized_keys format, as it
	// goes into TrustedUserCAKeys or after "@cert-authority HOSTS" in
	// known_hosts.
	Authorized string
}

// NewCA makes a fresh certificate authority.
func NewCA() (*CA, error) {
	k, err := NewKeyPair()
	if err != nil {
		return nil, fmt.Errorf("sshtest: CA key: %w", err)
	}
	return &CA{Signer: k.Signer, Authorized: k.Authorized}, nil
}

// Sign certifies pub as a user (ssh.UserCert) or host (ssh.HostCert)
// key for principals, valid from a minute ago for a day.
func (ca *CA) Sign(pub ssh.PublicKey, certType uint32, principals ...string) (*ssh.Certificate, error) {
	serial := make([]byte, 8)
	if _, err := rand.Read(serial); err != nil {
		return nil, err
	}
	var sn uint64
	for _, b := range serial {
		sn = sn<<8 | uint64(b)
	}
	now := time.Now()
	cert := &ssh.Certificate{
		Key:             pub,
		Serial:          sn,
		CertType:        certType,
		KeyId:           "sshtest",
		ValidPrincipals: principals,
		ValidAfter:      uint64(now.Add(-time.Minute).Unix()),
		ValidBefore:     uint64(now.Add(24 * time.Hour).Unix()),
	}
	if certType == ssh.UserCert {
		// What ssh-keygen -s grants by default; without permit-pty and
		// friends sshd still runs commands, but be like the real thing.
		cert.Extensions = map[string]string{
			"permit-X11-forwarding":   "",
			"permit-agent-forwarding": "",
			"permit-port-forwarding":  "",
			"permit-pty":              "",
			"permit-user-rc":          "",
		}
	}
	if err := cert.SignCert(rand.Reader, ca.Signer); err != nil {
		return nil, fmt.Errorf("sshtest: sign certificate: %w", err)
	}
	return cert, nil
}

// CertLine is a certificate in the one-line form ssh-keygen writes to
// KEY-cert.pub ("ssh-ed25519-cert-v01@openssh.com AAAA..."), no newline.
func CertLine(cert *ssh.Certificate) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(cert)))
}

// writeAuthFiles writes the certificate files the options ask for.
func (s *Server) writeAuthFiles(o *options) error {
	if o.hostCA != nil {
		cert, err := o.hostCA.Sign(s.HostPublicKey, ssh.HostCert, "127.0.0.1", "localhost")
		if err != nil {
			return err
		}
		s.HostCertificate = CertLine(cert)
		if err := writeFile(filepath.Join(s.Dir, "host_key-cert.pub"), s.HostCertificate+"\n", 0o644); err != nil {
			return err
		}
	}
	if o.userCA != nil {
		if err := writeFile(filepath.Join(s.Dir, "user_ca.pub"), o.userCA.Authorized+"\n", 0o644); err != nil {
			return err
		}
	}
	if o.password != "" {
		if err := s.writeShadow(o.password); err != nil {
			return err
		}
	}
	return nil
}

// writeShadow writes a shadow file with one entry, User's, for password.
func (s *Server) writeShadow(password string) error {
	if err := checkNamespace(); err != nil {
		return fmt.Errorf("%w: %w", ErrPasswordUnsupported, err)
	}
	hash, err := cryptSHA512(password)
	if err != nil {
		return err
	}
	// Last change: today (0 would mean "must change at next login"),
	// no expiry.
	days := time.Now().Unix() / 86400
	line := fmt.Sprintf("%s:%s:%d:0:99999:7:::\n", s.User, hash, days)
	return writeFile(filepath.Join(s.Dir, "shadow"), line, 0o600)
}

// cryptSHA512 hashes password as crypt(3) "$6$" does, with the system's
// openssl or perl (perl-base is essential on Debian).
func cryptSHA512(password string) (string, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./"
	for i := range salt {
		salt[i] = letters[int(salt[i])%len(letters)]
	}
	var tries []string
	for _, cmd := range [][]string{
		{"openssl", "passwd", "-6", "-salt", string(salt), "-stdin"},
		{"perl", "-e", `$p = <STDIN>; chomp $p; print crypt($p, '$6$` + string(salt) + `$')`},
	} {
		c := exec.Command(cmd[0], cmd[1:]...)
		c.Stdin = strings.NewReader(password + "\n")
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err := c.Output()
		h := strings.TrimSpace(string(out))
		if err == nil && strings.HasPrefix(h, "$6$"+string(salt)+"$") {
			return h, nil
		}
		tries = append(tries, fmt.Sprintf("%s: %v %s", cmd[0], err, strings.TrimSpace(stderr.String())))
	}
	return "", fmt.Errorf("%w: cannot hash the password (%s)", ErrPasswordUnsupported, strings.Join(tries, "; "))
}

// passwordCommand runs sshd in a private mount namespace with the rig's
// shadow file over /etc/shadow.
func (s *Server) passwordCommand(sshd, cfgPath string) *exec.Cmd {
	return privateMounts([]bindMount{{filepath.Join(s.Dir, "shadow"), "/etc/shadow"}}, sshd, "-D", "-e", "-f", cfgPath)
}
