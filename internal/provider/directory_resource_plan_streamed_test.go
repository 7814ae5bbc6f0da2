package provider

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math/rand/v2"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// streamedPlan is what a plan makes of two trees, by either road.
type streamedPlan struct {
	pending          pendingChanges
	blinds           int
	srcHash, dstHash string
	baseline         string
	work             estimateWork
}

// planByMerge runs a planMerge of src's items against dst stored as a
// listing in mode, and returns its plan, why it fell back ("" when it
// did not) and whether it stopped its walk.
func planByMerge(t *testing.T, src, dst []tree.Item, mode tree.Mode, c syncConfig) (streamedPlan, string, bool) {
	t.Helper()
	var buf bytes.Buffer
	if err := encodeListing(gob.NewEncoder(&buf), "k", &tree.Manifest{Mode: mode, Algo: csum.XXH128, Items: dst}); err != nil {
		t.Fatal(err)
	}
	d, err := newListingDecoder(gob.NewDecoder(&buf), "k")
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	m := newPlanMerge(d, c, csum.XXH128, func() { stopped = true })
	for i := range src {
		m.add(&src[i])
	}
	if m.fallback == "" {
		m.finish()
	}
	if m.fallback != "" {
		return streamedPlan{}, m.fallback, stopped
	}
	srcHash := m.hash.Sum()
	return streamedPlan{
		pending: m.pending, blinds: m.blinds, srcHash: srcHash, dstHash: m.dstHash.SumAs(d.algo),
		baseline: string(m.baseline.baseline(srcHash).encode()), work: m.estimateWork(c.Checksum || m.blinds > 0),
	}, "", stopped
}

// planByManifests is what ModifyPlan makes of the two manifests.
func planByManifests(src, dst []tree.Item, mode tree.Mode, c syncConfig) streamedPlan {
	if ch := chmodOf(c.Chmod); ch != nil {
		src = slices.Clone(src)
		for i := range src {
			ch(&src[i])
		}
	}
	sm := &tree.Manifest{Mode: tree.Content, Algo: csum.XXH128, Items: src}
	dm := &tree.Manifest{Mode: mode, Algo: csum.XXH128, Items: dst}
	pairs := tree.Pair(sm, dm)
	diff := pairs.Diff(tree.DiffOptions{Delete: c.Delete, OwnerDirPerms: c.Ends.Dst.Remote})
	blind := quickCheckBlind(pairs)
	srcHash := sm.Hash()
	return streamedPlan{
		pending: *pendingOf(diff), blinds: len(blind), srcHash: srcHash, dstHash: dm.Hash(),
		baseline: string(newBaseline(sm, srcHash, c.Drift == driftMetadata).encode()),
		work:     planEstimateWork(diff, pairs, c.Checksum || len(blind) > 0),
	}
}

func compareStreamedPlans(t *testing.T, name string, got, want streamedPlan) {
	t.Helper()
	norm := func(p *streamedPlan) {
		// Empty and nil lists show the same.
		for _, l := range []*[]string{&p.pending.Create, &p.pending.Update, &p.pending.Delete, &p.work.Compare} {
			if len(*l) == 0 {
				*l = nil
			}
		}
	}
	norm(&got)
	norm(&want)
	if !reflect.DeepEqual(got.pending, want.pending) {
		t.Errorf("%s: pending\n got %+v\nwant %+v", name, got.pending, want.pending)
	}
	if got.blinds != want.blinds || got.srcHash != want.srcHash || got.dstHash != want.dstHash || got.baseline != want.baseline {
		t.Errorf("%s: blind %d, hashes %s %s; want %d, %s %s (or the baselines differ)", name, got.blinds, got.srcHash, got.dstHash, want.blinds, want.srcHash, want.dstHash)
	}
	gw, ww := got.work, want.work
	if gw.WholeBytes != ww.WholeBytes || gw.WholeFiles != ww.WholeFiles || gw.CompareBytes != ww.CompareBytes ||
		!reflect.DeepEqual(gw.Whole, ww.Whole) || !reflect.DeepEqual(gw.Compare, ww.Compare) {
		t.Errorf("%s: estimate work\n got %+v\nwant %+v", name, gw, ww)
	}
	for _, p := range ww.Compare {
		if !reflect.DeepEqual(*gw.Src[p], *ww.Src[p]) || !reflect.DeepEqual(*gw.Dst[p], *ww.Dst[p]) {
			t.Errorf("%s: estimate work's items of %s differ", name, p)
		}
	}
}

