package delta

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The seed corpora under testdata/fuzz/FuzzXxx are generated from real
// encodings by the functions in fuzz_test.go. `go test` runs them as
// ordinary test cases. After changing a generator, rewrite them with
//
//	RSYNC_UPDATE_FUZZ_SEEDS=1 go test -run '^TestFuzzSeedCorpus$' ./internal/rsync/delta
const updateSeedsEnv = "RSYNC_UPDATE_FUZZ_SEEDS"

// fuzzSeed is one corpus file: its name and the fuzz function's arguments.
type fuzzSeed struct {
	name string
	args []any
}

// marshalSeed renders args in the `go test fuzz v1` corpus format.
func marshalSeed(args []any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		case uint16, bool, int:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		default:
			panic(fmt.Sprintf("unsupported seed argument type %T", a))
		}
	}
	return b.Bytes()
}

// checkSeedCorpus requires that every generated seed of target is checked
// in with the generated content (or writes them, with RSYNC_UPDATE_FUZZ_SEEDS).
func checkSeedCorpus(t *testing.T, target string, seeds []fuzzSeed) {
	t.Helper()
	checkSeedFiles(t, target, seeds, true)
}

// checkSeedFiles is checkSeedCorpus; with exact false it only requires the
// files to exist (for seeds made by third-party compressors, whose output
// may change from one library version to the next).
func checkSeedFiles(t *testing.T, target string, seeds []fuzzSeed, exact bool) {
	t.Helper()
	if len(seeds) < 3 {
		t.Fatalf("%s: only %d seeds; want at least 3", target, len(seeds))
	}
	dir := filepath.Join("testdata", "fuzz", target)
	update := os.Getenv(updateSeedsEnv) != ""
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range seeds {
		path := filepath.Join(dir, s.name)
		want := marshalSeed(s.args)
		if update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v\n(regenerate with %s=1 go test -run '^TestFuzzSeedCorpus$' .)", err, updateSeedsEnv)
			continue
		}
		if exact && !bytes.Equal(got, want) {
			t.Errorf("%s is stale: the encoders now produce different bytes\n(regenerate with %s=1 go test -run '^TestFuzzSeedCorpus$' .)", path, updateSeedsEnv)
		}
	}
}
