package sshconn

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// SSHConfigWarning is a line of the configuration whose effect the
// connection will not have, and why.
type SSHConfigWarning struct {
	SSHConfigValue
	Why string
}

// unsupported are the keywords that change where or how ssh connects and
// that we do not reproduce, with the values that change nothing (the
// defaults) and what we do instead.
var unsupported = map[string]struct {
	harmless []string
	why      string
}{
	"proxycommand":                    {[]string{"none"}, "this provider does not run proxy commands; use ProxyJump (or the bastion attribute)"},
	"proxyusefdpass":                  {[]string{"no"}, "this provider does not run proxy commands"},
	"localforward":                    {nil, "port forwardings are not set up"},
	"remoteforward":                   {nil, "port forwardings are not set up"},
	"dynamicforward":                  {nil, "port forwardings are not set up"},
	"bindaddress":                     {nil, "the connection is made from the default source address"},
	"bindinterface":                   {nil, "the connection is made from the default interface"},
	"addressfamily":                   {[]string{"any"}, "the connection uses any address family"},
	"canonicalizehostname":            {[]string{"no"}, "host names are not canonicalized"},
	"knownhostscommand":               {[]string{"none"}, "no command is run; only known_hosts files are read"},
	"pkcs11provider":                  {[]string{"none"}, "PKCS#11 keys are not used (load them into ssh-agent instead)"},
	"securitykeyprovider":             {[]string{"internal"}, "security keys are not used"},
	"tunnel":                          {[]string{"no"}, "no tunnel device is set up"},
	"remotecommand":                   {[]string{"none"}, "the remote command is rsync"},
	"controlmaster":                   {[]string{"no"}, "connections are not multiplexed over an ssh control master; the provider opens its own"},
	"ciphers":                         {nil, "x/crypto/ssh's default algorithms are used"},
	"macs":                            {nil, "x/crypto/ssh's default algorithms are used"},
	"kexalgorithms":                   {nil, "x/crypto/ssh's default algorithms are used"},
	"hostkeyalgorithms":               {nil, "the host key algorithms follow the known keys"},
	"pubkeyacceptedalgorithms":        {nil, "x/crypto/ssh's default algorithms are used"},
	"pubkeyacceptedkeytypes":          {nil, "x/crypto/ssh's default algorithms are used"},
	"preferredauthentications":        {nil, "keys are tried first, then keyboard-interactive and password"},
	"pubkeyauthentication":            {[]string{"yes"}, "public keys are still offered"},
	"hostbasedauthentication":         {[]string{"no"}, "host-based authentication is not used"},
	"gssapiauthentication":            {[]string{"no"}, "GSSAPI (Kerberos) authentication is not used"},
	"verifyhostkeydns":                {[]string{"no"}, "SSHFP records are not consulted"},
	"connectionattempts":              {[]string{"1"}, "one attempt is made (see connect_retry_timeout)"},
	"passwordauthentication":          {[]string{"yes"}, "a password is tried only when the password attribute is set"},
	"kbdinteractiveauthentication":    {[]string{"yes"}, "keyboard-interactive is tried only when the password attribute is set"},
	"challengeresponseauthentication": {[]string{"yes"}, "keyboard-interactive is tried only when the password attribute is set"},
}

// maxJumps bounds ProxyJump chains, as maxHops bounds bastions.
const maxJumps = maxHops - 1

// Apply fills the settings cfg leaves unset (zero) from what the
// configuration says for cfg.Host, an alias or a host name: explicit
// settings win, as command-line options win over the file in ssh. It
// returns the warnings for the lines that apply to the host but whose
// effect the connection will not have. cfg.Origin lists each setting
// taken from the file and where it was written.
func (c *SSHConfig) Apply(cfg Config) (Config, []SSHConfigWarning, error) {
	var warns []SSHConfigWarning
	var origin []string
	out, err := c.apply(cfg, 0, &warns, &origin)
	if err != nil {
		return cfg, warns, err
	}
	if len(origin) > 0 {
		out.Origin = c.path + ": " + strings.Join(origin, "; ")
	}
	return out, dedupe(warns), nil
}

