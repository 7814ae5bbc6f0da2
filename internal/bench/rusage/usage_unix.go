//go:build unix

package rusage

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// forwardedSignals are passed on to the command.
var forwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// exitCode is the command's exit code, 128+N for death by signal N as a
// shell reports it.
func exitCode(err *exec.ExitError) int {
	if ws, ok := err.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return err.ExitCode()
}

// processUsage reads the CPU times and peak RSS getrusage(2) accounted to
// the command and the children it reaped.
func processUsage(ps *os.ProcessState) (Usage, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return Usage{}, false
	}
	return Usage{
		User:   time.Duration(ru.Utime.Nano()),
		Sys:    time.Duration(ru.Stime.Nano()),
		MaxRSS: int64(ru.Maxrss) * maxRSSUnit, //nolint:unconvert // int32 on 32-bit platforms
	}, true
}
