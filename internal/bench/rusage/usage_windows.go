//go:build windows

package rusage

import (
	"os"
	"os/exec"
)

// forwardedSignals are passed on to the command.
var forwardedSignals = []os.Signal{os.Interrupt}

// exitCode is the command's exit code.
func exitCode(err *exec.ExitError) int { return err.ExitCode() }

// processUsage reports no usage: the bench measures on Linux, and Windows
// has no getrusage(2) peak RSS to compare with it.
func processUsage(*os.ProcessState) (Usage, bool) { return Usage{}, false }
