package sshconn

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keyOffer is the private key from the configuration, with its certificate.
type keyOffer struct {
	source string        // names the setting in messages, never the content
	pub    ssh.PublicKey // always known
	signer ssh.Signer    // nil when the key is encrypted and no passphrase was given
	// encrypted is the error to report when signer is nil and the agent
	// does not hold the key either.
	encrypted error
	// cert is an identity file's FILE-cert.pub, when it certifies it.
	cert *certOffer
}

// certOffer is a user certificate and where it came from.
type certOffer struct {
	source string
	cert   *ssh.Certificate
}

// loadKey reads the configured private key; nil when none is configured.
func loadKey(cfg Config) (*keyOffer, error) {
	var (
		pemBytes []byte
		source   string
	)
	switch {
	case cfg.PrivateKey != "" && cfg.PrivateKeyFile != "":
		return nil, errors.New("ssh: both private_key and private_key_file are set: keep one")
	case cfg.PrivateKey != "":
		pemBytes, source = []byte(cfg.PrivateKey), "private_key"
	case cfg.PrivateKeyFile != "":
		b, err := os.ReadFile(cfg.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("ssh: read private_key_file: %w", err)
		}
		pemBytes, source = b, "private_key_file "+cfg.PrivateKeyFile
	default:
		if cfg.PrivateKeyPassphrase != "" && cfg.Certificate == "" && cfg.defaultKeys[0] == "" {
			return nil, errors.New("ssh: private_key_passphrase is set but there is no private key: set private_key or private_key_file, or drop the passphrase")
		}
		return nil, nil
	}
	if strings.HasPrefix(strings.TrimSpace(string(pemBytes)), "ssh-") {
		return nil, fmt.Errorf("ssh: %s holds a public key; it needs the private key (the file without .pub)", source)
	}

	var (
		signer ssh.Signer
		err    error
	)
	if cfg.PrivateKeyPassphrase != "" {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pemBytes, []byte(cfg.PrivateKeyPassphrase))
		if err != nil && !isPassphraseError(err) {
			// Not an encrypted key after all? A passphrase set as a
			// provider default may be meant for another key.
			if s, err2 := ssh.ParsePrivateKey(pemBytes); err2 == nil {
				signer, err = s, nil
			}
		}
	} else {
		signer, err = ssh.ParsePrivateKey(pemBytes)
	}
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return &keyOffer{source: source, pub: signer.PublicKey(), signer: signer}, nil
	case errors.As(err, &missing):
		pub := missing.PublicKey
		if pub == nil && cfg.PrivateKeyFile != "" {
			// Legacy PEM encryption hides the public key; ssh-keygen
			// writes it beside the key.
			if b, err := os.ReadFile(cfg.PrivateKeyFile + ".pub"); err == nil {
				pub, _, _, _, _ = ssh.ParseAuthorizedKey(b)
			}
		}
		encErr := fmt.Errorf("ssh: private key is encrypted: set private_key_passphrase (the key in %s is protected by a passphrase)", source)
		if pub == nil {
			return nil, encErr
		}
		// The agent may hold it unlocked, as with OpenSSH; decided at dial.
		return &keyOffer{source: source, pub: pub, encrypted: encErr}, nil
	case isPassphraseError(err):
		return nil, fmt.Errorf("ssh: private_key_passphrase does not decrypt the key in %s: check the passphrase", source)
	default:
		// The parser's errors describe the format, not the content.
		return nil, fmt.Errorf("ssh: parse %s: %w: it must be a private key in OpenSSH or PEM format", source, err)
	}
}

func isPassphraseError(err error) bool {
	return errors.Is(err, x509.IncorrectPasswordError) || strings.Contains(err.Error(), "decryption password incorrect")
}

// isCertContent tells certificate content from a path to it.
func isCertContent(s string) bool {
	f := strings.Fields(s)
	return len(f) >= 2 && strings.HasSuffix(f[0], "-cert-v01@openssh.com")
}