func dedupe(ws []SSHConfigWarning) []SSHConfigWarning {
	seen := map[string]bool{}
	var out []SSHConfigWarning
	for _, w := range ws {
		k := w.Where() + w.Keyword
		if !seen[k] {
			seen[k] = true
			out = append(out, w)
		}
	}
	return out
}

func (c *SSHConfig) apply(cfg Config, depth int, warns *[]SSHConfigWarning, origin *[]string) (Config, error) {
	explicit := cfg
	alias := cfg.Host
	h := c.Lookup(alias, cfg.User)
	for _, n := range h.Notes {
		*warns = append(*warns, SSHConfigWarning{n, "only the Match criteria host, originalhost, user, localuser and all are evaluated: this block is skipped, where ssh might apply it"})
	}
	for k, vs := range h.values {
		u, ok := unsupported[k]
		if !ok {
			continue
		}
		for _, v := range vs {
			if !contains(u.harmless, strings.ToLower(v.Value)) {
				*warns = append(*warns, SSHConfigWarning{v, u.why})
			}
		}
	}
	get := func(kw string) (SSHConfigValue, bool) {
		v, ok := h.Get(kw)
		if ok {
			*origin = append(*origin, fmt.Sprintf("%s%s %s from %s", hopLabel(depth, alias), v.Keyword, v.Value, v.Where()))
		}
		return v, ok
	}
	bad := func(v SSHConfigValue, why string) error {
		return fmt.Errorf("ssh_config %s: %s %s: %s", v.Where(), v.Keyword, v.Value, why)
	}

	if v, ok := get("HostName"); ok {
		host, err := expandTokens(v.Value, map[byte]string{'h': alias})
		if err != nil {
			return cfg, bad(v, err.Error())
		}
		cfg.Host = host
	}
	if v, ok := h.Get("Port"); ok && cfg.Port == 0 {
		get("Port")
		p, err := strconv.Atoi(v.Value)
		if err != nil || p < 1 || p > 65535 {
			return cfg, bad(v, "not a port number (1-65535)")
		}
		cfg.Port = p
	}
	if v, ok := h.Get("User"); ok && cfg.User == "" {
		get("User")
		u, err := expandTokens(v.Value, map[byte]string{'u': localUser(), 'h': cfg.Host, 'n': alias})
		if err != nil {
			return cfg, bad(v, err.Error())
		}
		cfg.User = u
	}
	// Path tokens need the final host, port and user.
	tok := map[byte]string{'h': cfg.Host, 'n': alias, 'u': localUser(), 'r': cfg.User, 'p': "22", 'd': c.home, 'l': localHost()}
	if cfg.User == "" {
		tok['r'] = localUser()
	}
	if cfg.Port != 0 {
		tok['p'] = strconv.Itoa(cfg.Port)
	}
	path := func(v SSHConfigValue, arg string) (string, error) {
		s, err := expandTokens(os.Expand(arg, envBraces(arg)), tok)
		if err != nil {
			return "", bad(v, err.Error())
		}
		return expandHome(s)
	}

	if cfg.PrivateKey == "" && cfg.PrivateKeyFile == "" && len(cfg.IdentityFiles) == 0 {
		for _, v := range h.GetAll("IdentityFile") {
			if strings.EqualFold(v.Value, "none") {
				continue
			}
			p, err := path(v, v.Value)
			if err != nil {
				return cfg, err
			}
			*origin = append(*origin, fmt.Sprintf("%sIdentityFile %s from %s", hopLabel(depth, alias), v.Value, v.Where()))
			cfg.IdentityFiles = append(cfg.IdentityFiles, p)
		}
	}
	if v, ok := h.Get("CertificateFile"); ok && cfg.Certificate == "" && !strings.EqualFold(v.Value, "none") {
		get("CertificateFile")
		p, err := path(v, v.Value)
		if err != nil {
			return cfg, err
		}
		cfg.Certificate = p
	}
	if v, ok := h.Get("IdentitiesOnly"); ok && yes(v.Value) {
		get("IdentitiesOnly")
		cfg.IdentitiesOnly = true
	}
	if v, ok := h.Get("IdentityAgent"); ok && cfg.Agent != AgentOff && cfg.AgentSocket == "" {
		get("IdentityAgent")
		switch val := v.Value; {
		case strings.EqualFold(val, "none"):
			if cfg.Agent == AgentAuto {
				cfg.Agent = AgentOff
			}
		case val == "SSH_AUTH_SOCK":
		case strings.HasPrefix(val, "$"):
			cfg.AgentSocket = os.Getenv(strings.Trim(val[1:], "{}"))
		default:
			p, err := path(v, val)
			if err != nil {
				return cfg, err
			}
			cfg.AgentSocket = p
		}
	}

	if cfg.HostKey == "" && !cfg.InsecureIgnoreHostKey {
		// An explicit known_hosts_file replaces UserKnownHostsFile.
		if v, ok := h.Get("UserKnownHostsFile"); ok && explicit.KnownHostsFile == "" {
			get("UserKnownHostsFile")
			for _, arg := range splitArgs(v.Value) {
				if strings.EqualFold(arg, "none") {
					continue
				}
				p, err := path(v, arg)
				if err != nil {
					return cfg, err
				}
				if cfg.KnownHostsFile == "" {
					cfg.KnownHostsFile = p // new keys are recorded in the first
				} else {
					cfg.ExtraKnownHostsFiles = append(cfg.ExtraKnownHostsFiles, p)
				}
			}
		}
		if v, ok := get("GlobalKnownHostsFile"); ok {
			for _, arg := range splitArgs(v.Value) {
				if strings.EqualFold(arg, "none") {
					continue
				}
				p, err := path(v, arg)
				if err != nil {
					return cfg, err
				}
				cfg.ExtraKnownHostsFiles = append(cfg.ExtraKnownHostsFiles, p)
			}
		}
		if v, ok := get("StrictHostKeyChecking"); ok {
			switch strings.ToLower(v.Value) {
			case "yes", "ask":
				// ask never prompts here: an unknown host fails, as with yes.
			case "accept-new":
				cfg.AcceptNewHostKeys = true
			case "no", "off":
				cfg.InsecureIgnoreHostKey = true
				*warns = append(*warns, SSHConfigWarning{v, "host keys are not verified for this host (as insecure_ignore_host_key = true): " +
					"anyone on the path can intercept the connection; use accept-new to record the key on first use instead"})
			default:
				return cfg, bad(v, "must be yes, accept-new, no or ask")
			}
		}
		if v, ok := get("HostKeyAlias"); ok && cfg.HostKeyAlias == "" {
			cfg.HostKeyAlias = v.Value
		}
	}

	if v, ok := h.Get("ConnectTimeout"); ok && cfg.Timeout == 0 && !strings.EqualFold(v.Value, "none") {
		get("ConnectTimeout")
		n, err := strconv.Atoi(v.Value)
		if err != nil || n < 0 {
			return cfg, bad(v, "not a number of seconds")
		}
		cfg.Timeout = time.Duration(n) * time.Second
	}
	if v, ok := h.Get("ServerAliveInterval"); ok && cfg.KeepaliveInterval == 0 {
		get("ServerAliveInterval")
		n, err := strconv.Atoi(v.Value)
		if err != nil || n < 0 {
			return cfg, bad(v, "not a number of seconds")
		}
		cfg.KeepaliveInterval = time.Duration(n) * time.Second
		if n == 0 {
			cfg.KeepaliveInterval = -1 // ssh: 0 turns keepalives off
		}
	}
	if v, ok := h.Get("ServerAliveCountMax"); ok && cfg.KeepaliveCountMax == 0 {
		get("ServerAliveCountMax")
		n, err := strconv.Atoi(v.Value)
		if err != nil || n < 1 {
			return cfg, bad(v, "not a positive number")
		}
		cfg.KeepaliveCountMax = n
	}

	if v, ok := h.Get("ProxyJump"); ok && cfg.Bastion == nil && !strings.EqualFold(v.Value, "none") {
		get("ProxyJump")
		jumps := strings.Split(v.Value, ",")
		if depth+len(jumps) > maxJumps {
			return cfg, bad(v, fmt.Sprintf("more than %d jump hosts in all: is the ProxyJump chain a loop?", maxJumps))
		}
		var via *Config
		for i, spec := range jumps {
			hop, err := parseJump(strings.TrimSpace(spec))
			if err != nil {
				return cfg, bad(v, err.Error())
			}
			// Only the first jump host's own ProxyJump applies, as in ssh
			// (the later ones are reached through the earlier ones).
			hop.Bastion = via
			if i == 0 {
				hop.Bastion = nil
			}
			hop, err = c.apply(hop, depth+1+i, warns, origin)
			if err != nil {
				return cfg, err
			}
			hop = inheritJump(hop, explicit)
			via = &hop
		}
		cfg.Bastion = via
	}
	return cfg, nil
}