// driftOfMode is the drift_detection whose listings are in mode
// (manifestMode's inverse).
func driftOfMode(mode tree.Mode) string {
	if mode == tree.Metadata {
		return driftMetadata
	}
	return driftChecksum
}

func streamTestItems() (dir func(string) tree.Item, file func(string, string) tree.Item) {
	dir = func(n string) tree.Item { return tree.Item{Name: n, Kind: tree.Dir, Perm: 0o755} }
	file = func(n, content string) tree.Item {
		return tree.Item{Name: n, Kind: tree.File, Perm: 0o644, Size: int64(len(content)), ModTime: 1e9}.WithDigest([]byte(content))
	}
	return dir, file
}

// TestPlanMergeIsThePlanOfTheManifests: the streamed plan of a large tree
// makes what the plan from the two manifests makes — pending's lists and
// counts, the files only a checksum tells apart, both hashes, the
// baseline, the estimate's work — or leaves the plan to the manifests
// where a stream cannot decide as they do: an unreadable entry, a name
// that is a directory on one side only or twice in a listing, a deletion
// protect may spare, a leftover temporary file, a listing out of order.
func TestPlanMergeIsThePlanOfTheManifests(t *testing.T) {
	dir, file := streamTestItems()
	src := []tree.Item{dir("."), file("a", "1"), file("a.txt", "t"), dir("d"), file("d/x", "2"), file("d/y", "3")}
	with := func(items []tree.Item, f func([]tree.Item) []tree.Item) []tree.Item {
		return f(slices.Clone(items))
	}
	ignored := with(src, func(s []tree.Item) []tree.Item { s[1].Ignored = true; return s })
	blind := with(src, func(d []tree.Item) []tree.Item {
		d[4] = file("d/x", "9") // same size and time, other content
		return d
	})
	var many []tree.Item
	many = append(many, dir("."))
	for i := range 250 {
		many = append(many, file(fmt.Sprintf("f%03d", i), strings.Repeat("x", i)))
	}
	for _, tc := range []struct {
		name     string
		src, dst []tree.Item
		mode     tree.Mode
		del      bool
		checksum bool
		protect  []string
		chmod    string
		fallback string // what the merge gives up on; "" it plans
	}{
		{name: "the same", src: src, dst: src, del: true},
		{name: "a file only on the server, kept", src: src, dst: with(src, func(d []tree.Item) []tree.Item { return slices.Insert(d, 4, file("d/w", "9")) })},
		{name: "a file only on the server, deleted", src: src, dst: with(src, func(d []tree.Item) []tree.Item { return slices.Insert(d, 4, file("d/w", "9")) }), del: true},
		{name: "the same file, ignored", src: ignored, dst: with(src, func(d []tree.Item) []tree.Item { d[1] = file("a", "other"); return d }), del: true},
		{name: "an edited file", src: src, dst: with(src, func(d []tree.Item) []tree.Item { d[4] = file("d/x", "edited"); return d }), del: true},
		{name: "another mode", src: src, dst: with(src, func(d []tree.Item) []tree.Item { d[3].Perm = 0o700; return d }), del: true},
		{name: "a missing file", src: src, dst: src[:5], del: true},
		{name: "a missing directory", src: src, dst: src[:3]},
		{name: "an empty destination", src: src, dst: nil, del: true},
		{name: "a directory to delete", src: src[:3], dst: src, del: true},
		{name: "files only a checksum tells apart", src: src, dst: blind, del: true},
		{name: "files only a checksum tells apart, by metadata", src: src, dst: blind, mode: tree.Metadata, del: true},
		{name: "checksum = true", src: src, dst: with(src, func(d []tree.Item) []tree.Item { d[5].ModTime++; return d }), checksum: true},
		{name: "listed by size and time", src: src, dst: with(src, func(d []tree.Item) []tree.Item { d[5].ModTime++; return d }), mode: tree.Metadata},
		{name: "chmod", src: src, dst: src, chmod: "F600", del: true},
		{name: "more than pending shows", src: many, dst: with(many, func(d []tree.Item) []tree.Item {
			for i := 1; i < len(d); i += 2 {
				d[i] = file(d[i].Name, "changed "+d[i].Name)
			}
			return d[:len(d)-60]
		}), del: true},
		{name: "more deletions than pending shows", src: many[:20], dst: many, del: true},

		{name: "an unreadable directory", src: src, dst: with(src, func(d []tree.Item) []tree.Item { d[3].Unreadable = true; return d }), fallback: "an unreadable destination entry"},
		{name: "an unreadable file only there", src: src, dst: with(src, func(d []tree.Item) []tree.Item {
			u := file("d/w", "")
			u.Unreadable = true
			return slices.Insert(d, 4, u)
		}), fallback: "an unreadable destination entry"},
		{name: "an unreadable source file", src: with(src, func(s []tree.Item) []tree.Item { s[5].Unreadable = true; return s }), dst: src, fallback: "an unreadable source entry"},
		{name: "a leftover temporary file", src: src, dst: with(src, func(d []tree.Item) []tree.Item { return slices.Insert(d, 4, file("d/.x.AbC123", "2")) }), fallback: "a leftover temporary file"},
		{name: "a file named as a temporary file where the source has a symlink", src: with(src, func(s []tree.Item) []tree.Item {
			l := tree.Item{Name: "d/.x.AbC123", Kind: tree.Symlink, Perm: 0o777}
			l.SetTarget("x")
			return slices.Insert(s, 4, l)
		}), dst: with(src, func(d []tree.Item) []tree.Item { return slices.Insert(d, 4, file("d/.x.AbC123", "2")) }), fallback: "a leftover temporary file"},
		{name: "a leftover temporary file, deleted", src: src, dst: with(src, func(d []tree.Item) []tree.Item { return slices.Insert(d, 4, file("d/.x.AbC123", "2")) }), del: true},
		{name: "a deletion with protect rules", src: src[:3], dst: src, del: true, protect: []string{"d/y"}, fallback: "a destination entry to delete, with protect rules"},
		{name: "protect rules, nothing to delete", src: src, dst: src[:3], del: true, protect: []string{"d/y"}},
		{name: "a file where a directory was", src: with(src, func(s []tree.Item) []tree.Item { return append(s[:3:3], file("d", "now a file")) }), dst: src, del: true, fallback: "a name that is a directory on one side and not on the other, or twice in a listing"},
		{name: "a directory where a file was", src: with(src, func(s []tree.Item) []tree.Item { return append(s[:2:2], s[2], dir("a.txt"), s[3], s[4], s[5]) }), dst: src, del: true, fallback: "a name that is a directory on one side and not on the other, or twice in a listing"},
		{name: "a file where the root directory was", src: []tree.Item{file(".", "single")}, dst: src, del: true},
		{name: "a name twice in the listing", src: src, dst: with(src, func(d []tree.Item) []tree.Item { return slices.Insert(d, 3, file("d", "twin")) }), fallback: "a name that is a directory on one side and not on the other, or twice in a listing"},
		{name: "a listing out of order", src: src, dst: with(src, func(d []tree.Item) []tree.Item { return append(d, file("d/x", "2")) }), fallback: "the stored listing is out of order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := syncConfig{Delete: tc.del, Checksum: tc.checksum, Chmod: tc.chmod}
			c.Filters.Protect = tc.protect
			c.Ends.Dst.Remote = true
			mode := tc.mode
			if mode == 0 {
				mode = tree.Content
			}
			c.Drift = driftOfMode(mode)
			got, fallback, stopped := planByMerge(t, tc.src, tc.dst, mode, c)
			if fallback != tc.fallback || stopped != (fallback != "") {
				t.Fatalf("fell back %q (walk stopped %v), want %q", fallback, stopped, tc.fallback)
			}
			if fallback == "" {
				compareStreamedPlans(t, tc.name, got, planByManifests(tc.src, tc.dst, mode, c))
			}
		})
	}
}