// loadCert reads the configured certificate, or PRIVATE_KEY_FILE-cert.pub
// when none is configured. It returns notes on an automatic certificate
// that was skipped; errors only for a configured one.
func loadCert(cfg Config, now time.Time) (*certOffer, []string, error) {
	if cfg.Certificate == "" {
		if cfg.PrivateKeyFile == "" {
			return nil, nil, nil
		}
		path := cfg.PrivateKeyFile + "-cert.pub"
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, []string{fmt.Sprintf("%s not used: %v", path, err)}, nil
		}
		c, err := parseCert(b, path, now)
		if err != nil {
			return nil, []string{fmt.Sprintf("%s not used: %v", path, strings.TrimPrefix(err.Error(), "ssh: "))}, nil
		}
		return c, nil, nil
	}
	content, source := []byte(cfg.Certificate), "certificate"
	if !isCertContent(cfg.Certificate) {
		b, err := os.ReadFile(cfg.Certificate)
		if err != nil {
			return nil, nil, fmt.Errorf("ssh: read certificate: %w", err)
		}
		content, source = b, "certificate "+cfg.Certificate
	}
	c, err := parseCert(content, source, now)
	return c, nil, err
}

func parseCert(b []byte, source string, now time.Time) (*certOffer, error) {
	if bytes.Contains(b, []byte("PRIVATE KEY")) {
		return nil, fmt.Errorf("ssh: %s holds a private key; it needs the OpenSSH certificate (KEY-cert.pub, written by ssh-keygen -s)", source)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil, fmt.Errorf("ssh: parse %s: %w: it must be an OpenSSH certificate as ssh-keygen -s writes it (\"ssh-ed25519-cert-v01@openssh.com AAAA...\")", source, err)
	}
	cert, ok := pub.(*ssh.Certificate)
	if !ok {
		return nil, fmt.Errorf("ssh: %s holds a plain public key (%s), not a certificate: sign it with ssh-keygen -s CA_KEY -I ID -n USER KEY.pub and use KEY-cert.pub", source, keyDescription(pub))
	}
	if cert.CertType != ssh.UserCert {
		return nil, fmt.Errorf("ssh: %s is a host certificate; logging in needs a user certificate (ssh-keygen -s without -h)", source)
	}
	unix := uint64(now.Unix())
	if unix < cert.ValidAfter {
		return nil, fmt.Errorf("ssh: %s is not valid until %s", source, time.Unix(int64(cert.ValidAfter), 0).UTC().Format(time.RFC3339))
	}
	if cert.ValidBefore != ssh.CertTimeInfinity && unix >= cert.ValidBefore {
		return nil, fmt.Errorf("ssh: %s expired at %s: have it signed again", source, time.Unix(int64(cert.ValidBefore), 0).UTC().Format(time.RFC3339))
	}
	return &certOffer{source: source, cert: cert}, nil
}

// authPlan is the authentication settings for one hop, checked before
// any network traffic.
type authPlan struct {
	user     string
	key      *keyOffer  // nil: none configured
	cert     *certOffer // nil: none
	password string
	// defaults are the key files of Config.IdentityFiles, else the
	// default key files (Config.defaultKeys), that load: tried after the
	// agent's keys when no key is configured, as ssh does. An encrypted
	// one without a passphrase serves only through the agent's copy.
	defaults []*keyOffer
	// identitiesOnly: offer agent keys only when they are configured ones.
	identitiesOnly bool
	socket         string // ssh-agent socket; "" when not used
	required       bool   // agent = true: an unreachable agent is an error
	identity       string
	notes          []string
}

