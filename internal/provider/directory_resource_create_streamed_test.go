package provider

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// createResult is what the plan of a create decides from the source.
type createResult struct {
	hash     string
	pending  *pendingChanges
	work     estimateWork
	baseline []byte
	specials sourceSpecials
}

// manifestCreatePlan is what ModifyPlan makes of a create from the
// source's manifest against a destination that holds only root (nil:
// nothing), listed in dstMode: the path planCreateStreamed replaces, whose
// values the fold must reproduce.
func manifestCreatePlan(src *tree.Manifest, chmod string, metadata bool, root *tree.Item, dstMode tree.Mode) createResult {
	src = withChmod(src, chmod)
	dst := &tree.Manifest{Mode: dstMode, Algo: src.Algo}
	if root != nil {
		dst.Items = []tree.Item{*root}
	}
	pairs := tree.Pair(src, dst)
	d := pairs.Diff(tree.DiffOptions{Delete: true, OwnerDirPerms: true})
	hash := src.Hash()
	var specials sourceSpecials
	for i := range src.Items {
		specials.add(&src.Items[i])
	}
	return createResult{
		hash:     hash,
		pending:  pendingOf(d),
		work:     planEstimateWork(d, pairs, false),
		baseline: newBaseline(src, hash, metadata).encode(),
		specials: specials,
	}
}

// streamedCreatePlan is what planCreateStreamed decides from plan.
func streamedCreatePlan(t *testing.T, plan *createPlan, root *tree.Item, dstMode tree.Mode) createResult {
	t.Helper()
	if !plan.pairsWith(root) {
		t.Fatal("the plan does not pair with the destination's root")
	}
	pending, work := plan.forDest(root, tree.DiffOptions{Delete: true, OwnerDirPerms: true}, dstMode == tree.Metadata)
	return createResult{hash: plan.hash, pending: pending, work: work, baseline: plan.baseline, specials: plan.specials}
}

// destRoots are the destinations a streamed create plans against: none,
// a root directory as the source's (after chmod "D2755"), and one whose
// permissions differ.
func destRoots() map[string]*tree.Item {
	return map[string]*tree.Item{
		"no destination": nil,
		"same root":      {Name: ".", Kind: tree.Dir, Perm: 0o2755},
		"other root":     {Name: ".", Kind: tree.Dir, Perm: 0o700},
	}
}

// syntheticSource is a manifest of n items in rsync's order: directories
// of files, symlinks, an unreadable file, hard links and devices and
// specials, some of them Ignored.
func syntheticSource(n int, seed int64) *tree.Manifest {
	rng := rand.New(rand.NewSource(seed))
	m := &tree.Manifest{Mode: tree.Content, Algo: csum.XXH128}
	m.Items = append(m.Items, tree.Item{Name: ".", Kind: tree.Dir, Perm: 0o755})
	for i := 1; len(m.Items) < n; i++ {
		dir := fmt.Sprintf("d%04d", i)
		m.Items = append(m.Items, tree.Item{Name: dir, Kind: tree.Dir, Perm: 0o750})
		for j := 0; j < 50 && len(m.Items) < n; j++ {
			it := tree.Item{Name: fmt.Sprintf("%s/f%03d", dir, j), Kind: tree.File, Perm: 0o644, Size: rng.Int63n(1 << 20), ModTime: rng.Int63()}
			switch j % 10 {
			case 3:
				it.Kind, it.Perm, it.Size = tree.Symlink, 0, 0
				it.SetTarget("../elsewhere")
			case 5:
				it.Unreadable = true
			case 7:
				it.Kind, it.Size = tree.Fifo, 0
				it.Ignored = j%20 == 7
			case 8:
				it.Kind, it.Size = tree.CharDevice, 0
				it.SetRdev(uint64(j))
			case 9:
				it.SetLinkTo(dir + "/f000")
			}
			if it.Kind == tree.File && !it.Unreadable {
				d := make([]byte, 16)
				rng.Read(d)
				it.SetDigest(d)
			}
			m.Items = append(m.Items, it)
		}
	}
	return m
}

// TestCreateFoldIsManifestPlan: a create planned from the source as a
// stream shows and keeps what the plan of its manifest does against a
// destination that holds nothing, or only a root directory like the
// source's or unlike it — hash, pending (first paths and counts), the
// estimate's sort, the drift baseline, SFTP's verdict on specials — with
// and without chmod, in both drift modes, below and above the lengths
// pending lists (pendingCap) and the baseline fingerprints
// (baselineMaxItems).
func TestCreateFoldIsManifestPlan(t *testing.T) {
	var sources []*tree.Manifest
	for _, n := range []int{1, 40, pendingCap, pendingCap + 1, pendingCap + 7, baselineMaxItems, baselineMaxItems + 1} {
		sources = append(sources, syntheticSource(n, int64(n)))
	}
	// A source without a trailing slash that names a file, a symlink, or
	// a fifo the options do not copy: its root is that, not a directory.
	file := tree.Item{Name: ".", Kind: tree.File, Perm: 0o640, Size: 1234, ModTime: 5}
	file.SetDigest([]byte("0123456789abcdef"))
	link := tree.Item{Name: ".", Kind: tree.Symlink}
	link.SetTarget("elsewhere")
	for _, it := range []tree.Item{file, link, {Name: ".", Kind: tree.Fifo, Perm: 0o600, Ignored: true}} {
		sources = append(sources, &tree.Manifest{Mode: tree.Content, Algo: csum.XXH128, Items: []tree.Item{it}})
	}
	for _, src := range sources {
		n := len(src.Items)
		for _, chmod := range []string{"", "D2755,F600"} {
			for _, metadata := range []bool{false, true} {
				before := src.Hash()
				plan := foldManifest(src, src.Algo, chmod, metadata)
				if src.Hash() != before {
					t.Fatalf("the fold changed the items it was handed")
				}
				for rootName, root := range destRoots() {
					for _, dstMode := range []tree.Mode{tree.Content, tree.Metadata} {
						name := fmt.Sprintf("%d items (root %c) chmod=%q metadata=%v, %s listed in mode %d", n, src.Items[0].Kind, chmod, metadata, rootName, dstMode)
						comparePlans(t, name, streamedCreatePlan(t, plan, root, dstMode), manifestCreatePlan(src, chmod, metadata, root, dstMode))
					}
				}
			}
		}
	}
}

