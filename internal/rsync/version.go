package rsync

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// ServerInfo is what `rsync --version` says about the remote rsync.
type ServerInfo struct {
	Program  string // "rsync" or "openrsync"
	Version  string // e.g. "3.2.7"; empty when it names none (openrsync)
	Protocol int    // the newest protocol it speaks
	Line     string // the first line, for messages
}

var (
	versionRE  = regexp.MustCompile(`\bversion v?(\d+)\.(\d+)\.(\d+)`)
	protocolRE = regexp.MustCompile(`protocol version (\d+)`)
)

// ParseVersion reads the output of `rsync --version` ("rsync  version
// 3.2.7  protocol version 31") or `openrsync --version` ("openrsync:
// protocol version 27"; macOS adds "rsync version 2.6.9 compatible").
func ParseVersion(out string) (ServerInfo, bool) {
	first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	info := ServerInfo{Program: "rsync", Line: strings.TrimSpace(first)}
	if strings.Contains(out, "openrsync") {
		info.Program = "openrsync"
	}
	if m := protocolRE.FindStringSubmatch(out); m != nil {
		info.Protocol, _ = strconv.Atoi(m[1])
	}
	if m := versionRE.FindStringSubmatch(first); m != nil && info.Program == "rsync" {
		info.Version = m[1] + "." + m[2] + "." + m[3]
	}
	return info, info.Protocol != 0
}

// atLeast reports whether an rsync (not openrsync) release is at least
// major.minor.
func (i ServerInfo) atLeast(major, minor int) bool {
	if i.Program != "rsync" || i.Version == "" {
		return false
	}
	m := versionRE.FindStringSubmatch("version " + i.Version)
	maj, _ := strconv.Atoi(m[1])
	mnr, _ := strconv.Atoi(m[2])
	return maj > major || (maj == major && mnr >= minor)
}

// CanChown reports whether the server takes --usermap/--groupmap, which
// carry owner and group in a push (options.c; rsync 3.1.0 and later).
func (i ServerInfo) CanChown() bool { return i.atLeast(3, 1) }

// Describe names the server for messages: "rsync 2.6.9 (protocol 29)".
func (i ServerInfo) Describe() string {
	if i.Version != "" {
		return fmt.Sprintf("%s %s (protocol %d)", i.Program, i.Version, i.Protocol)
	}
	return fmt.Sprintf("%s (protocol %d)", i.Program, i.Protocol)
}

// ServerVersion runs `RSYNCPATH --version` on the remote side: a plan asks
// it before relying on an option old servers lack. ok is false when the
// output is not a version (not rsync, or a shell that prints banners).
func ServerVersion(ctx context.Context, t Transport, rsyncPath string) (info ServerInfo, ok bool, err error) {
	rsyncPath = strings.TrimSpace(rsyncPath)
	if rsyncPath == "" {
		rsyncPath = "rsync"
	}
	p, err := t.Start(ctx, rsyncPath+" --version")
	if err != nil {
		return ServerInfo{}, false, fmt.Errorf("run %s --version: %w", rsyncPath, err)
	}
	_ = p.Stdin().Close()
	go func() { _, _ = io.Copy(io.Discard, p.Stderr()) }()
	out, rerr := io.ReadAll(io.LimitReader(p.Stdout(), 64<<10))
	_, _ = io.Copy(io.Discard, p.Stdout())
	if _, werr := p.Wait(); werr != nil || rerr != nil {
		_ = p.Kill()
		return ServerInfo{}, false, fmt.Errorf("run %s --version: %w", rsyncPath, cmpErr(werr, rerr))
	}
	info, ok = ParseVersion(string(out))
	return info, ok, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
