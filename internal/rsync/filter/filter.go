// Package filter implements rsync's include/exclude rules (exclude.c,
// wildmatch.c semantics, as documented in rsync(1) "FILTER RULES" and
// "PATTERN MATCHING RULES"): the first matching rule decides; a pattern
// starting with "/" is anchored at the transfer root; a trailing "/"
// matches only directories; a pattern with no "/" and no "**" matches the
// last path component, otherwise the full path (unanchored: any trailing
// run of whole components); "*" stops at slashes, "**" does not, "?" is
// one non-slash byte, "[...]" a class, and "dir/***" matches dir and
// everything below it.
package filter

import (
	"errors"
	"fmt"
	"strings"
)

// Rule is one parsed include or exclude rule.
type Rule struct {
	Include    bool
	Protect    bool   // receiver side only: never deleted, still transferred (rsync's "P" / "-r")
	Pattern    string // as the user wrote it
	pat        string // without the anchor and trailing slash
	anchored   bool
	dirOnly    bool
	fullPath   bool // contains "/" or "**": match against the path, not the base name
	tripleStar bool // ends in "/***": also matches the directory itself
}

// List is an ordered rule list.
type List struct {
	rules []Rule
}

// New builds a list with the includes first, then the excludes, so that an
// include can rescue what a broader exclude would catch (the order an
// rsync command line `--include=… --exclude=…` gives).
func New(includes, excludes []string) (*List, error) {
	l := &List{}
	for i, p := range includes {
		r, err := parse(p, true)
		if err != nil {
			return nil, fmt.Errorf("include[%d] %q: %w", i, p, err)
		}
		l.rules = append(l.rules, r)
	}
	for i, p := range excludes {
		r, err := parse(p, false)
		if err != nil {
			return nil, fmt.Errorf("exclude[%d] %q: %w", i, p, err)
		}
		l.rules = append(l.rules, r)
	}
	return l, nil
}

// AddProtect puts protect rules (rsync's "P pattern": receiver-side
// excludes) first, so that what they match is never deleted, whatever the
// other rules say, while it is still transferred. A pattern protects a
// matching directory's whole subtree too: rsync only spares what a rule
// matches itself, so each pattern also becomes "pattern/***".
func (l *List) AddProtect(patterns []string) error {
	return l.prependProtect(patterns, true)
}

// Clone returns a copy of the list that rules can be added to without
// changing l.
func (l *List) Clone() *List {
	if l == nil {
		return &List{}
	}
	return &List{rules: append([]Rule(nil), l.rules...)}
}

// PrependProtectExact puts protect rules first that spare exactly what
// their patterns match, unlike AddProtect, which spares a matching
// directory's subtree too: "/*" protects the names at the top of the
// transfer and nothing below them.
func (l *List) PrependProtectExact(patterns []string) error {
	return l.prependProtect(patterns, false)
}

// prependProtect puts a protect rule for each pattern first; with subtree,
// a pattern that does not already reach below itself also protects
// "pattern/***".
func (l *List) prependProtect(patterns []string, subtree bool) error {
	var rules []Rule
	for i, p := range patterns {
		variants := []string{p}
		if base := strings.TrimRight(p, "/"); subtree && base != "" && !strings.HasSuffix(base, "/***") && !strings.HasSuffix(base, "**") {
			variants = append(variants, base+"/***")
		}
		for _, v := range variants {
			r, err := parse(v, false)
			if err != nil {
				return fmt.Errorf("protect[%d] %q: %w", i, p, err)
			}
			r.Protect = true
			rules = append(rules, r)
		}
	}
	l.rules = append(rules, l.rules...)
	return nil
}

