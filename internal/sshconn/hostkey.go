package sshconn

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError means the server's host key could not be verified. Its
// message says why and which setting to change.
type HostKeyError struct {
	Addr      string        // host:port as dialled
	Presented ssh.PublicKey // the key the server presented
	msg       string
}

func (e *HostKeyError) Error() string { return e.msg }

// hostKeyPolicy is how one connection verifies the server.
type hostKeyPolicy struct {
	callback ssh.HostKeyCallback
	// algorithms returns the host key algorithms to offer, or nil when the
	// policy prefers no key type (Dial then offers defaultAlgorithms). Offering only the types we can verify makes a
	// server with several host keys present one we know, instead of one
	// we would then have to reject.
	algorithms func(addr string, remote net.Addr) []string
}

func newHostKeyPolicy(cfg Config) (*hostKeyPolicy, error) {
	switch {
	case cfg.HostKey != "":
		return pinnedPolicy(cfg.HostKey)
	case cfg.InsecureIgnoreHostKey:
		return &hostKeyPolicy{
			callback:   ssh.InsecureIgnoreHostKey(), //nolint:gosec // G106: only when the configuration sets insecure_ignore_host_key
			algorithms: func(string, net.Addr) []string { return nil },
		}, nil
	default:
		p, err := knownHostsPolicy(cfg.KnownHostsFile, cfg.ExtraKnownHostsFiles, cfg.AcceptNewHostKeys)
		if err != nil || cfg.HostKeyAlias == "" {
			return p, err
		}
		return p.aliased(cfg.HostKeyAlias), nil
	}
}

// aliased looks the host key up (and records it) under alias, as ssh's
// HostKeyAlias does: the bare name, whatever the port.
func (p *hostKeyPolicy) aliased(alias string) *hostKeyPolicy {
	addr := net.JoinHostPort(alias, "22") // knownhosts.Normalize drops port 22
	return &hostKeyPolicy{
		callback: func(_ string, remote net.Addr, key ssh.PublicKey) error {
			return p.callback(addr, remote, key)
		},
		algorithms: func(_ string, remote net.Addr) []string { return p.algorithms(addr, remote) },
	}
}

func pinnedPolicy(hostKey string) (*hostKeyPolicy, error) {
	if rest, ok := strings.CutPrefix(strings.TrimSpace(hostKey), "@cert-authority "); ok {
		return pinnedCAPolicy(rest)
	}
	pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hostKey))
	if err != nil {
		return nil, fmt.Errorf("ssh: host_key %q is not a public key in authorized_keys format (%w): use a line like the server's /etc/ssh/ssh_host_ed25519_key.pub, \"ssh-ed25519 AAAA...\"", abbreviate(hostKey), err)
	}
	want := pinned.Marshal()
	algos := algorithmsFor(pinned.Type())
	return &hostKeyPolicy{
		callback: func(addr string, _ net.Addr, key ssh.PublicKey) error {
			if bytes.Equal(key.Marshal(), want) {
				return nil
			}
			return &HostKeyError{Addr: addr, Presented: key, msg: fmt.Sprintf(
				"host key verification failed for %s: the server presented %s but host_key pins %s. "+
					"If the server's key was changed on purpose, update host_key; otherwise someone may be intercepting the connection",
				addr, keyDescription(key), keyDescription(pinned))}
		},
		algorithms: func(string, net.Addr) []string { return algos },
	}, nil
}

