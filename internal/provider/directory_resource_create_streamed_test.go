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

// manifestCreatePlan is what ModifyPlan makes of a create onto an empty
// destination from the source's manifest (the path planCreateStreamed
// replaces): the values createFold must reproduce.
func manifestCreatePlan(src *tree.Manifest, chmod string, metadata bool) *createPlan {
	src = withChmod(src, chmod)
	mode := tree.Content
	if metadata {
		mode = tree.Metadata
	}
	pairs := tree.Pair(src, &tree.Manifest{Mode: mode, Algo: src.Algo})
	d := pairs.Diff(tree.DiffOptions{Delete: true, OwnerDirPerms: true})
	hash := src.Hash()
	var specials sourceSpecials
	for i := range src.Items {
		specials.add(&src.Items[i])
	}
	return &createPlan{
		hash:     hash,
		pending:  pendingOf(d),
		work:     planEstimateWork(d, pairs, false),
		baseline: newBaseline(src, hash, metadata).encode(),
		specials: specials,
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
// stream shows and keeps what the plan of its manifest against an empty
// destination does — hash, pending (first paths and counts), the
// estimate's sort, the drift baseline, SFTP's verdict on specials — with
// and without chmod, in both drift modes, below and above the lengths
// pending lists (pendingCap) and the baseline fingerprints
// (baselineMaxItems).
func TestCreateFoldIsManifestPlan(t *testing.T) {
	for _, n := range []int{1, 40, pendingCap + 7, baselineMaxItems, baselineMaxItems + 1} {
		src := syntheticSource(n, int64(n))
		for _, chmod := range []string{"", "D2755,F600"} {
			for _, metadata := range []bool{false, true} {
				name := fmt.Sprintf("%d items chmod=%q metadata=%v", n, chmod, metadata)
				want := manifestCreatePlan(src, chmod, metadata)
				fold := newCreateFold(src.Algo, chmod, metadata)
				before := src.Hash()
				for i := range src.Items {
					fold.add(&src.Items[i])
				}
				got := fold.plan()
				if src.Hash() != before {
					t.Fatalf("%s: the fold changed the items it was handed", name)
				}
				comparePlans(t, name, got, want)
			}
		}
	}
}

func comparePlans(t *testing.T, name string, got, want *createPlan) {
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
	want := manifestCreatePlan(m, "F640", false)

	s, n := countingWalks()
	for i := 0; i < 3; i++ {
		got, warnings, err := s.planCreate(ctx, digests, src, f, csum.XXH128, "F640", false)
		if err != nil || len(warnings) > 0 {
			t.Fatalf("planCreate: %v %v", err, warnings)
		}
		comparePlans(t, fmt.Sprintf("walked, call %d", i), got, want)
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
	comparePlans(t, "folded over the manifest", got, manifestCreatePlan(m, "F600", true))
	if err := os.Rename(root+".moved", root); err != nil {
		t.Fatal(err)
	}
	// Without sharing (a nil sourceWalks) it walks and plans the same.
	var none *sourceWalks
	got, _, err = none.planCreate(ctx, digests, src, f, csum.XXH128, "F640", false)
	if err != nil {
		t.Fatal(err)
	}
	comparePlans(t, "unshared", got, want)
}
