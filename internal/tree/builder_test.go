package tree

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"path"
	"reflect"
	"slices"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// incOrderTree is a tree whose names put directories and files of nearby
// names side by side ("a" beside "a.b", "a-b", "a0"), where the whole
// tree's order and a directory-at-a-time order differ most, as entries in
// rsync's order.
func incOrderTree() []*flist.Entry {
	entries := []*flist.Entry{{Name: ".", Mode: flist.SIFDIR | 0o755}}
	var add func(dir string, depth int)
	add = func(dir string, depth int) {
		for i, base := range []string{"a", "a.b", "a-b", "a0", "b", "z"} {
			name := path.Join(dir, base)
			if dir == "." {
				name = base
			}
			if depth < 3 && i%2 == 0 {
				entries = append(entries, &flist.Entry{Name: name, Mode: flist.SIFDIR | 0o755})
				add(name, depth+1)
				continue
			}
			entries = append(entries, &flist.Entry{Name: name, Mode: flist.SIFREG | 0o644, Size: int64(len(name)), Checksum: []byte(name)})
		}
	}
	add(".", 0)
	flist.Sort(entries)
	return entries
}

// byDirectory hands entries over as an incremental listing does: the root
// with its entries, then each directory's entries in order, directories
// in the order dirs puts them.
func byDirectory(entries []*flist.Entry, dirs func([]string)) []*flist.Entry {
	children := map[string][]*flist.Entry{}
	var order []string
	for _, e := range entries {
		if e.Name == "." {
			continue
		}
		dir := path.Dir(e.Name)
		if _, ok := children[dir]; !ok {
			order = append(order, dir)
		}
		children[dir] = append(children[dir], e)
	}
	dirs(order)
	out := []*flist.Entry{entries[0]}
	for _, d := range order {
		out = append(out, children[d]...)
	}
	return out
}

// TestBuilderOrdersByDirectory: entries handed over a directory at a time,
// in depth-first or any other order of the directories, make the manifest
// of the sorted list without a sort of the whole (the builder stays
// grouped); one directory's entries split in two, or out of order, fall
// back to the sort and still make it.
func TestBuilderOrdersByDirectory(t *testing.T) {
	entries := incOrderTree()
	want := FromEntries(slices.Clone(entries), "", Content, csum.XXH128)
	if len(want.Items) < 100 {
		t.Fatalf("only %d items", len(want.Items))
	}
	keep := func([]string) {}
	shuffle := func(d []string) {
		rand.New(rand.NewPCG(5, 6)).Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
	}
	split := byDirectory(entries, keep)
	split = append(split[:10:10], append([]*flist.Entry{split[len(split)-1]}, split[10:len(split)-1]...)...)
	swapped := byDirectory(entries, keep)
	swapped[2], swapped[3] = swapped[3], swapped[2]
	for _, tc := range []struct {
		name    string
		in      []*flist.Entry
		grouped bool
	}{
		{"depth first", byDirectory(entries, keep), true},
		{"directories shuffled", byDirectory(entries, shuffle), true},
		{"a directory split", split, false},
		{"two entries swapped", swapped, false},
		{"sorted", entries, false},
	} {
		b := NewBuilder("", Content, DefaultOptions())
		for _, e := range tc.in {
			b.Add(e)
		}
		if b.grouped != tc.grouped {
			t.Errorf("%s: grouped %v, want %v", tc.name, b.grouped, tc.grouped)
		}
		if tc.grouped {
			// The walk over directories alone puts them in order.
			items := slices.Concat(b.chunks...)
			runs := maps.Clone(b.runs)
			runs[b.runDir] = b.run
			if !orderByDirs(items, runs) || !reflect.DeepEqual(items, want.Items) {
				t.Errorf("%s: the walk over directories did not put the items in order", tc.name)
			}
		}
		if got := b.Manifest(csum.XXH128); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the manifest differs from the sorted list's", tc.name)
		}
	}
}

// TestOrderByDirsUnreachable: entries below a name that is no listed
// directory are not reached by the walk over directories; the builder
// then sorts.
func TestOrderByDirsUnreachable(t *testing.T) {
	in := []*flist.Entry{
		{Name: ".", Mode: flist.SIFDIR | 0o755},
		{Name: "f", Mode: flist.SIFREG | 0o644},
		{Name: "g/y", Mode: flist.SIFREG | 0o644},
		{Name: "f/x", Mode: flist.SIFREG | 0o644},
	}
	b := NewBuilder("", Content, DefaultOptions())
	for _, e := range in {
		b.Add(e)
	}
	if !b.grouped || b.sorted {
		t.Fatalf("grouped %v, sorted %v: the walk over directories is not tried", b.grouped, b.sorted)
	}
	got := b.Manifest(csum.XXH128)
	var names []string
	for _, it := range got.Items {
		names = append(names, it.Name)
	}
	if fmt.Sprint(names) != "[. f f/x g/y]" {
		t.Errorf("order %v", names)
	}
}

// siteListing is a 101,011-entry tree in rsync's order: ten directories
// of 100 directories of 100 files.
func siteListing() []*flist.Entry {
	entries := []*flist.Entry{{Name: ".", Mode: flist.SIFDIR | 0o755}}
	for i := range 10 {
		top := fmt.Sprintf("d%02d", i)
		entries = append(entries, &flist.Entry{Name: top, Mode: flist.SIFDIR | 0o755})
		for j := range 100 {
			dir := fmt.Sprintf("%s/d%03d", top, j)
			entries = append(entries, &flist.Entry{Name: dir, Mode: flist.SIFDIR | 0o755})
			for k := range 100 {
				name := fmt.Sprintf("%s/f%03d.html", dir, k)
				entries = append(entries, &flist.Entry{Name: name, Mode: flist.SIFREG | 0o644, Checksum: []byte(name[:16])})
			}
		}
	}
	flist.Sort(entries)
	return entries
}

// BenchmarkBuilderListing makes the manifest of a 100,000-file listing
// (two directory levels, 100 entries a directory) handed over as an
// incremental listing hands it, and with the entries shuffled (the sort
// every listing used to pay).
func BenchmarkBuilderListing(b *testing.B) {
	entries := siteListing()
	byDir := byDirectory(entries, func([]string) {})
	shuffled := slices.Clone(entries)
	rand.New(rand.NewPCG(7, 8)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, bc := range []struct {
		name string
		in   []*flist.Entry
	}{{"by-directory", byDir}, {"shuffled", shuffled}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				bld := NewBuilder("", Content, DefaultOptions())
				for _, e := range bc.in {
					bld.Add(e)
				}
				if m := bld.Manifest(csum.XXH128); len(m.Items) != len(entries) {
					b.Fatalf("%d items", len(m.Items))
				}
			}
		})
	}
}
