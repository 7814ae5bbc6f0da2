package sftpsync

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // md5 is the digest the server's md5sum computes and rsync's own file checksum at md5
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
)

// A hash command the server may have: md5sum (GNU coreutils, busybox)
// prints "HEX  NAME"; BSD and macOS `md5 -r` print "HEX NAME". md5 is
// what the provider's trees already use as a content digest (rsync's own
// at --checksum-choice=md5), so a server-side md5 compares directly with
// a local one.
type hashCommand struct {
	Name string // the command as run, e.g. "md5sum"
	sep  int    // bytes between the digest and the name
}

var hashCommands = []hashCommand{{Name: "md5sum", sep: 2}, {Name: "md5 -r", sep: 1}}

// emptyMD5 is the md5 of no bytes, what a working command prints for
// /dev/null.
const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"

// maxHashOutput bounds what one hash command may print.
const maxHashOutput = 16 << 20

// maxHashArgs bounds one command line (the server's ARG_MAX is at least
// 128 KiB on the systems OpenSSH runs on; stay well below).
const maxHashArgs = 64 << 10

// Hasher computes content digests on the server by running a hash
// command in an exec session beside the SFTP one.
type Hasher struct {
	t   rsync.Transport
	cmd hashCommand
}

// Command names the command the hasher runs.
func (h *Hasher) Command() string { return h.cmd.Name }

// FindHasher looks for a hash command that runs on the server; nil when
// none does (the server runs no commands, or has none of them).
func FindHasher(ctx context.Context, t rsync.Transport) *Hasher {
	if t == nil {
		return nil
	}
	for _, c := range hashCommands {
		out, code, err := runOutput(ctx, t, c.Name+" /dev/null", 1<<10)
		if err != nil || code != 0 {
			continue
		}
		sums, err := parseSums(out, c.sep, 1)
		if err == nil && len(sums) == 1 && hex.EncodeToString(sums[0].Sum[:]) == emptyMD5 && sums[0].Name == "/dev/null" {
			return &Hasher{t: t, cmd: c}
		}
	}
	return nil
}

// Digests returns the md5 of each file in paths (remote paths), by path.
// A file the command could not read, or whose name the command would
// escape (a newline or backslash in it), is left out: the caller compares
// it by size and time.
func (h *Hasher) Digests(ctx context.Context, paths []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(paths))
	var batch []string
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var b strings.Builder
		b.WriteString(h.cmd.Name + " --")
		asked := make(map[string]string, len(batch))
		for _, p := range batch {
			a := argPath(p)
			asked[a] = p
			b.WriteString(" '" + strings.ReplaceAll(a, "'", `'\''`) + "'")
		}
		text, _, err := runOutput(ctx, h.t, b.String(), maxHashOutput)
		if err != nil {
			return fmt.Errorf("run %s on the server: %w", h.cmd.Name, err)
		}
		// A non-zero exit means some file could not be read: its line is
		// missing, and it stays without a digest.
		sums, err := parseSums(text, h.cmd.sep, len(batch))
		if err != nil {
			return fmt.Errorf("read the output of %s: %w", h.cmd.Name, err)
		}
		for _, s := range sums {
			if p, ok := asked[s.Name]; ok {
				out[p] = append([]byte(nil), s.Sum[:]...)
			}
		}
		batch, size = batch[:0], 0
		return nil
	}
	for _, p := range paths {
		if strings.ContainsAny(p, "\n\\") {
			continue
		}
		if size+len(p) > maxHashArgs {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		batch = append(batch, p)
		size += len(p) + 3
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// argPath is a remote path as a command argument: a "~/" path is
// relative to the login directory, where a relative path starts as well;
// one starting with "-" is not taken for an option.
func argPath(p string) string {
	p = RemotePath(p)
	if strings.HasPrefix(p, "-") {
		p = "./" + p
	}
	return p
}

// sumLine is one line of a hash command's output.
type sumLine struct {
	Sum  [md5.Size]byte
	Name string
}

// parseSums decodes a hash command's output: lines of 32 hex digits, sep
// separator bytes (two for md5sum, whose second one is "*" in binary
// mode; one for md5 -r), then the name. A line md5sum escaped (it starts
// with "\") is skipped, as is its file. At most maxLines lines are accepted.
// The output comes from the server: every field is checked.
func parseSums(out []byte, sep, maxLines int) ([]sumLine, error) {
	var sums []sumLine
	for len(out) > 0 {
		line := out
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line, out = out[:i], out[i+1:]
		} else {
			out = nil
		}
		if len(line) == 0 || line[0] == '\\' {
			continue
		}
		if len(sums) >= maxLines {
			return nil, fmt.Errorf("more lines than the %d files asked about", maxLines)
		}
		if len(line) < 2*md5.Size+sep+1 {
			return nil, fmt.Errorf("short line %q", truncate(line))
		}
		var s sumLine
		if _, err := hex.Decode(s.Sum[:], line[:2*md5.Size]); err != nil {
			return nil, fmt.Errorf("line %q: %w", truncate(line), err)
		}
		gap := line[2*md5.Size : 2*md5.Size+sep]
		if gap[0] != ' ' || (sep == 2 && gap[1] != ' ' && gap[1] != '*') {
			return nil, fmt.Errorf("line %q: no separator after the digest", truncate(line))
		}
		s.Name = string(line[2*md5.Size+sep:])
		if len(s.Name) > maxPathLen+2 {
			return nil, fmt.Errorf("a name of %d bytes", len(s.Name))
		}
		sums = append(sums, s)
	}
	return sums, nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// runOutput runs a command and returns (up to limit bytes of) its output
// and its exit status.
func runOutput(ctx context.Context, t rsync.Transport, command string, limit int64) ([]byte, int, error) {
	p, err := t.Start(ctx, command)
	if err != nil {
		return nil, 0, err
	}
	_ = p.Stdin().Close()
	errDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, p.Stderr())
		close(errDone)
	}()
	out, err := io.ReadAll(io.LimitReader(p.Stdout(), limit+1))
	if err == nil && int64(len(out)) > limit {
		err = fmt.Errorf("more than %d bytes of output", limit)
	}
	if err != nil {
		_ = p.Kill()
		<-errDone
		return nil, 0, err
	}
	<-errDone
	code, werr := p.Wait()
	if werr != nil {
		return nil, 0, werr
	}
	return out, code, nil
}

// localDigests is Digests for local files.
func localDigests(_ context.Context, paths []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		f, err := os.Open(filepath.FromSlash(p))
		if err != nil {
			continue // compared by size and time
		}
		h := md5.New() //nolint:gosec // see the import
		_, err = io.Copy(h, f)
		_ = f.Close()
		if err == nil {
			out[p] = h.Sum(nil)
		}
	}
	return out, nil
}
