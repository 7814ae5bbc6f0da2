// Package fuzzseed keeps native fuzz targets' seed corpora (testdata/fuzz/
// FuzzXxx) in step with the encoders that generate them: tests compare the
// checked-in files with freshly generated ones, and rewrite them when
// RSYNC_UPDATE_FUZZ_SEEDS is set.
package fuzzseed

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// UpdateEnv, when set, makes Check rewrite the corpus files:
//
//	RSYNC_UPDATE_FUZZ_SEEDS=1 go test -run '^TestFuzzSeedCorpus$' ./internal/rsync/<pkg>
const UpdateEnv = "RSYNC_UPDATE_FUZZ_SEEDS"

// Seed is one corpus file: its name and the fuzz function's arguments.
type Seed struct {
	Name string
	Args []any
}

// Marshal renders args in the `go test fuzz v1` corpus format.
func Marshal(args []any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case uint16, bool, int:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		default:
			panic(fmt.Sprintf("unsupported seed argument type %T", a))
		}
	}
	return b.Bytes()
}

// Check requires that every seed of target is checked in with the content
// generated now (exact), or only that the files exist (for seeds made by
// third-party compressors whose output may change between versions).
func Check(t *testing.T, target string, seeds []Seed, exact bool) {
	t.Helper()
	if len(seeds) < 3 {
		t.Fatalf("%s: only %d seeds; want at least 3", target, len(seeds))
	}
	dir := filepath.Join("testdata", "fuzz", target)
	update := os.Getenv(UpdateEnv) != ""
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range seeds {
		path := filepath.Join(dir, s.Name)
		want := Marshal(s.Args)
		if update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v\n(regenerate with %s=1 go test -run '^TestFuzzSeedCorpus$' .)", err, UpdateEnv)
			continue
		}
		if exact && !bytes.Equal(got, want) {
			t.Errorf("%s is stale: the encoders now produce different bytes\n(regenerate with %s=1 go test -run '^TestFuzzSeedCorpus$' .)", path, UpdateEnv)
		}
	}
}
