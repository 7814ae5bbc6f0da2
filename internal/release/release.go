// Package release holds the pure decisions of rsync_directory's atomic
// releases (issue 14): which names may be release ids, what the default id
// of a source is, how the `current` link is read, in which order releases
// are kept, and which are pruned. No I/O: the provider gathers the inputs
// (a listing of the app root) and carries out the result.
package release

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Defaults of the release block.
const (
	DefaultDir  = "releases"
	DefaultLink = "current"
	DefaultKeep = 5
	// SharedDir is where shared paths live, beside the releases.
	SharedDir = "shared"
	// PartialPrefix starts the name a release is built under until it is
	// complete: a directory of the releases directory whose name starts
	// with "." is never a release, so a build that failed never counts.
	PartialPrefix = ".partial-"
	// HistoryFile, in the releases directory, lists the ids in the order
	// they became current, oldest first.
	HistoryFile = ".history"
)

// maxName bounds ids and the names of the releases directory and link.
const maxName = 128

// ValidName reports whether s may be a release id, or the name of the
// releases directory or of the link: one path component of letters,
// digits, ".", "_" and "-", not starting with "." or "-". Nothing else is
// ever read as a release, so an odd name on the server (a newline, a
// quote) can neither pose as one nor reach a shell command unquoted.
func ValidName(s string) error {
	switch {
	case s == "":
		return errors.New("is empty")
	case len(s) > maxName:
		return fmt.Errorf("is longer than %d characters", maxName)
	case s[0] == '.' || s[0] == '-':
		return errors.New(`starts with "." or "-"`)
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			return fmt.Errorf("contains %q; use letters, digits, \".\", \"_\" and \"-\"", s[i])
		}
	}
	return nil
}

func nameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-'
}

// NameChars are the characters of a valid name, for a shell pattern.
const NameChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

// DefaultID is the id of a release whose id is not configured: derived
// from the source's hash and the settings that change what lands without
// changing that hash (owner, group), so the same content gets the same id
// — a revert finds its old release — and other content another.
func DefaultID(sourceHash string, settings ...string) string {
	h := sha256.New()
	h.Write([]byte(sourceHash))
	for _, s := range settings {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// LinkTarget is what the link holds: relative, so the app root can move.
func LinkTarget(dir, id string) string { return dir + "/" + id }

// ParseLinkTarget reads the id out of a link target: "dir/id", also with a
// leading "./" or a trailing "/", or an absolute target ending in
// "/dir/id" below root. ok is false for anything else (the link points
// outside the releases: drift).
func ParseLinkTarget(target, dir, root string) (id string, ok bool) {
	t := strings.TrimSuffix(target, "/")
	if strings.HasPrefix(t, "/") {
		want := path.Clean(root) + "/" + dir + "/"
		if !strings.HasPrefix(t, want) || !strings.HasPrefix(root, "/") {
			return "", false
		}
		t = dir + "/" + t[len(want):]
	}
	t = strings.TrimPrefix(t, "./")
	rest, found := strings.CutPrefix(t, dir+"/")
	if !found || ValidName(rest) != nil {
		return "", false
	}
	return rest, true
}

// Order lists the releases present, oldest first: those the history does
// not name first (by name: they predate it or were made by hand), then
// the history's order (the order in which they became current).
func Order(present, history []string) []string {
	have := map[string]bool{}
	for _, id := range present {
		have[id] = true
	}
	inHistory := map[string]bool{}
	var hist []string
	for _, id := range history {
		if have[id] && !inHistory[id] {
			inHistory[id] = true
			hist = append(hist, id)
		}
	}
	var rest []string
	for _, id := range present {
		if !inHistory[id] {
			rest = append(rest, id)
		}
	}
	sort.Strings(rest)
	return append(rest, hist...)
}

// Next is what an apply that makes target current leaves: kept, the
// releases oldest first with target last, and prune, those beyond keep,
// oldest first. target is never pruned, whatever keep is.
func Next(releases []string, target string, keep int) (kept, prune []string) {
	for _, id := range releases {
		if id != target {
			kept = append(kept, id)
		}
	}
	kept = append(kept, target)
	if keep < 1 {
		keep = 1
	}
	if n := len(kept) - keep; n > 0 {
		prune = append(prune, kept[:n]...)
		kept = kept[n:]
	}
	return kept, prune
}

// LinkDests are the --link-dest directories of a build, relative to the
// directory being built (a sibling in the releases directory): the
// current release first (most files match it), then the other kept ones,
// newest first, at most limit.
func LinkDests(releases []string, current, target string, limit int) []string {
	var out []string
	add := func(id string) {
		if id == "" || id == target || len(out) >= limit {
			return
		}
		for _, o := range out {
			if o == "../"+id {
				return
			}
		}
		out = append(out, "../"+id)
	}
	add(current)
	for i := len(releases) - 1; i >= 0; i-- {
		add(releases[i])
	}
	return out
}

// CleanShared checks a shared path and returns it without a trailing
// "/", and whether it names a directory (it had one).
func CleanShared(p string) (clean string, dir bool, err error) {
	dir = strings.HasSuffix(p, "/")
	clean = strings.TrimRight(p, "/")
	switch {
	case clean == "":
		return "", false, errors.New("is empty or the root of the release")
	case strings.HasPrefix(clean, "/"):
		return "", false, errors.New("is absolute; write it relative to the release's root, e.g. \"uploads/\"")
	case strings.ContainsAny(clean, "\x00\n\r"):
		return "", false, errors.New("contains a NUL or line break")
	}
	for _, c := range strings.Split(clean, "/") {
		switch c {
		case "", ".", "..":
			return "", false, fmt.Errorf("has an empty, \".\" or \"..\" component")
		}
		if strings.ContainsAny(c, "*?[") {
			return "", false, errors.New("contains a pattern character; shared paths are plain paths")
		}
	}
	return clean, dir, nil
}

// SharedTarget is the relative target of the link at p (a shared path,
// cleaned) in a release whose tree root is depth directories below the
// app root (2 for dir/id, 3 for dir/id/name): it leads to shared/p.
func SharedTarget(p string, depth int) string {
	up := depth + strings.Count(p, "/")
	return strings.Repeat("../", up) + SharedDir + "/" + p
}