// pinnedCAPolicy trusts host certificates signed by the pinned CA key
// ("@cert-authority ssh-ed25519 AAAA..." in host_key), for the host name
// as dialled, like a known_hosts @cert-authority line for that host alone.
func pinnedCAPolicy(caLine string) (*hostKeyPolicy, error) {
	ca, _, _, _, err := ssh.ParseAuthorizedKey([]byte(caLine))
	if err != nil {
		return nil, fmt.Errorf("ssh: host_key \"@cert-authority %s\" does not hold a public key in authorized_keys format (%w): write \"@cert-authority ssh-ed25519 AAAA...\" with the CA's public key", abbreviate(caLine), err)
	}
	want := ca.Marshal()
	checker := &ssh.CertChecker{
		IsHostAuthority: func(auth ssh.PublicKey, _ string) bool { return bytes.Equal(auth.Marshal(), want) },
	}
	return &hostKeyPolicy{
		callback: func(addr string, remote net.Addr, key ssh.PublicKey) error {
			cert, ok := key.(*ssh.Certificate)
			if !ok {
				return &HostKeyError{Addr: addr, Presented: key, msg: fmt.Sprintf(
					"host key verification failed for %s: host_key pins the certificate authority %s, but the server presented a plain key (%s), no host certificate. "+
						"Configure sshd's HostCertificate, or pin the host's own key in host_key",
					addr, keyDescription(ca), keyDescription(key))}
			}
			if err := checker.CheckHostKey(addr, remote, key); err != nil {
				return &HostKeyError{Addr: addr, Presented: key, msg: fmt.Sprintf(
					"host key verification failed for %s: the server's host certificate (%s, signed by %s) is not accepted by the pinned certificate authority %s: %v",
					addr, keyDescription(cert), keyDescription(cert.SignatureKey), keyDescription(ca), strings.TrimPrefix(err.Error(), "ssh: "))}
			}
			return nil
		},
		// Plain key types too, so that a server without a certificate
		// gets the clear message above rather than "no common algorithm".
		algorithms: func(string, net.Addr) []string {
			return append(append([]string(nil), certAlgorithms...), plainAlgorithms...)
		},
	}, nil
}

// plainAlgorithms are the plain host key algorithms, in x/crypto's order.
var plainAlgorithms = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
}

// certAlgorithms asks a server for its host certificate, whatever its type.
var certAlgorithms = []string{
	ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
}

// defaultAlgorithms is what Dial offers when the policy knows no key type
// for the host (insecure_ignore_host_key, a new host under accept-new, a
// host known only through a @cert-authority line): OpenSSH's order,
// certificates, then ed25519, ECDSA, RSA with SHA-2 — not x/crypto's
// default, which puts ECDSA and RSA before ed25519. Dropbear 2022.83
// lists rsa-sha2-256 and ssh-rsa even when it has no RSA host key, and its
// session dies on an assertion when a client picks one, so a client that
// prefers RSA cannot reach an ed25519-only Dropbear at all. The SHA-1
// ssh-rsa stays last, as in x/crypto's default, for old servers that have
// nothing else; algorithms x/crypto adds later follow.
func defaultAlgorithms() []string {
	algos := slices.Concat(certAlgorithms, []string{ssh.CertAlgoRSAv01}, plainAlgorithms, []string{ssh.KeyAlgoRSA})
	for _, a := range ssh.SupportedAlgorithms().HostKeys {
		if !slices.Contains(algos, a) {
			algos = append(algos, a)
		}
	}
	return algos
}

// errNoAuthority is how ssh.CertChecker says that no @cert-authority line
// covers the host; it has no error type of its own.
const errNoAuthority = "no authorities for hostname"

