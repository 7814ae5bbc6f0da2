package sshconn

// OpenSSH client configuration (ssh_config(5)): ~/.ssh/config or another
// file, read as ssh reads it, so that a destination may be a Host alias
// with its HostName, User, Port, IdentityFile, ProxyJump and host-key
// settings.
//
// github.com/kevinburke/ssh_config parses each file (lexing, quoting, Host
// patterns with * ? and ! negation, Match host/all, positions). Its own
// lookups (Get/GetAll) are not used: they cannot say which file a value
// came from and search an Include's files in map order; we walk the parsed
// blocks ourselves, in file order, and do the Includes ourselves, so every
// value carries its file, line and block; and we evaluate Match lines
// ourselves (host, originalhost, user, localuser, all), as ssh does.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// SSHConfig is a parsed ssh_config file with the files it includes.
type SSHConfig struct {
	path  string
	home  string // for ~ and relative Include paths
	root  *configFile
	notes []SSHConfigValue // unsupported Match lines: their blocks never match
}

type configFile struct {
	path string
	cfg  *ssh_config.Config
	// includes are the files each Include line names, in order.
	includes map[*ssh_config.KV][]*configFile
	// matches are the Match lines, which we evaluate (prepare turns each
	// into "Host <matchPrefix><line>"), by that pattern.
	matches map[string]*matchSpec
}

// matchPrefix marks the Host line that stands for a Match line.
const matchPrefix = "__rsync_match_line_"

// matchSpec is a Match line: its criteria, all of which must hold.
type matchSpec struct {
	text        string // "Match host web*,db* user deploy", for messages
	criteria    [][2]string
	unsupported bool // a criterion we cannot evaluate: the block never applies
}

// matchState is what Match criteria are evaluated against: the host name
// as written, the HostName and User obtained so far (ssh evaluates Match
// in file order), the local user.
type matchState struct {
	alias, hostName, user, localUser string
}

func (m *matchSpec) matches(st matchState) bool {
	if m.unsupported {
		return false
	}
	for _, c := range m.criteria {
		var subject string
		switch c[0] {
		case "all":
			continue
		case "host":
			subject = st.hostName
		case "originalhost":
			subject = st.alias
		case "user":
			subject = st.user
		case "localuser":
			subject = st.localUser
		}
		if !matchPatternList(strings.ToLower(subject), strings.ToLower(c[1])) {
			return false
		}
	}
	return true
}

// matchPatternList is ssh's match_pattern_list: a comma-separated list of
// patterns with * and ?; a matching !pattern rules the subject out.
func matchPatternList(subject, list string) bool {
	found := false
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		if wildcardMatch(strings.TrimPrefix(p, "!"), subject) {
			if neg {
				return false
			}
			found = true
		}
	}
	return found
}

// wildcardMatch matches s against a pattern of literal characters, *
// (any run) and ? (any one character).
func wildcardMatch(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if wildcardMatch(pattern[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pattern[0] {
				return false
			}
		}
		pattern, s = pattern[1:], s[1:]
	}
	return s == ""
}

// parseMatch reads a Match line's arguments: criteria with one argument
// (host, originalhost, user, localuser) and "all"; anything else (exec,
// canonical, final, tagged, localnetwork, negated criteria, ...) makes
// the spec unsupported.
func parseMatch(args []string) *matchSpec {
	m := &matchSpec{text: "Match " + strings.Join(args, " ")}
	for i := 0; i < len(args); i++ {
		switch k := strings.ToLower(args[i]); k {
		case "all":
			m.criteria = append(m.criteria, [2]string{k, ""})
		case "host", "originalhost", "user", "localuser":
			if i+1 == len(args) {
				m.unsupported = true
				return m
			}
			m.criteria = append(m.criteria, [2]string{k, args[i+1]})
			i++
		default:
			m.unsupported = true
			return m
		}
	}
	if len(m.criteria) == 0 {
		m.unsupported = true
	}
	return m
}

// SSHConfigValue is one keyword's value and where it was written.
type SSHConfigValue struct {
	Keyword string // as written
	Value   string
	File    string
	Line    int
	Block   string // "Host web1", "Match host web*", "" before any Host line
}

// Where is "FILE:LINE (Host PATTERNS)".
func (v SSHConfigValue) Where() string {
	s := fmt.Sprintf("%s:%d", v.File, v.Line)
	if v.Block != "" {
		s += " (" + v.Block + ")"
	}
	return s
}