// inheritJump gives a jump host what the explicit settings say that its
// own configuration does not, as the bastion attribute does: user,
// credentials (when it has no IdentityFile), agent, known_hosts file,
// timeouts. Never the host key: it describes one host.
func inheritJump(hop, explicit Config) Config {
	if hop.User == "" {
		hop.User = explicit.User
	}
	if hop.PrivateKey == "" && hop.PrivateKeyFile == "" && len(hop.IdentityFiles) == 0 {
		hop.PrivateKey, hop.PrivateKeyFile, hop.PrivateKeyPassphrase = explicit.PrivateKey, explicit.PrivateKeyFile, explicit.PrivateKeyPassphrase
		if hop.Certificate == "" {
			hop.Certificate = explicit.Certificate
		}
	}
	if hop.Password == "" {
		hop.Password = explicit.Password
	}
	if hop.Agent == AgentAuto {
		hop.Agent = explicit.Agent
	}
	if hop.AgentSocket == "" {
		hop.AgentSocket = explicit.AgentSocket
	}
	if hop.AgentIdentity == "" {
		hop.AgentIdentity = explicit.AgentIdentity
	}
	if hop.KnownHostsFile == "" && hop.HostKey == "" && !hop.InsecureIgnoreHostKey {
		hop.KnownHostsFile = explicit.KnownHostsFile
	}
	if hop.Timeout == 0 {
		hop.Timeout = explicit.Timeout
	}
	if hop.KeepaliveInterval == 0 {
		hop.KeepaliveInterval = explicit.KeepaliveInterval
	}
	if hop.ConnectRetryTimeout == 0 {
		hop.ConnectRetryTimeout = explicit.ConnectRetryTimeout
	}
	return hop
}

