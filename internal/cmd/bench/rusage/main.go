// Command rusage is the bench's launcher: `rusage OUTFILE COMMAND [ARGS...]`
// runs COMMAND and writes its wall time, CPU time and peak RSS to OUTFILE
// (see package rusage). It is a separate, small binary so that its own
// memory barely shows in the peak RSS it measures; `make bench` builds it
// next to the bench binary.
package main

import (
	"os"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/bench/rusage"
)

func main() {
	os.Exit(rusage.Main(os.Args[1:]))
}
