package provider

import (
	"fmt"
	"strings"
)

// remoteSpec is a parsed rsync remote location, `[user@]host:path`.
type remoteSpec struct {
	User string // empty: use the provider's user (or the current user)
	Host string // host name or address; IPv6 addresses without brackets
	Path string // remote path; empty means the login directory
}

// remoteError says why a string is not a usable `[user@]host:path`.
type remoteError struct {
	Value  string
	Reason string
	NoHost bool // the value has no "host:" part at all (it looks like a local path)
}

func (e *remoteError) Error() string {
	return fmt.Sprintf("%q %s", e.Value, e.Reason)
}

// parseRemote parses rsync's remote form `[user@]host:path`, including the
// bracketed IPv6 form `[user@][::1]:path`. A value without a "host:" part
// (a local path: no colon, or a slash before the first colon, as rsync
// itself decides) is rejected with NoHost set. rsync daemon forms
// (`host::module`, `rsync://`) are rejected: only rsync over SSH is
// supported. An empty path is allowed and means the login directory, as in
// rsync.
func parseRemote(s string) (remoteSpec, error) {
	fail := func(reason string) (remoteSpec, error) {
		return remoteSpec{}, &remoteError{Value: s, Reason: reason}
	}
	if s == "" {
		return fail("is empty")
	}
	if strings.HasPrefix(s, "rsync://") {
		return fail("is an rsync daemon URL; only rsync over SSH is supported")
	}

	var r remoteSpec
	rest := s
	at := strings.IndexByte(s, '@')
	colon := strings.IndexByte(s, ':')
	slash := strings.IndexByte(s, '/')
	if at >= 0 && (colon < 0 || at < colon) && (slash < 0 || at < slash) {
		r.User, rest = s[:at], s[at+1:]
		if r.User == "" {
			return fail(`has an empty user name before "@"`)
		}
	}

	var after string
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return fail(`has an unclosed "[" in the host`)
		}
		r.Host, after = rest[1:end], rest[end+1:]
		if !strings.HasPrefix(after, ":") {
			return fail(`needs ":" right after the bracketed host, as in "[::1]:/path"`)
		}
		after = after[1:]
	} else {
		c := strings.IndexByte(rest, ':')
		sl := strings.IndexByte(rest, '/')
		if c < 0 || (sl >= 0 && sl < c) {
			return remoteSpec{}, &remoteError{Value: s, NoHost: true,
				Reason: `has no "host:" part, so it is a local path; rsync_directory pushes to a remote host over SSH and needs one`}
		}
		r.Host, after = rest[:c], rest[c+1:]
	}
	if r.Host == "" {
		return fail(`has an empty host before ":"`)
	}
	if strings.ContainsAny(r.Host, "@ \t\r\n") {
		return fail(fmt.Sprintf("has an invalid host %q", r.Host))
	}
	if strings.HasPrefix(after, ":") {
		return fail(`uses the rsync daemon form "host::module"; only rsync over SSH ("host:path") is supported`)
	}
	r.Path = after
	return r, nil
}

// shellQuote quotes s for a POSIX shell as one word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// remoteShellPath quotes a remote path for the remote login shell. An empty
// path is the login directory ("."); a leading "~/" stays unquoted so the
// shell expands it, as it does for rsync's own arguments.
func remoteShellPath(p string) string {
	switch {
	case p == "":
		return "."
	case p == "~":
		return "~"
	case strings.HasPrefix(p, "~/"):
		if p == "~/" {
			return "~/"
		}
		return "~/" + shellQuote(p[2:])
	}
	return shellQuote(p)
}

// pushDestPath is the destination path handed to the engine: the login
// directory when the path is empty.
func pushDestPath(p string) string {
	if p == "" {
		return "."
	}
	return p
}

// copiesContents reports whether source, by rsync's trailing-slash rule,
// names the contents of a directory ("dir/", "dir/.", ".") rather than the
// directory itself ("dir").
func copiesContents(source string) bool {
	return strings.HasSuffix(source, "/") || source == "." || strings.HasSuffix(source, "/.")
}