// knownHostsPolicy verifies against file and extra (read only); with
// acceptNew, a host none of them knows has its key recorded in file and
// accepted (StrictHostKeyChecking accept-new), never prompted for.
func knownHostsPolicy(file string, extra []string, acceptNew bool) (*hostKeyPolicy, error) {
	var files []string
	for _, f := range append([]string{file}, extra...) {
		_, err := os.Stat(f)
		switch {
		case err == nil:
			files = append(files, f)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("ssh: read known_hosts file %s: %w", f, err)
		}
	}
	unknown := func(addr string, key ssh.PublicKey, why string) error {
		if acceptNew {
			if err := recordHostKey(file, addr, key); err != nil {
				return &HostKeyError{Addr: addr, Presented: key, msg: fmt.Sprintf(
					"host key of %s (%s) is new and StrictHostKeyChecking accept-new would record it, but: %v", addr, keyDescription(key), err)}
			}
			return nil
		}
		return unknownHostError(addr, key, file, why)
	}
	if len(files) == 0 {
		// No file is not an error in itself: every host is simply unknown,
		// and the message says how to make it known.
		return &hostKeyPolicy{
			callback: func(addr string, _ net.Addr, key ssh.PublicKey) error {
				return unknown(addr, key, " (the file does not exist)")
			},
			algorithms: func(string, net.Addr) []string { return nil },
		}, nil
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("ssh: read known_hosts file %s: %w", strings.Join(files, ", "), err)
	}
	var cas []ssh.PublicKey
	caLines := map[string]map[int]bool{}
	for _, f := range files {
		c, lines, err := certAuthorities(f)
		if err != nil {
			return nil, err
		}
		cas, caLines[f] = append(cas, c...), lines
	}
	// x/crypto's database lists @cert-authority lines among the keys it
	// "wants" for a host when a plain key does not match; they are not host
	// keys, and a host known only through a CA is unknown, not changed.
	plainWant := func(want []knownhosts.KnownKey) []knownhosts.KnownKey {
		var out []knownhosts.KnownKey
		for _, k := range want {
			if !caLines[k.Filename][k.Line] {
				out = append(out, k)
			}
		}
		return out
	}
	return &hostKeyPolicy{
		callback: func(addr string, remote net.Addr, key ssh.PublicKey) error {
			err := cb(addr, remote, key)
			if err == nil {
				return nil
			}
			certNote := ""
			if cert, ok := key.(*ssh.Certificate); ok {
				if !strings.Contains(err.Error(), errNoAuthority) {
					return &HostKeyError{Addr: addr, Presented: key, msg: fmt.Sprintf(
						"host key verification failed for %s: the server's host certificate (%s, signed by %s) is signed by a certificate authority that %s trusts for this host, but it is not valid: %v",
						addr, keyDescription(cert), keyDescription(cert.SignatureKey), file, strings.TrimPrefix(err.Error(), "ssh: "))}
				}
				// No CA covers this host: judge the certified key as a
				// plain key, as OpenSSH does ("No matching CA found.
				// Retry with plain key").
				key = cert.Key
				if err = cb(addr, remote, key); err == nil {
					return nil
				}
				certNote = fmt.Sprintf("; it also presented a host certificate signed by %s, but no @cert-authority line there trusts that CA for %s (a pattern without [ ]:port matches port 22 only)",
					keyDescription(cert.SignatureKey), knownhosts.Normalize(addr))
			}
			var keyErr *knownhosts.KeyError
			var revoked *knownhosts.RevokedError
			switch {
			case errors.As(err, &keyErr) && len(plainWant(keyErr.Want)) == 0:
				return unknown(addr, key, certNote)
			case errors.As(err, &keyErr):
				return changedHostError(addr, key, plainWant(keyErr.Want))
			case errors.As(err, &revoked):
				return &HostKeyError{Addr: addr, Presented: key, msg: fmt.Sprintf(
					"host key verification failed for %s: the server presented %s, which %s:%d marks as @revoked",
					addr, keyDescription(key), revoked.Revoked.Filename, revoked.Revoked.Line)}
			default:
				return &HostKeyError{Addr: addr, Presented: key, msg: fmt.Sprintf(
					"host key verification failed for %s (server presented %s): %v", addr, keyDescription(key), err)}
			}
		},
		algorithms: func(addr string, remote net.Addr) []string {
			plain := knownAlgorithms(cb, addr, remote, plainWant)
			if !hasAuthority(cb, cas, addr, remote) {
				return plain
			}
			// A CA vouches for this host: ask for a certificate first,
			// then any plain key we know (or, knowing none, any key:
			// the callback will still refuse an unknown one).
			if plain == nil {
				return nil // defaultAlgorithms puts certificates first
			}
			return append(append([]string(nil), certAlgorithms...), plain...)
		},
	}, nil
}

// certAuthorities lists the CA keys of the @cert-authority lines in file,
// and those lines' numbers (1-based, as knownhosts counts them).
func certAuthorities(file string) ([]ssh.PublicKey, map[int]bool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh: read known_hosts file %s: %w", file, err)
	}
	var cas []ssh.PublicKey
	lines := map[int]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "@cert-authority") {
			continue
		}
		marker, _, pub, _, _, err := ssh.ParseKnownHosts([]byte(line))
		if err == nil && marker == "cert-authority" {
			cas = append(cas, pub)
			lines[i+1] = true
		}
	}
	return cas, lines, nil
}

