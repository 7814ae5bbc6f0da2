package tree

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// randomManifest is a manifest in rsync's order of a random subset of a
// small name space, each name a file, a directory or a symlink at random.
func randomManifest(r *rand.Rand) *Manifest {
	var entries []*flist.Entry
	for _, d := range []string{"a", "a.b", "b"} {
		for _, base := range []string{"a", "a-b", "a.b", "b", "c0"} {
			for _, name := range []string{d, d + "/" + base} {
				if r.IntN(3) == 0 || slices.ContainsFunc(entries, func(e *flist.Entry) bool { return e.Name == name }) {
					continue
				}
				mode := []uint32{flist.SIFREG | 0o644, flist.SIFDIR | 0o755, flist.SIFLNK | 0o777}[r.IntN(3)]
				entries = append(entries, &flist.Entry{Name: name, Mode: mode, Size: int64(r.IntN(2)), Checksum: []byte{byte(r.IntN(2))}, LinkTarget: "t"})
			}
		}
	}
	flist.Sort(entries)
	return FromEntries(entries, "", Content, 0)
}

type pairCall struct{ S, D string }

func pairCalls(each func(src, dst *Manifest, f func(s, d *Item)), src, dst *Manifest) []pairCall {
	var calls []pairCall
	name := func(it *Item) string {
		if it == nil {
			return "-"
		}
		return fmt.Sprintf("%s(%c)", it.Name, it.Kind)
	}
	each(src, dst, func(s, d *Item) { calls = append(calls, pairCall{name(s), name(d)}) })
	return calls
}

// TestEachPairIsByName: the merge pairs exactly what an index by name
// pairs, in the same order, with the same names on both sides as files,
// directories or symlinks in any combination (a file on one side and a
// directory on the other sort apart); it takes the merge for manifests in
// order, and the index for one out of order or holding a name twice.
func TestEachPairIsByName(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 2000 {
		src, dst := randomManifest(r), randomManifest(r)
		if _, _, ok := pairInOrder(src.Items, dst.Items); !ok {
			t.Fatalf("manifests in order were not merged:\n%v\n%v", src.Items, dst.Items)
		}
		if got, want := pairCalls(eachPair, src, dst), pairCalls(eachPairByMap, src, dst); !reflect.DeepEqual(got, want) {
			t.Fatalf("merge %v\nindex %v", got, want)
		}
	}
	twins := &Manifest{Items: []Item{{Name: ".", Kind: Dir}, {Name: "a", Kind: File}, {Name: "b", Kind: File}, {Name: "a", Kind: Dir}}}
	unordered := &Manifest{Items: []Item{{Name: "b", Kind: File}, {Name: "a", Kind: File}}}
	plain := &Manifest{Items: []Item{{Name: "a", Kind: File}, {Name: "b", Kind: Dir}}}
	for _, m := range []*Manifest{twins, unordered} {
		if _, _, ok := pairInOrder(m.Items, plain.Items); ok {
			t.Errorf("%v was merged", m.Items)
		}
		if got, want := pairCalls(eachPair, m, plain), pairCalls(eachPairByMap, m, plain); !reflect.DeepEqual(got, want) {
			t.Errorf("%v: merge %v, index %v", m.Items, got, want)
		}
	}
}

// BenchmarkEachPair pairs two equal manifests of a 101,011-entry tree, as
// a no-change plan does, by the merge and through an index.
func BenchmarkEachPair(b *testing.B) {
	entries := siteListing()
	src := FromEntries(slices.Clone(entries), "", Content, 0)
	dst := FromEntries(slices.Clone(entries), "", Content, 0)
	for _, bc := range []struct {
		name string
		each func(src, dst *Manifest, f func(s, d *Item))
	}{{"merge", eachPair}, {"index", eachPairByMap}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				n := 0
				bc.each(src, dst, func(s, d *Item) {
					if s != nil && d != nil {
						n++
					}
				})
				if n != len(entries) {
					b.Fatalf("%d pairs", n)
				}
			}
		})
	}
}

// eachPair is Pair(src, dst).Each(f): the merge, or its fallback.
func eachPair(src, dst *Manifest, f func(s, d *Item)) { Pair(src, dst).Each(f) }

// eachPairByMap is what pairing did before the merge, through an index
// of dst by name: the reference its results are checked against.
func eachPairByMap(src, dst *Manifest, f func(s, d *Item)) {
	have := make(map[string]*Item, len(dst.Items))
	for i := range dst.Items {
		have[dst.Items[i].Name] = &dst.Items[i]
	}
	seen := make(map[string]bool, len(src.Items))
	for i := range src.Items {
		s := &src.Items[i]
		seen[s.Name] = true
		f(s, have[s.Name])
	}
	for i := range dst.Items {
		if d := &dst.Items[i]; !seen[d.Name] {
			f(nil, d)
		}
	}
}