// TestCreateFoldNeedsARoot: a source without a root (not seen from a
// walk) does not pair with a destination's root, which the manifests'
// plan would delete: planCreateStreamed leaves such a create to it.
func TestCreateFoldNeedsARoot(t *testing.T) {
	fold := newCreateFold(csum.XXH128, "", false)
	fold.add(&tree.Item{Name: "a", Kind: tree.File})
	plan := fold.plan()
	if plan.pairsWith(&tree.Item{Name: ".", Kind: tree.Dir, Perm: 0o755}) {
		t.Error("a source without a root pairs with the destination's")
	}
	if !plan.pairsWith(nil) {
		t.Error("a source without a root does not plan against nothing")
	}
}

func comparePlans(t *testing.T, name string, got, want createResult) {
	t.Helper()
	if got.hash != want.hash {
		t.Errorf("%s: hash %s, the manifest's %s", name, got.hash, want.hash)
	}
	if !reflect.DeepEqual(got.pending, want.pending) {
		t.Errorf("%s: pending\n%+v\nthe manifest's\n%+v", name, got.pending, want.pending)
	}
	if got.work.WholeBytes != want.work.WholeBytes || got.work.WholeFiles != want.work.WholeFiles ||
		!reflect.DeepEqual(got.work.Whole, want.work.Whole) || len(got.work.Compare) != 0 || len(want.work.Compare) != 0 {
		t.Errorf("%s: estimate work %d bytes in %d files %v, the manifest's %d in %d %v (compared: %v, %v)", name,
			got.work.WholeBytes, got.work.WholeFiles, got.work.Whole, want.work.WholeBytes, want.work.WholeFiles, want.work.Whole,
			got.work.Compare, want.work.Compare)
	}
	if string(got.baseline) != string(want.baseline) {
		t.Errorf("%s: baseline %.200s, the manifest's %.200s", name, got.baseline, want.baseline)
	}
	if !reflect.DeepEqual(got.specials.diags(), want.specials.diags()) {
		t.Errorf("%s: SFTP's verdict %v, the manifest's %v", name, got.specials.diags(), want.specials.diags())
	}
}

// TestPlanCreateWalksOnce: planCreate on a real tree plans what the plan
// of its manifest does; the resources of one walk that plan the same
// create share one walk, and a create planned after another resource
// read the source's manifest folds over that manifest.
func TestPlanCreateWalksOnce(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	testtree.Write(t, root, testtree.Rich())
	if err := os.Link(filepath.Join(root, "index.html"), filepath.Join(root, "docs/again.html")); err != nil {
		t.Fatal(err)
	}
	src := root + "/"
	f := filterSet{Exclude: []string{"*.md"}}
	digests := tree.NewDigestCache(t.TempDir())
	m, _, err := hashLocal(ctx, digests, src, f, tree.Content, csum.XXH128)
	if err != nil {
		t.Fatal(err)
	}
	want := manifestCreatePlan(m, "F640", false, nil, tree.Content)

	s, n := countingWalks()
	for i := 0; i < 3; i++ {
		got, warnings, err := s.planCreate(ctx, digests, src, f, csum.XXH128, "F640", false)
		if err != nil || len(warnings) > 0 {
			t.Fatalf("planCreate: %v %v", err, warnings)
		}
		comparePlans(t, fmt.Sprintf("walked, call %d", i), streamedCreatePlan(t, got, nil, tree.Content), want)
	}
	if n.Load() != 1 {
		t.Errorf("three resources planning the same create: %d readings, want 1", n.Load())
	}
	// Another chmod is another plan; with the manifest read (a resource
	// that updates), it is folded over that manifest: the tree is not
	// read again (it is moved away to show it).
	if _, _, err := s.hashLocalSource(ctx, digests, src, f, csum.XXH128); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(root, root+".moved"); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.planCreate(ctx, digests, src, f, csum.XXH128, "F600", true)
	if err != nil {
		t.Fatalf("planCreate read the tree instead of folding over its manifest: %v", err)
	}
	dstRoot := &tree.Item{Name: ".", Kind: tree.Dir, Perm: 0o700}
	comparePlans(t, "folded over the manifest", streamedCreatePlan(t, got, dstRoot, tree.Metadata), manifestCreatePlan(m, "F600", true, dstRoot, tree.Metadata))
	if err := os.Rename(root+".moved", root); err != nil {
		t.Fatal(err)
	}
	// Without sharing (a nil sourceWalks) it walks and plans the same.
	var none *sourceWalks
	got, _, err = none.planCreate(ctx, digests, src, f, csum.XXH128, "F640", false)
	if err != nil {
		t.Fatal(err)
	}
	comparePlans(t, "unshared", streamedCreatePlan(t, got, nil, tree.Content), want)
}