func planAuth(cfg Config) (*authPlan, error) {
	p := &authPlan{user: cfg.User, password: cfg.Password, socket: cfg.AgentSocket,
		required: cfg.Agent == AgentOn, identity: cfg.AgentIdentity, identitiesOnly: cfg.IdentitiesOnly}
	var err error
	if p.key, err = loadKey(cfg); err != nil {
		return nil, err
	}
	if p.cert, p.notes, err = loadCert(cfg, time.Now()); err != nil {
		return nil, err
	}
	if p.cert != nil && p.key != nil && !bytes.Equal(p.cert.cert.Key.Marshal(), p.key.pub.Marshal()) {
		if cfg.Certificate == "" { // automatic: skip it, as ssh does
			p.notes = append(p.notes, fmt.Sprintf("%s not used: it certifies %s, not the private key (%s)", p.cert.source, keyDescription(p.cert.cert.Key), keyDescription(p.key.pub)))
			p.cert = nil
		} else {
			return nil, fmt.Errorf("ssh: %s certifies %s, but the private key (%s) is %s: use the certificate issued for this key",
				p.cert.source, keyDescription(p.cert.cert.Key), p.key.source, keyDescription(p.key.pub))
		}
	}
	if p.key == nil {
		p.loadIdentities(cfg)
	}
	if p.key == nil && p.cert == nil && p.password == "" && p.socket == "" && len(p.defaults) == 0 {
		msg := "ssh: no authentication method: set private_key, private_key_file or password, run an ssh-agent (SSH_AUTH_SOCK), " +
			"or keep a key in ~/.ssh (id_ed25519, id_ecdsa or id_rsa)"
		if len(p.notes) > 0 {
			msg += " (" + strings.Join(p.notes, "; ") + ")"
		}
		return nil, errors.New(msg)
	}
	if p.key != nil && p.key.signer == nil && p.socket == "" {
		return nil, p.key.encrypted
	}
	if p.cert != nil && p.key == nil && p.socket == "" && p.identitySigner(p.cert.cert.Key) == nil {
		return nil, fmt.Errorf("ssh: %s needs the private key it certifies (%s): set private_key or private_key_file, or load the key into ssh-agent", p.cert.source, keyDescription(p.cert.cert.Key))
	}
	return p, nil
}

// loadIdentities loads cfg.IdentityFiles, else the default key files,
// each with its FILE-cert.pub when that certifies it. A file that is
// missing or unusable is a note (ssh skips it too), not an error.
func (p *authPlan) loadIdentities(cfg Config) {
	files, label := cfg.IdentityFiles, "IdentityFile "
	if len(files) == 0 {
		files, label = cfg.defaultKeys[:], ""
	}
	for _, f := range files {
		if f == "" {
			break
		}
		if _, err := os.Stat(f); err != nil && label != "" {
			p.notes = append(p.notes, fmt.Sprintf("%s%s not used: %v", label, f, errors.Unwrap(err)))
			continue
		}
		kc := cfg
		kc.PrivateKey, kc.PrivateKeyFile, kc.Certificate = "", f, ""
		k, err := loadKey(kc)
		switch {
		case err != nil:
			p.notes = append(p.notes, fmt.Sprintf("%s%s not used: %s", label, f, strings.TrimPrefix(err.Error(), "ssh: ")))
			continue
		case k.signer == nil && p.socket == "":
			p.notes = append(p.notes, fmt.Sprintf("%s%s not used: it is encrypted; set private_key_file and private_key_passphrase, "+
				"or load it into ssh-agent", label, f))
			continue
		}
		if label != "" {
			k.source = label + f
			if c, _, _ := loadCert(kc, time.Now()); c != nil && bytes.Equal(c.cert.Key.Marshal(), k.pub.Marshal()) {
				k.cert = c
			}
		}
		p.defaults = append(p.defaults, k)
	}
}

// identitySigner is the loaded identity file's signer for pub, if any.
func (p *authPlan) identitySigner(pub ssh.PublicKey) ssh.Signer {
	for _, k := range p.defaults {
		if k.signer != nil && bytes.Equal(k.pub.Marshal(), pub.Marshal()) {
			return k.signer
		}
	}
	return nil
}

// configured reports whether pub (or the key a certificate certifies) is
// one of the configured keys, for IdentitiesOnly.
func (p *authPlan) configured(pub ssh.PublicKey) bool {
	if c, ok := pub.(*ssh.Certificate); ok {
		pub = c.Key
	}
	want := pub.Marshal()
	if p.key != nil && bytes.Equal(p.key.pub.Marshal(), want) {
		return true
	}
	if p.cert != nil && bytes.Equal(p.cert.cert.Key.Marshal(), want) {
		return true
	}
	for _, k := range p.defaults {
		if bytes.Equal(k.pub.Marshal(), want) {
			return true
		}
	}
	return false
}

// authSession is an authPlan made concrete for one dial: the agent is
// connected and the signers are ordered. Close it after the handshake.
type authSession struct {
	methods []ssh.AuthMethod
	offered []string // what is offered, in order, for errors
	notes   []string
	agent   net.Conn
}

func (s *authSession) Close() {
	if s.agent != nil {
		s.agent.Close()
	}
}

type offer struct {
	signer ssh.Signer
	desc   string
}