// parseJump parses one ProxyJump entry: [user@]host[:port] or
// ssh://[user@]host[:port].
func parseJump(s string) (Config, error) {
	s = strings.TrimPrefix(s, "ssh://")
	var c Config
	if at := strings.LastIndex(s, "@"); at >= 0 {
		c.User, s = s[:at], s[at+1:]
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.Count(s, ":") == 1 {
		return c, fmt.Errorf("%q is not host or host:port", s)
	}
	if host == "" {
		return c, fmt.Errorf("jump host %q has no host name", s)
	}
	c.Host = strings.Trim(host, "[]")
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return c, fmt.Errorf("jump host %q: port %q is not 1-65535", s, port)
		}
		c.Port = p
	}
	return c, nil
}

func hopLabel(depth int, alias string) string {
	if depth == 0 {
		return ""
	}
	return "jump host " + alias + ": "
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func yes(s string) bool { return strings.EqualFold(s, "yes") || strings.EqualFold(s, "true") }

// expandTokens expands ssh_config's %-tokens that are in t (and %%); any
// other token is an error, as in ssh.
func expandTokens(s string, t map[byte]string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%q ends with a lone %%", s)
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
			continue
		}
		v, ok := t[s[i]]
		if !ok {
			return "", fmt.Errorf("the token %%%c is not supported here", s[i])
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// envBraces maps ${VAR} to the environment and leaves $VAR alone, which
// ssh_config does not expand.
func envBraces(s string) func(string) string {
	return func(name string) string {
		if strings.Contains(s, "${"+name+"}") {
			return os.Getenv(name)
		}
		return "$" + name
	}
}

func localUser() string {
	u, err := currentUser()
	if err != nil {
		return ""
	}
	return u
}

func localHost() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	}
	return h
}