// TestPlanMergeOfRandomTrees compares the two roads on random pairs of
// trees whose names collide often ("a", "a.b", "a-", a directory "a"),
// with files, symlinks and directories, contents, sizes, times and modes
// that differ or not, by content and by metadata, with checksum and
// delete or not:
// where the merge does not fall back it makes the plan of the manifests,
// and it falls back only where one side has a directory and the other
// something else under one name.
func TestPlanMergeOfRandomTrees(t *testing.T) {
	dir, file := streamTestItems()
	names := []string{"a", "a.b", "a-", "b", "a0", "B", "_"}
	rng := rand.New(rand.NewPCG(1, 2))
	// randomFile has one of a few contents, sizes, times and modes, so
	// that pairs differ in content only (blind), in time only, in size,
	// in mode, or not at all.
	randomFile := func(p string) tree.Item {
		it := file(p, strings.Repeat(fmt.Sprint(rng.IntN(3)), 1+rng.IntN(2)))
		it.ModTime += int64(rng.IntN(2))
		if rng.IntN(5) == 0 {
			it.Perm = 0o600
		}
		return it
	}
	// grow adds random entries below parent to items, to depth.
	var grow func(items []tree.Item, parent string, depth int) []tree.Item
	have := map[string]bool{} // names grow leaves alone
	grow = func(items []tree.Item, parent string, depth int) []tree.Item {
		for _, n := range names {
			p := path.Join(parent, n)
			if have[p] {
				continue
			}
			switch r := rng.IntN(10); {
			case r < 4:
				items = append(items, randomFile(p))
			case r == 4:
				l := tree.Item{Name: p, Kind: tree.Symlink}
				l.SetTarget(names[rng.IntN(len(names))])
				items = append(items, l)
			case r < 7 && depth > 0:
				items = append(items, dir(p))
				items = grow(items, p, depth-1)
			}
		}
		return items
	}
	sorted := func(items []tree.Item) []tree.Item {
		slices.SortFunc(items, func(a, b tree.Item) int { return tree.CompareItems(&a, &b) })
		return items
	}
	planned, fellBack := 0, 0
	for round := range 600 {
		clear(have)
		src := sorted(grow([]tree.Item{dir(".")}, "", 3))
		var dst []tree.Item
		if rng.IntN(4) > 0 {
			// Mostly the source with changes, so that most names pair.
			dst = slices.Clone(src)
			for i := range dst {
				if dst[i].Kind == tree.File && rng.IntN(4) == 0 {
					dst[i] = randomFile(dst[i].Name)
				}
			}
			dst = slices.DeleteFunc(dst, func(it tree.Item) bool { return it.Name != "." && rng.IntN(8) == 0 && it.Kind == tree.File })
			for _, it := range dst {
				have[it.Name] = true
			}
			if rng.IntN(8) > 0 {
				// Mostly new names; else names of other kinds too.
				dst = sorted(grow(dst, "", 1))
			} else {
				clear(have)
				dst = sorted(grow(dst, "", 1))
			}
			dst = slices.CompactFunc(dst, func(a, b tree.Item) bool { return a.Name == b.Name && a.Kind == b.Kind })
		} else {
			dst = sorted(grow([]tree.Item{dir(".")}, "", 3))
		}
		dst = dropOrphans(dst)
		if hasTwinNames(dst) {
			continue
		}
		c := syncConfig{Delete: round%2 == 0, Checksum: round%3 == 0}
		c.Ends.Dst.Remote = true
		mode := tree.Content
		if round%5 == 0 {
			mode = tree.Metadata
		}
		c.Drift = driftOfMode(mode)
		got, fallback, _ := planByMerge(t, src, dst, mode, c)
		if fallback != "" {
			if !kindsDifferByName(src, dst) {
				t.Fatalf("round %d: fell back (%s) on trees without a name of two kinds:\nsrc %v\ndst %v", round, fallback, itemNames(src), itemNames(dst))
			}
			fellBack++
			continue
		}
		planned++
		compareStreamedPlans(t, fmt.Sprintf("round %d", round), got, planByManifests(src, dst, mode, c))
		if t.Failed() {
			t.Fatalf("src %v\ndst %v", itemNames(src), itemNames(dst))
		}
	}
	t.Logf("planned %d pairs of trees, fell back on %d", planned, fellBack)
	if planned < 200 || fellBack == 0 {
		t.Fatalf("planned %d and fell back %d times: the random trees do not exercise both", planned, fellBack)
	}
}

