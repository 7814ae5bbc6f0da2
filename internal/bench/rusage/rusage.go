// Package rusage runs one command and records what the kernel accounted to
// it: wall time, user and system CPU time, and peak RSS. It is the launcher
// through which the bench starts every measured process, on both sides of
// the connection. It imports only a few standard packages, so that a
// launcher binary built from it stays small: see Main for why that matters.
package rusage

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

// Usage is the record the launcher writes, as JSON.
type Usage struct {
	Wall time.Duration `json:"wall"`
	User time.Duration `json:"user"`
	Sys  time.Duration `json:"sys"`
	// MaxRSS is ru_maxrss in bytes: the peak resident set of the largest
	// single process among the command and the descendants it reaped
	// itself (the kernel keeps a maximum, not a sum).
	MaxRSS int64 `json:"max_rss"`
	// Floor is the least MaxRSS this launcher can report (its own RSS
	// when it started the command, see Main): a MaxRSS at or below the
	// floor means "at most the floor".
	Floor    int64 `json:"floor"`
	ExitCode int   `json:"exit_code"`
}

// CPU is user plus system time.
func (u Usage) CPU() time.Duration { return u.User + u.Sys }

// Main runs `OUTFILE COMMAND [ARGS...]`: COMMAND gets the launcher's own
// standard streams (the file descriptors themselves, nothing copied), its
// usage goes to OUTFILE (written atomically), and Main returns COMMAND's
// exit code. Signals the launcher receives are passed on.
//
// Go starts children with vfork: the child runs on the parent's address
// space until it execs, and the kernel then folds the parent's peak RSS
// into the child's ru_maxrss. A child's MaxRSS is therefore never below
// its launcher's peak RSS. Main first lowers its own peak to its current
// RSS (/proc/self/clear_refs "5", proc(5)) and reports that as the floor;
// a launcher binary that imports little keeps the floor near 2 MB.
func Main(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rusage OUTFILE COMMAND [ARGS...]")
		return 2
	}
	out, argv := args[0], args[1:]
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, forwardedSignals...)
	floor := resetPeakRSS()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "rusage: %v\n", err)
		return 127
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	signal.Stop(sigs)
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitCode(exitErr)
	case err != nil:
		fmt.Fprintf(os.Stderr, "rusage: %v\n", err)
		return 127
	}
	u, ok := processUsage(cmd.ProcessState)
	if !ok {
		fmt.Fprintln(os.Stderr, "rusage: no rusage on this platform")
		return code
	}
	u.Wall, u.Floor, u.ExitCode = wall, floor, code
	if err := write(out, u); err != nil {
		fmt.Fprintf(os.Stderr, "rusage: %v\n", err)
	}
	return code
}

// write stores u as JSON, by hand: encoding/json would double the
// launcher's size and so its floor.
func write(path string, u Usage) error {
	s := fmt.Sprintf(`{"wall":%d,"user":%d,"sys":%d,"max_rss":%d,"floor":%d,"exit_code":%d}`,
		int64(u.Wall), int64(u.User), int64(u.Sys), u.MaxRSS, u.Floor, u.ExitCode)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// resetPeakRSS lowers this process's peak-RSS mark to its current RSS and
// returns that, in bytes (0 if /proc cannot tell).
func resetPeakRSS() int64 {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != "VmHWM" {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err == nil {
			return n * 1024
		}
	}
	return 0
}
