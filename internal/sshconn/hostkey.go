package sshconn

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
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
	// algorithms returns the host key algorithms to offer, or nil for the
	// library default. Offering only the types we can verify makes a
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
			callback:   ssh.InsecureIgnoreHostKey(),
			algorithms: func(string, net.Addr) []string { return nil },
		}, nil
	default:
		return knownHostsPolicy(cfg.KnownHostsFile)
	}
}

func pinnedPolicy(hostKey string) (*hostKeyPolicy, error) {
	pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hostKey))
	if err != nil {
		return nil, fmt.Errorf("ssh: host_key %q is not a public key in authorized_keys format (%v): use a line like the server's /etc/ssh/ssh_host_ed25519_key.pub, \"ssh-ed25519 AAAA...\"", abbreviate(hostKey), err)
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

func knownHostsPolicy(file string) (*hostKeyPolicy, error) {
	cb, err := knownhosts.New(file)
	if errors.Is(err, fs.ErrNotExist) {
		// No file is not an error in itself: every host is simply unknown,
		// and the message says how to make it known.
		return &hostKeyPolicy{
			callback: func(addr string, _ net.Addr, key ssh.PublicKey) error {
				return unknownHostError(addr, key, file, " (the file does not exist)")
			},
			algorithms: func(string, net.Addr) []string { return nil },
		}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ssh: read known_hosts file %s: %w", file, err)
	}
	return &hostKeyPolicy{
		callback: func(addr string, remote net.Addr, key ssh.PublicKey) error {
			err := cb(addr, remote, key)
			if err == nil {
				return nil
			}
			var keyErr *knownhosts.KeyError
			var revoked *knownhosts.RevokedError
			switch {
			case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
				return unknownHostError(addr, key, file, "")
			case errors.As(err, &keyErr):
				return changedHostError(addr, key, keyErr.Want)
			case errors.As(err, &revoked):
				return &HostKeyError{Addr: addr, Presented: key, msg: fmt.Sprintf(
					"host key verification failed for %s: the server presented %s, which %s:%d marks as @revoked",
					addr, keyDescription(key), revoked.Revoked.Filename, revoked.Revoked.Line)}
			default:
				return &HostKeyError{Addr: addr, Presented: key, msg: fmt.Sprintf(
					"host key verification failed for %s (server presented %s): %v", addr, keyDescription(key), err)}
			}
		},
		algorithms: func(addr string, remote net.Addr) []string { return knownAlgorithms(cb, addr, remote) },
	}, nil
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
// (library default) when the host has no plain-key entries, e.g. only a
// @cert-authority line.
func knownAlgorithms(cb ssh.HostKeyCallback, addr string, remote net.Addr) []string {
	var keyErr *knownhosts.KeyError
	if err := cb(addr, remote, probeKey); !errors.As(err, &keyErr) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range keyErr.Want {
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
			"Add it (e.g. %s >> %s, after checking the fingerprint), set host_key, or set insecure_ignore_host_key = true",
		addr, file, why, keyDescription(key), scan, file)}
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