// dropOrphans removes the entries whose parent directory is not listed.
func dropOrphans(items []tree.Item) []tree.Item {
	dirs := map[string]bool{".": true}
	var out []tree.Item
	for _, it := range items {
		if it.Name != "." && !dirs[path.Dir(it.Name)] {
			continue
		}
		if it.Kind == tree.Dir {
			dirs[it.Name] = true
		}
		out = append(out, it)
	}
	return out
}

func hasTwinNames(items []tree.Item) bool {
	seen := map[string]bool{}
	for _, it := range items {
		if seen[it.Name] {
			return true
		}
		seen[it.Name] = true
	}
	return false
}

func kindsDifferByName(a, b []tree.Item) bool {
	kinds := map[string]tree.Kind{}
	for _, it := range a {
		kinds[it.Name] = it.Kind
	}
	for _, it := range b {
		if k, ok := kinds[it.Name]; ok && k != it.Kind {
			return true
		}
	}
	return false
}

func itemNames(items []tree.Item) []string {
	out := make([]string, len(items))
	for i := range items {
		out[i] = tree.DiffPath(&items[i])
	}
	return out
}

// TestStreamedDriftIsTheManifestsDrift: the drift a streamed plan reports
// from pending's first paths and its total (driftResult.Total) shows as
// the drift of the whole diff does: the same first paths, count and
// warning.
func TestStreamedDriftIsTheManifestsDrift(t *testing.T) {
	var full tree.Changes
	var p pendingChanges
	for i := range 150 {
		full.Create = append(full.Create, fmt.Sprintf("c%03d", i))
		p.addCreate(fmt.Sprintf("c%03d", i))
	}
	for i := range 30 {
		full.Update = append(full.Update, fmt.Sprintf("u%03d", i))
		p.Update = append(p.Update, fmt.Sprintf("u%03d", i))
		p.Updates++
	}
	for i := range 120 {
		full.Delete = append(full.Delete, fmt.Sprintf("x%03d", i))
		if i < pendingCap {
			p.Delete = append(p.Delete, fmt.Sprintf("x%03d", i))
		}
		p.Deletes++
	}
	prior := types.StringValue("xxh128:00")
	for _, tc := range []struct {
		name    string
		srcHash string
		b       baseline
		dstHash string
	}{
		{name: "the source unchanged: all of it is drift", srcHash: "xxh128:00", b: baseline{Hash: "xxh128:00"}, dstHash: "xxh128:99"},
		{name: "the destination as applied: none", srcHash: "xxh128:01", b: baseline{Hash: "xxh128:00"}, dstHash: "xxh128:00"},
		{name: "both changed: unattributed", srcHash: "xxh128:01", b: baseline{Hash: "xxh128:00"}, dstHash: "xxh128:99"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			whole := attributeDrift(driftInput{Diff: full, SrcHash: tc.srcHash, DstHash: tc.dstHash, Baseline: tc.b, HasBaseline: true, PriorSourceHash: prior})
			streamed := attributeDrift(driftInput{Diff: p.changes(), Total: p.Creates + p.Updates + p.Deletes, SrcHash: tc.srcHash, DstHash: tc.dstHash, Baseline: tc.b, HasBaseline: true, PriorSourceHash: prior})
			if !driftValueOf(whole).Equal(driftValueOf(streamed)) {
				t.Errorf("drift: whole %v, streamed %v", driftValueOf(whole), driftValueOf(streamed))
			}
			n := len(full.Create) + len(full.Update) + len(full.Delete)
			ws, wd := driftWarning(whole, n)
			ss, sd := driftWarning(streamed, n)
			if ws != ss || wd != sd {
				t.Errorf("warning: whole %q %q, streamed %q %q", ws, wd, ss, sd)
			}
			if tc.name == "the source unchanged: all of it is drift" && (streamed.count() != n || ss == "") {
				t.Errorf("streamed drift counts %d of %d, warning %q", streamed.count(), n, ss)
			}
		})
	}
}