// EscapeLiteral escapes the wildcard characters of a literal name for a
// pattern that also holds wildcards (rsync's wildmatch takes "\x" as x).
func EscapeLiteral(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '\\', '*', '?', '[':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Validate reports whether p is a pattern rsync would accept as we mean it.
func Validate(p string) error {
	_, err := parse(p, false)
	return err
}

func parse(p string, include bool) (Rule, error) {
	if p == "" {
		return Rule{}, errors.New("empty pattern")
	}
	if strings.ContainsAny(p, "\n\r\x00") {
		return Rule{}, errors.New("patterns cannot contain newlines or NUL bytes")
	}
	if strings.HasPrefix(p, "+ ") || strings.HasPrefix(p, "- ") {
		return Rule{}, errors.New(`write the bare pattern: use include for "+ …" rules and exclude for "- …" rules`)
	}
	r := Rule{Include: include, Pattern: p, pat: p}
	if strings.HasPrefix(r.pat, "/") {
		r.anchored = true
		r.pat = strings.TrimLeft(r.pat, "/")
	}
	if strings.HasSuffix(r.pat, "/") && len(r.pat) > 1 {
		r.dirOnly = true
		r.pat = strings.TrimRight(r.pat, "/")
	}
	if r.pat == "" {
		return Rule{}, errors.New(`pattern matches nothing ("/" alone)`)
	}
	if strings.HasSuffix(r.pat, "/***") {
		r.tripleStar = true
	}
	r.fullPath = strings.Contains(r.pat, "/") || strings.Contains(r.pat, "**")
	if err := checkBrackets(r.pat); err != nil {
		return Rule{}, err
	}
	return r, nil
}

func checkBrackets(p string) error {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '[':
			if _, _, ok := parseClass(p[i:]); !ok {
				return fmt.Errorf("unterminated character class at byte %d", i)
			}
		}
	}
	if strings.HasSuffix(p, `\`) && !strings.HasSuffix(p, `\\`) {
		return errors.New("pattern ends with a lone backslash")
	}
	return nil
}

// Rules returns the rules in rsync's wire form ("+ pat" / "- pat"), the
// text exclude.c:send_rules sends.
func (l *List) Rules() []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l.rules))
	for i, r := range l.rules {
		prefix := "- "
		switch {
		case r.Protect:
			prefix = "-r "
		case r.Include:
			prefix = "+ "
		}
		out[i] = prefix + r.Pattern
	}
	return out
}

// Empty reports whether the list has no rules.
func (l *List) Empty() bool { return l == nil || len(l.rules) == 0 }

// Excluded reports whether the path name (relative to the transfer root,
// "/"-separated, no leading "/") is excluded. The first matching rule
// decides; no match means included.
func (l *List) Excluded(name string, isDir bool) bool {
	return l.decide(name, isDir, false)
}

// Protected reports whether a receiver must keep name although the sender
// did not list it: a protect rule or an exclude matches it first (rsync
// spares excluded files from --delete unless --delete-excluded).
func (l *List) Protected(name string, isDir bool) bool {
	return l.decide(name, isDir, true)
}

func (l *List) decide(name string, isDir, receiver bool) bool {
	if l == nil || name == "." || name == "" {
		return false
	}
	for i := range l.rules {
		r := &l.rules[i]
		if r.Protect && !receiver {
			continue // receiver-side rules do not filter what is sent
		}
		if r.matches(name, isDir) {
			return !r.Include
		}
	}
	return false
}

func (r *Rule) matches(name string, isDir bool) bool {
	if r.dirOnly && !isDir {
		return false
	}
	try := func(s string) bool {
		if wildmatch(r.pat, s) {
			return true
		}
		// "dir/***" also matches "dir" itself.
		return r.tripleStar && isDir && wildmatch(strings.TrimSuffix(r.pat, "/***"), s)
	}
	if r.anchored {
		return try(name)
	}
	if !r.fullPath {
		base := name
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			base = name[i+1:]
		}
		return try(base)
	}
	// Unanchored with a slash: match any trailing run of whole components.
	for s := name; ; {
		if try(s) {
			return true
		}
		i := strings.IndexByte(s, '/')
		if i < 0 {
			return false
		}
		s = s[i+1:]
	}
}

// wildmatch reports whether the whole of s matches pattern p.
func wildmatch(p, s string) bool {
	// memo marks (pattern index, string index) pairs already known to fail,
	// which keeps runs of stars from going exponential.
	memo := make(map[[2]int]bool)
	var m func(pi, si int) bool
	m = func(pi, si int) bool {
		key := [2]int{pi, si}
		if memo[key] {
			return false
		}
		for pi < len(p) {
			c := p[pi]
			switch c {
			case '*':
				double := pi+1 < len(p) && p[pi+1] == '*'
				for pi < len(p) && p[pi] == '*' {
					pi++
				}
				if pi == len(p) {
					if double {
						return true
					}
					return !strings.Contains(s[si:], "/")
				}
				for k := si; k <= len(s); k++ {
					if m(pi, k) {
						return true
					}
					if k < len(s) && s[k] == '/' && !double {
						break
					}
				}
				memo[key] = true
				return false
			case '?':
				if si >= len(s) || s[si] == '/' {
					memo[key] = true
					return false
				}
				pi++
				si++
			case '[':
				set, n, ok := parseClass(p[pi:])
				if !ok || si >= len(s) || s[si] == '/' || !set(s[si]) {
					memo[key] = true
					return false
				}
				pi += n
				si++
			default:
				if c == '\\' && pi+1 < len(p) {
					pi++
					c = p[pi]
				}
				if si >= len(s) || s[si] != c {
					memo[key] = true
					return false
				}
				pi++
				si++
			}
		}
		if si != len(s) {
			memo[key] = true
			return false
		}
		return true
	}
	return m(0, 0)
}

// parseClass parses "[...]" at the start of p: "!" or "^" negates, "a-z"
// ranges, "]" first is literal, "\x" escapes. It returns the membership
// test and the number of pattern bytes used.
func parseClass(p string) (func(byte) bool, int, bool) {
	i := 1
	negate := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		negate = true
		i++
	}
	type rng struct{ lo, hi byte }
	var ranges []rng
	first := true
	for i < len(p) {
		c := p[i]
		if c == ']' && !first {
			set := func(b byte) bool {
				in := false
				for _, r := range ranges {
					if b >= r.lo && b <= r.hi {
						in = true
						break
					}
				}
				return in != negate
			}
			return set, i + 1, true
		}
		first = false
		if c == '\\' && i+1 < len(p) {
			i++
			c = p[i]
		}
		lo := c
		i++
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			hi := p[i+1]
			if hi == '\\' && i+2 < len(p) {
				hi = p[i+2]
				i++
			}
			ranges = append(ranges, rng{lo, hi})
			i += 2
			continue
		}
		ranges = append(ranges, rng{lo, lo})
	}
	return nil, 0, false
}