// hasAuthority reports whether one of cas is a @cert-authority for addr,
// by the known_hosts database's own host matching: a certificate from a
// CA that does not cover addr fails with errNoAuthority, one that does
// fails later (this probe has no valid signature) or not at all.
func hasAuthority(cb ssh.HostKeyCallback, cas []ssh.PublicKey, addr string, remote net.Addr) bool {
	for _, ca := range cas {
		probe := &ssh.Certificate{
			Key: probeKey, CertType: ssh.HostCert, SignatureKey: ca,
			Signature: &ssh.Signature{Format: ca.Type(), Blob: []byte{0}},
		}
		if err := cb(addr, remote, probe); err == nil || !strings.Contains(err.Error(), errNoAuthority) {
			return true
		}
	}
	return false
}

// probeKey is a valid ed25519 public key that no host has (its point is
// all zeros), used to ask the known_hosts database which keys it holds for
// a host: the callback answers a mismatch with the list of known keys.
var probeKey = func() ssh.PublicKey {
	k, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		panic(err) // a fixed-size key cannot fail to wrap
	}
	return k
}()

// knownAlgorithms returns the host key algorithms for the key types that
// known_hosts lists for addr, as OpenSSH's ssh does. Without it, a server
// with both an ECDSA and an ed25519 key, known to us by its ed25519 key,
// would present ECDSA (Go prefers it) and fail as "changed". It returns nil
// (defaultAlgorithms) when the host has no plain-key entries, e.g. only a
// @cert-authority line.
func knownAlgorithms(cb ssh.HostKeyCallback, addr string, remote net.Addr, filter func([]knownhosts.KnownKey) []knownhosts.KnownKey) []string {
	var keyErr *knownhosts.KeyError
	if err := cb(addr, remote, probeKey); !errors.As(err, &keyErr) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range filter(keyErr.Want) {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// algorithmsFor maps a key type to the signature algorithms that prove
// possession of such a key. Only RSA has several; ssh-rsa (SHA-1) is listed
// last for old servers.
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

func unknownHostError(addr string, key ssh.PublicKey, file, why string) error {
	host, port, _ := net.SplitHostPort(addr)
	scan := "ssh-keyscan " + host
	if port != "" && port != "22" {
		scan = "ssh-keyscan -p " + port + " " + host
	}
	return &HostKeyError{Addr: addr, Presented: key, msg: fmt.Sprintf(
		"host key verification failed for %s: the host is not in %s%s (server presented %s). "+
			"Add it (e.g. %s >> %s, after checking the fingerprint), set host_key, set StrictHostKeyChecking accept-new for the host in ssh_config (records the key on first use), or set insecure_ignore_host_key = true",
		addr, file, why, keyDescription(key), scan, file)}
}

// recordHostKey appends addr's key to file, as ssh does for a new host
// under StrictHostKeyChecking accept-new, creating the file (and its
// directory, private) when needed.
func recordHostKey(file, addr string, key ssh.PublicKey) error {
	if file == "" {
		return errors.New("no known_hosts file to record it in")
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("create the directory of %s: %w", file, err)
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", file, err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		if b, err := os.ReadFile(file); err == nil && len(b) > 0 && b[len(b)-1] != '\n' {
			line = "\n" + line
		}
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

func changedHostError(addr string, key ssh.PublicKey, want []knownhosts.KnownKey) error {
	var known []string
	for _, k := range want {
		known = append(known, fmt.Sprintf("%s:%d has %s", k.Filename, k.Line, keyDescription(k.Key)))
	}
	return &HostKeyError{Addr: addr, Presented: key, msg: fmt.Sprintf(
		"host key verification failed for %s: the host key has changed: the server presented %s, but %s. "+
			"Someone may be intercepting the connection, or the server was reinstalled; "+
			"if the change is expected, remove the old entry (ssh-keygen -R %s -f %s) and add the new key",
		addr, keyDescription(key), strings.Join(known, "; "), strconv.Quote(knownhosts.Normalize(addr)), want[0].Filename)}
}

// abbreviate shortens a setting's value for an error message; host keys
// are public, but a pasted private key by mistake must not be echoed.
func abbreviate(s string) string {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "PRIVATE KEY") {
		return "(a private key)"
	}
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
