//go:build pprof

package main

// A profiling build (go build -tags pprof; make bench passes GOFLAGS on):
// with RSYNC_PROVIDER_CPUPROFILE=DIR, every provider process Terraform
// starts writes a CPU profile DIR/cpu-PID.pprof and, on exit, an
// allocation profile DIR/allocs-PID.pprof. Not in release builds: the
// variable then does nothing. (Not TF_-prefixed: the bench strips those
// from terraform's environment.)

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

func init() {
	dir := os.Getenv("RSYNC_PROVIDER_CPUPROFILE")
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", os.Getpid())))
	if err != nil {
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return
	}
	stopProfile = func() {
		pprof.StopCPUProfile()
		f.Close()
		if m, err := os.Create(filepath.Join(dir, fmt.Sprintf("allocs-%d.pprof", os.Getpid()))); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(m, 0)
			m.Close()
		}
	}
}
