package delta

import (
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/fuzzseed"
)

// fuzzSeed is one corpus file under testdata/fuzz/FuzzXxx, generated from
// real encodings by the functions in fuzz_test.go; see package fuzzseed.
type fuzzSeed struct {
	name string
	args []any
}

func seeds(in []fuzzSeed) []fuzzseed.Seed {
	out := make([]fuzzseed.Seed, len(in))
	for i, s := range in {
		out[i] = fuzzseed.Seed{Name: s.name, Args: s.args}
	}
	return out
}

func checkSeedCorpus(t *testing.T, target string, in []fuzzSeed) {
	t.Helper()
	fuzzseed.Check(t, target, seeds(in), true)
}
