package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/bench/rusage"
)

// Usage is what the kernel accounted to one measured process.
type Usage = rusage.Usage

// RusageCommand is the hidden subcommand in which the bench binary acts as
// the launcher itself (rusage.Main), when the small launcher binary is not
// available. Its RSS floor is then that of the bench binary, several MB.
const RusageCommand = "__rusage"

// Launcher starts measured processes through the rusage launcher: every
// tool run on the client side, and the remote rsync of both tools (as
// their rsync path). The same launcher for both tools measures both the
// same way.
type Launcher struct {
	Argv []string // e.g. ["/path/rusage"] or ["/path/bench", "__rusage"]
}

// NewLauncher prefers the small launcher binary "rusage" beside exe (make
// bench builds it there), else uses exe itself.
func NewLauncher(exe string) (Launcher, bool) {
	small := filepath.Join(filepath.Dir(exe), "rusage")
	if fi, err := os.Stat(small); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return Launcher{Argv: []string{small}}, true
	}
	return Launcher{Argv: []string{exe, RusageCommand}}, false
}

// RemoteCommand is the rsync path that runs the remote rsync under the
// launcher, recording to usageFile.
func (l Launcher) RemoteCommand(usageFile string) string {
	return strings.Join(append(append([]string{}, l.Argv...), usageFile, "rsync"), " ")
}

// Run runs name with args through the launcher, feeding it stdin, and
// returns its usage (from usageFile), stdout and stderr. A non-zero exit
// is an error that quotes the end of stderr.
func (l Launcher) Run(ctx context.Context, usageFile string, stdin io.Reader, env []string, name string, args ...string) (Usage, []byte, error) {
	_ = os.Remove(usageFile)
	argv := append(append(append([]string{}, l.Argv[1:]...), usageFile, name), args...)
	cmd := exec.CommandContext(ctx, l.Argv[0], argv...)
	// On cancellation, let the launcher pass SIGTERM on rather than
	// SIGKILL it and orphan the tool.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Stdin, cmd.Env = stdin, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if runErr != nil {
		return Usage{}, stdout.Bytes(), fmt.Errorf("%s: %w: %s", filepath.Base(name), runErr, lastLines(stderr.String(), 15))
	}
	u, err := readUsage(usageFile, 0)
	if err != nil {
		return Usage{}, stdout.Bytes(), err
	}
	return *u, stdout.Bytes(), nil
}

// readUsage reads a launcher's record, waiting up to timeout for it to
// appear (a remote launcher may finish just after the client).
func readUsage(path string, timeout time.Duration) (*Usage, error) {
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			var u Usage
			if err := json.Unmarshal(b, &u); err != nil {
				return nil, fmt.Errorf("usage record %s: %w", path, err)
			}
			return &u, nil
		}
		if !errors.Is(err, os.ErrNotExist) || !time.Now().Before(deadline) {
			return nil, fmt.Errorf("usage record: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// removeUsages removes the usage records of earlier runs: prefix and
// prefix.* (one per remote rsync, see readUsages).
func removeUsages(prefix string) error {
	old, err := filepath.Glob(globQuote(prefix) + ".*")
	if err != nil {
		return err
	}
	for _, p := range append(old, prefix) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// readUsages waits up to timeout for n usage records prefix.* (each
// remote rsync's, named by its shell's pid) and sums them: CPU times add
// up; Wall and MaxRSS are the largest (the sessions overlap, and ru_maxrss
// is a peak of one process, not a sum); the first failing exit code.
func readUsages(prefix string, n int, timeout time.Duration) (*Usage, error) {
	deadline := time.Now().Add(timeout)
	for {
		all, err := filepath.Glob(globQuote(prefix) + ".*")
		if err != nil {
			return nil, err
		}
		// The launcher writes prefix.PID.tmp and renames it.
		paths := slices.DeleteFunc(all, func(p string) bool { return strings.HasSuffix(p, ".tmp") })
		if len(paths) >= n {
			sum := &Usage{}
			for _, p := range paths {
				u, err := readUsage(p, timeout)
				if err != nil {
					return nil, err
				}
				sum.User += u.User
				sum.Sys += u.Sys
				sum.Wall = max(sum.Wall, u.Wall)
				sum.MaxRSS = max(sum.MaxRSS, u.MaxRSS)
				sum.Floor = max(sum.Floor, u.Floor)
				if sum.ExitCode == 0 {
					sum.ExitCode = u.ExitCode
				}
			}
			return sum, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("usage records: %d of %d remote rsyncs wrote %s.*", len(paths), n, prefix)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// globQuote escapes the pattern characters of a literal path.
func globQuote(p string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(p)
}

// lastLines keeps the end of a tool's output for an error message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// shellSafe reports whether a path can go on a command line unquoted (the
// remote shell and rsync's -e splitting both see it).
func shellSafe(p string) bool {
	return p != "" && filepath.IsAbs(p) && !strings.ContainsAny(p, " \t\n'\"\\$`;&|<>()*?[]{}~#!")
}