// open connects to the agent and orders the keys as OpenSSH's ssh does
// (sshconnect2.c, pubkey_prepare): configured certificates first, then
// agent keys that are also configured, then the other agent keys, then
// configured keys the agent lacks; then keyboard-interactive and password.
func (p *authPlan) open() (*authSession, error) {
	s := &authSession{notes: append([]string(nil), p.notes...)}
	var agentOffers []offer
	if p.socket != "" {
		conn, offers, err := agentSigners(p.socket, p.identity)
		switch {
		case err != nil && (p.required || p.identity != ""):
			return nil, err
		case err != nil:
			s.notes = append(s.notes, strings.TrimPrefix(err.Error(), "ssh: ")+" (agent not used)")
		default:
			s.agent, agentOffers = conn, offers
		}
	}
	inAgent := func(pub ssh.PublicKey) ssh.Signer {
		for _, o := range agentOffers {
			if bytes.Equal(o.signer.PublicKey().Marshal(), pub.Marshal()) {
				return o.signer
			}
		}
		return nil
	}

	var offers []offer
	used := map[string]bool{}
	add := func(o offer) {
		k := string(o.signer.PublicKey().Marshal())
		if !used[k] {
			used[k] = true
			offers = append(offers, o)
		}
	}
	// The signer for the configured key: the agent's copy first (an
	// encrypted key then needs no passphrase, as with OpenSSH).
	var keySigner ssh.Signer
	var keyDesc string
	if p.key != nil {
		if a := inAgent(p.key.pub); a != nil {
			keySigner, keyDesc = a, fmt.Sprintf("%s via ssh-agent (%s)", p.key.source, keyDescription(p.key.pub))
		} else if p.key.signer != nil {
			keySigner, keyDesc = p.key.signer, fmt.Sprintf("%s (%s)", p.key.source, keyDescription(p.key.pub))
		} else {
			s.Close()
			return nil, p.key.encrypted
		}
	}
	if p.cert != nil {
		base := keySigner
		if base == nil {
			base = inAgent(p.cert.cert.Key)
		}
		if base == nil {
			base = p.identitySigner(p.cert.cert.Key)
		}
		if base == nil {
			s.Close()
			return nil, fmt.Errorf("ssh: %s needs the private key it certifies (%s), which is neither configured nor in ssh-agent: set private_key or private_key_file", p.cert.source, keyDescription(p.cert.cert.Key))
		}
		cs, err := ssh.NewCertSigner(p.cert.cert, base)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("ssh: %s: %w", p.cert.source, err)
		}
		add(offer{cs, fmt.Sprintf("%s (%s, key id %q, principals %s)", p.cert.source, keyDescription(p.cert.cert.Key), p.cert.cert.KeyId, principals(p.cert.cert))})
	}
	if keySigner != nil && keySigner != p.key.signer {
		add(offer{keySigner, keyDesc})
	}
	// Configured identities: their certificates, then those the agent
	// holds (its copy), in the configuration's order.
	for _, k := range p.defaults {
		if k.cert == nil {
			continue
		}
		base := inAgent(k.pub)
		if base == nil {
			base = k.signer
		}
		if base == nil {
			continue
		}
		if cs, err := ssh.NewCertSigner(k.cert.cert, base); err == nil {
			add(offer{cs, fmt.Sprintf("%s (%s, key id %q)", k.cert.source, keyDescription(k.pub), k.cert.cert.KeyId)})
		}
	}
	for _, k := range p.defaults {
		if a := inAgent(k.pub); a != nil {
			add(offer{a, fmt.Sprintf("%s via ssh-agent (%s)", k.source, keyDescription(k.pub))})
		}
	}
	for _, o := range agentOffers {
		if !p.identitiesOnly || p.configured(o.signer.PublicKey()) {
			add(o)
		}
	}
	if keySigner != nil && keySigner == p.key.signer {
		add(offer{keySigner, keyDesc})
	}
	for _, k := range p.defaults { // encrypted ones were offered by the agent, if it holds them
		if k.signer != nil {
			add(offer{k.signer, fmt.Sprintf("%s (%s)", k.source, keyDescription(k.pub))})
		}
	}

	if len(offers) > 0 {
		signers := make([]ssh.Signer, len(offers))
		for i, o := range offers {
			signers[i] = o.signer
			s.offered = append(s.offered, "publickey "+o.desc)
		}
		s.methods = append(s.methods, ssh.PublicKeys(signers...))
	}
	if p.password != "" {
		pw := p.password
		s.methods = append(s.methods,
			ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				// Answer hidden prompts (the password prompt) with the
				// password; visible ones get an empty answer rather than
				// an error, which would abort the whole login.
				answers := make([]string, len(questions))
				for i := range questions {
					if !echos[i] {
						answers[i] = pw
					}
				}
				return answers, nil
			}),
			ssh.Password(pw))
		s.offered = append(s.offered, "keyboard-interactive with password", "password")
	}
	if len(s.methods) == 0 {
		s.Close()
		msg := "ssh: no authentication method: set private_key, private_key_file or password"
		if len(s.notes) > 0 {
			msg += " (" + strings.Join(s.notes, "; ") + ")"
		}
		if p.socket != "" && len(agentOffers) == 0 {
			msg += "; the ssh-agent holds no usable key (ssh-add KEY adds one)"
		}
		return nil, errors.New(msg)
	}
	return s, nil
}