// includeKeyword replaces "Include" before the library parses a file, so
// that it does not parse the included files itself (it would fail on the
// constructs we tolerate, and it loses their names); the walk does them.
const includeKeyword = "X-Rsync-Include"

// maxIncludeDepth is OpenSSH's READCONF_MAX_DEPTH.
const maxIncludeDepth = 16

// LoadSSHConfig reads the ssh_config file at path (a leading ~ is
// expanded) and every file it includes. A file that cannot be parsed is
// an error naming it.
func LoadSSHConfig(path string) (*SSHConfig, error) {
	home, _ := os.UserHomeDir()
	p, err := expandHome(path)
	if err != nil {
		return nil, fmt.Errorf("ssh_config file %s: %w", path, err)
	}
	c := &SSHConfig{path: p, home: home}
	c.root, err = c.parse(p, 0)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DefaultSSHConfigPath is ~/.ssh/config (%USERPROFILE%\.ssh\config on
// Windows), where ssh reads it; "" without a home directory.
func DefaultSSHConfigPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ssh", "config")
}

// Path is the file the configuration was read from.
func (c *SSHConfig) Path() string { return c.path }

func (c *SSHConfig) parse(path string, depth int) (*configFile, error) {
	if depth > maxIncludeDepth {
		return nil, fmt.Errorf("ssh_config %s: more than %d nested Include levels: does an Include loop?", path, maxIncludeDepth)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ssh_config file: %w", err)
	}
	src, matches, notes := c.prepare(b, path)
	cfg, err := ssh_config.DecodeBytes(src)
	if err != nil {
		return nil, fmt.Errorf("ssh_config %s: %w", path, err)
	}
	c.notes = append(c.notes, notes...)
	f := &configFile{path: path, cfg: cfg, includes: map[*ssh_config.KV][]*configFile{}, matches: matches}
	for _, h := range cfg.Hosts {
		for _, n := range h.Nodes {
			kv, ok := n.(*ssh_config.KV)
			if !ok || !strings.EqualFold(kv.Key, includeKeyword) {
				continue
			}
			for _, pattern := range splitArgs(kv.Value) {
				pattern = c.includePath(pattern)
				matches, err := filepath.Glob(pattern)
				if err != nil {
					return nil, fmt.Errorf("ssh_config %s:%d: Include %s: %w", path, kv.Pos().Line, pattern, err)
				}
				sort.Strings(matches) // as ssh's glob(3) does
				for _, m := range matches {
					if fi, err := os.Stat(m); err != nil || fi.IsDir() {
						continue
					}
					inc, err := c.parse(m, depth+1)
					if err != nil {
						return nil, err
					}
					f.includes[kv] = append(f.includes[kv], inc)
				}
			}
		}
	}
	return f, nil
}

// includePath resolves an Include argument as ssh does for a user
// configuration: ~ is the home directory, a relative path is in ~/.ssh.
func (c *SSHConfig) includePath(p string) string {
	if e, err := expandHome(p); err == nil {
		p = e
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(c.home, ".ssh", p)
	}
	return p
}

// prepare rewrites, line for line (positions stay), what the library
// must not see: Include (done by the walk) and Match, which the library
// evaluates only for host and all, and only against the alias; each Match
// line becomes a Host line with a placeholder pattern, and the walk
// evaluates its criteria as ssh does. One with a criterion we cannot
// evaluate never applies, and is noted for a warning.
func (c *SSHConfig) prepare(b []byte, path string) ([]byte, map[string]*matchSpec, []SSHConfigValue) {
	var notes []SSHConfigValue
	matches := map[string]*matchSpec{}
	lines := bytes.Split(b, []byte("\n"))
	for i, line := range lines {
		trimmed := strings.TrimLeft(string(line), " \t")
		trimmed = strings.TrimRight(trimmed, "\r") // CRLF files (Windows)
		key, rest := splitKeyword(trimmed)
		indent := string(line[:len(line)-len(strings.TrimLeft(string(line), " \t"))])
		switch strings.ToLower(key) {
		case "include":
			lines[i] = []byte(indent + includeKeyword + " " + rest)
		case "host":
			// ssh matches Host patterns without regard to case.
			lines[i] = []byte(indent + "Host " + strings.ToLower(rest))
		case "match":
			m := parseMatch(splitArgs(stripComment(rest)))
			placeholder := matchPrefix + strconv.Itoa(i+1)
			matches[placeholder] = m
			if m.unsupported {
				notes = append(notes, SSHConfigValue{Keyword: "Match", Value: strings.TrimPrefix(m.text, "Match "), File: path, Line: i + 1})
			}
			lines[i] = []byte(indent + "Host " + placeholder)
		}
	}
	return bytes.Join(lines, []byte("\n")), matches, notes
}

// splitKeyword splits "Key value", "Key=value" or "Key = value".
func splitKeyword(s string) (key, rest string) {
	end := strings.IndexAny(s, " \t=")
	if end < 0 {
		return s, ""
	}
	rest = strings.TrimLeft(s[end:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	return s[:end], strings.TrimLeft(rest, " \t")
}

func stripComment(s string) string {
	if i := strings.Index(s, "#"); i >= 0 {
		return s[:i]
	}
	return s
}

// splitArgs splits a value into its whitespace-separated arguments,
// honouring double quotes.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, have = !inQuote, true
		case (r == ' ' || r == '\t') && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// SSHHostConfig is what the configuration says for one alias: for each
// keyword the first value obtained (ssh's rule), and every value of the
// keywords that accumulate (IdentityFile, CertificateFile, forwardings).
type SSHHostConfig struct {
	Alias  string
	values map[string][]SSHConfigValue // lower-case keyword → values in order
	// Notes are lines whose effect we cannot reproduce (unsupported Match
	// criteria).
	Notes []SSHConfigValue
}

// Lookup evaluates the configuration for alias, the host name as written
// in the destination; user is the user set outside the file ("" if none),
// which Match user tests.
func (c *SSHConfig) Lookup(alias, user string) *SSHHostConfig {
	h := &SSHHostConfig{Alias: alias, values: map[string][]SSHConfigValue{}, Notes: c.notes}
	st := &matchState{alias: strings.ToLower(alias), hostName: strings.ToLower(alias), user: user, localUser: localUser()}
	c.walk(c.root, st, h)
	return h
}

func (c *SSHConfig) walk(f *configFile, st *matchState, h *SSHHostConfig) {
	for _, block := range f.cfg.Hosts {
		name := blockName(block)
		if m := f.matches[strings.TrimPrefix(name, "Host ")]; m != nil {
			if !m.matches(c.matchSubjects(st, h)) {
				continue
			}
			name = m.text
		} else if !block.Matches(st.alias) {
			continue
		}
		for _, n := range block.Nodes {
			kv, ok := n.(*ssh_config.KV)
			if !ok {
				continue
			}
			if strings.EqualFold(kv.Key, includeKeyword) {
				for _, inc := range f.includes[kv] {
					c.walk(inc, st, h)
				}
				continue
			}
			k := strings.ToLower(kv.Key)
			h.values[k] = append(h.values[k], SSHConfigValue{Keyword: kv.Key, Value: kv.Value, File: f.path, Line: kv.Pos().Line, Block: name})
		}
	}
}

// matchSubjects is st with the HostName and User obtained so far, as ssh
// evaluates a Match line when it reaches it: host is the HostName when one
// was set above (else the name as written), user the remote user (set
// outside the file, or above, else the local user).
func (c *SSHConfig) matchSubjects(st *matchState, h *SSHHostConfig) matchState {
	out := *st
	if v, ok := h.Get("HostName"); ok {
		if hn, err := expandTokens(v.Value, map[byte]string{'h': st.alias}); err == nil {
			out.hostName = hn
		}
	}
	if out.user == "" {
		if v, ok := h.Get("User"); ok {
			out.user = v.Value
		} else {
			out.user = st.localUser
		}
	}
	return out
}

// blockName is the block's header line, "" for the implicit one at the
// top of a file (the library prints no header for it, so its first line
// is a keyword line or a comment).
func blockName(h *ssh_config.Host) string {
	s := strings.TrimSpace(strings.SplitN(h.String(), "\n", 2)[0])
	if i := strings.Index(s, " #"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	key, _ := splitKeyword(s)
	if !strings.EqualFold(key, "host") && !strings.EqualFold(key, "match") {
		return ""
	}
	return s
}

// Get is the first value of keyword (case-insensitive), as ssh uses it.
func (h *SSHHostConfig) Get(keyword string) (SSHConfigValue, bool) {
	v := h.values[strings.ToLower(keyword)]
	if len(v) == 0 {
		return SSHConfigValue{}, false
	}
	return v[0], true
}

// GetAll is every value of keyword, in the order ssh reads them.
func (h *SSHHostConfig) GetAll(keyword string) []SSHConfigValue {
	return h.values[strings.ToLower(keyword)]
}
