// Command profprovider is the provider with profiling, for the bench only
// (`bench -provider-profile DIR`): the same provider as the product's
// main.go, plus, when BENCH_PROVIDER_PROFILE_DIR is set, a CPU profile of
// the whole process and a heap profile at its peak, one pair per process
// (terraform starts several: schema, plan walk, apply walk). It is a tool,
// not product: the released binary carries no profiling.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/bench/rusage"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/provider"
)

// ProfileDirEnv names the directory the profiles go to.
const ProfileDirEnv = "BENCH_PROVIDER_PROFILE_DIR"

func main() {
	stop := func() {}
	if dir := os.Getenv(ProfileDirEnv); dir != "" {
		var err error
		if stop, err = startProfiles(dir); err != nil {
			log.Fatal(err)
		}
	}
	provider.QuietUnlessLogged() // as the product's main.go does
	err := providerserver.Serve(context.Background(), provider.New("bench"), providerserver.ServeOpts{
		Address: "registry.terraform.io/rsyncprovider/rsync",
	})
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

// startProfiles starts the CPU profile and a watcher that writes a heap
// profile whenever the live heap reaches a new high (by 10%), so that the
// last one written shows what was live at the peak, and a memory timeline
// (prefix.mem.tsv, a line every 50 ms): the heap the runtime holds against
// the process's resident set, which is what shows where RSS goes beyond
// the live data. stop ends all three.
func startProfiles(dir string) (stop func(), err error) {
	prefix := filepath.Join(dir, fmt.Sprintf("provider-%d", os.Getpid()))
	cpu, err := os.Create(prefix + ".cpu.pprof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return nil, err
	}
	timeline, err := os.Create(prefix + ".mem.tsv")
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(timeline, "ms\theap_alloc_kb\theap_inuse_kb\theap_idle_kb\theap_released_kb\tstack_kb\tsys_kb\tnum_gc\trss_kb")
	start := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer timeline.Close()
		var peak uint64
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(timeline, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", time.Since(start).Milliseconds(),
				ms.HeapAlloc>>10, ms.HeapInuse>>10, ms.HeapIdle>>10, ms.HeapReleased>>10, ms.StackInuse>>10, ms.Sys>>10, ms.NumGC, rusage.StatusKB("VmRSS"))
			if ms.HeapAlloc < peak+peak/10 || ms.HeapAlloc < 4<<20 {
				continue
			}
			peak = ms.HeapAlloc
			if f, err := os.Create(prefix + ".heap.pprof"); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				_ = f.Close()
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		pprof.StopCPUProfile()
		_ = cpu.Close()
	}, nil
}