// agentSigners connects to the agent and returns its keys in its order,
// or only the one identity names.
func agentSigners(socket, identity string) (net.Conn, []offer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	conn, err := dialAgent(ctx, socket)
	cancel()
	if err != nil {
		return nil, nil, fmt.Errorf("ssh: cannot reach ssh-agent at %s: %w: start it (and set SSH_AUTH_SOCK to it, unless it is Windows' "+
			"OpenSSH agent service), or set agent = false", socket, err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	client := agent.NewClient(conn)
	keys, err := client.List()
	var signers []ssh.Signer
	if err == nil {
		signers, err = client.Signers()
	}
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("ssh: list keys in ssh-agent at %s: %w", socket, err)
	}
	_ = conn.SetDeadline(time.Time{}) // signing happens during the handshake, bounded there
	comments := map[string]string{}
	for _, k := range keys {
		comments[string(k.Marshal())] = k.Comment
	}
	var offers []offer
	var all []string
	for _, sg := range signers {
		pub := sg.PublicKey()
		comment := comments[string(pub.Marshal())]
		desc := fmt.Sprintf("ssh-agent key %q (%s)", comment, keyDescription(pub))
		all = append(all, desc)
		if identity == "" || matchesIdentity(identity, pub, comment) {
			offers = append(offers, offer{sg, desc})
		}
	}
	if identity != "" && len(offers) == 0 {
		conn.Close()
		have := "it holds no keys (ssh-add KEY adds one)"
		if len(all) > 0 {
			have = "it holds " + strings.Join(all, ", ")
		}
		return nil, nil, fmt.Errorf("ssh: agent_identity %q matches no key in ssh-agent at %s: %s. Use a key's comment or its SHA256: fingerprint (ssh-add -l lists them)", identity, socket, have)
	}
	return conn, offers, nil
}

// matchesIdentity: the identity is the key's comment, its fingerprint
// (SHA256:... or MD5, with or without "MD5:"), or the public key itself.
// A certificate also matches by its certified key's fingerprint.
func matchesIdentity(identity string, pub ssh.PublicKey, comment string) bool {
	id := strings.TrimSpace(identity)
	if id == comment {
		return true
	}
	keys := []ssh.PublicKey{pub}
	if c, ok := pub.(*ssh.Certificate); ok {
		keys = append(keys, c.Key)
	}
	for _, k := range keys {
		if id == ssh.FingerprintSHA256(k) || strings.TrimPrefix(id, "MD5:") == ssh.FingerprintLegacyMD5(k) {
			return true
		}
		if p, _, _, _, err := ssh.ParseAuthorizedKey([]byte(id)); err == nil && bytes.Equal(p.Marshal(), k.Marshal()) {
			return true
		}
	}
	return false
}

func principals(c *ssh.Certificate) string {
	if len(c.ValidPrincipals) == 0 {
		return "any"
	}
	return "[" + strings.Join(c.ValidPrincipals, ",") + "]"
}

// keyDescription identifies a key in errors by type and fingerprint only.
func keyDescription(k ssh.PublicKey) string {
	if c, ok := k.(*ssh.Certificate); ok {
		return c.Type() + " " + ssh.FingerprintSHA256(c.Key)
	}
	return k.Type() + " " + ssh.FingerprintSHA256(k)
}
