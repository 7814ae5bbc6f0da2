package rsync

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestPlanParts: the top directories are dealt to the parts largest first,
// a directory holding most of the tree is split one level down (its files
// stay with the skeleton), and a push too small, of a single file, or with
// fewer than two directories to deal stays whole.
func TestPlanParts(t *testing.T) {
	src := t.TempDir()
	write := func(dir string, n int) {
		if err := os.MkdirAll(filepath.Join(src, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := os.WriteFile(filepath.Join(src, dir, fmt.Sprint("f", i)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(".", 3)
	write("small", 5)
	write("mid", 40)
	write("assets", 2)
	write("assets/js", 300)
	write("assets/img", 250)
	write("assets/css", 120)
	rules, err := newRules(Options{Exclude: []string{"/mid/f1*"}})
	if err != nil {
		t.Fatal(err)
	}
	plan := func(source string, n, minFiles int) *partPlan {
		t.Helper()
		pl, err := planParts(source, rules, Options{parallelMin: minFiles}, n)
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	pl := plan(src+"/", 3, 100)
	if pl == nil {
		t.Fatal("no plan for a tree of 700 entries")
	}
	if !pl.split["."] || !pl.split["assets"] || len(pl.split) != 2 {
		t.Errorf("split %v, want . and assets", pl.split)
	}
	// Largest first to the least loaded part: js, img, css (+1 each for
	// the directory's own entry), then mid to the lightest, small next.
	want := [][]string{nil, {"assets/js"}, {"assets/img"}, {"assets/css", "mid", "small"}}
	if !slices.EqualFunc(pl.units, want, slices.Equal) {
		t.Errorf("units %v, want %v", pl.units, want)
	}
	if !pl.chain[1]["."] || !pl.chain[1]["assets"] || !pl.chain[3]["."] {
		t.Errorf("chains %v", pl.chain)
	}
	if got := (&partRole{plan: pl, part: 3}).protectRules(); !slices.Equal(got, []string{"/*", "/assets/*"}) {
		t.Errorf("protect rules %v", got)
	}
	// Without the trailing slash the same cut, one level down.
	if pl := plan(src, 3, 100); pl == nil || pl.top != filepath.Base(src) || !pl.split[filepath.Base(src)+"/assets"] {
		t.Errorf("plan of %s: %+v", src, pl)
	}
	for name, pl := range map[string]*partPlan{
		"small tree":  plan(src+"/", 3, 10000),
		"single file": plan(filepath.Join(src, "f0"), 3, 1),
		"one dir":     plan(filepath.Join(src, "assets/js")+"/", 3, 1),
	} {
		if pl != nil {
			t.Errorf("%s: plan %+v, want none", name, pl)
		}
	}
	if got := []int{ParallelFor(0), ParallelFor(parallelMinFiles - 1), ParallelFor(parallelMinFiles), ParallelFor(1e6)}; !slices.Equal(got, []int{1, 1, MaxParallel, MaxParallel}) {
		t.Errorf("ParallelFor: %v", got)
	}
}
