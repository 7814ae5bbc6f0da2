// Command enginechild is the process in which `make bench` measures our
// engine: one operation (push, drift check, listing or tree hash) per
// process, a JSON request on stdin and the response on stdout (see
// internal/bench/enginechild). It is a binary of its own, beside the bench
// binary, so that the peak RSS measured is the engine's and not the
// benchmark harness's: a Go binary's text and read-only data end up
// resident whole.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/bench/enginechild"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := enginechild.Main(ctx, os.Stdin, os.Stdout, nil)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "enginechild: %v\n", err)
		os.Exit(1)
	}
}
