package flist

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// mk builds an entry from a short spec: a trailing "/" makes a directory
// (and is not part of the name); "." is the transfer root.
func mk(spec string) *Entry {
	if spec == "." {
		return &Entry{Name: ".", Mode: SIFDIR | 0o755}
	}
	if name, ok := strings.CutSuffix(spec, "/"); ok {
		return &Entry{Name: name, Mode: SIFDIR | 0o755}
	}
	return &Entry{Name: spec, Mode: SIFREG | 0o644}
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		// The root sorts first.
		{".", "a", -1},
		{".", "A/", -1},
		{".", ".", 0},
		// Within one directory every file precedes every directory
		// (NOTES.md §9.6: sub.txt < sub.d < sub).
		{"sub.txt", "sub.d/", -1},
		{"zzz", "a/", -1},
		{"sub/zzz", "sub/a/", -1},
		{"a", "a/", -1}, // a file and a directory of the same name
		// Directories compare as "name/": "." (0x2e) < "/" (0x2f).
		{"sub.d/", "sub/", -1},
		{"sub.d/d.txt", "sub/c.txt", -1},
		{"x-y/", "x/", -1}, // '-' (0x2d) < '/'
		{"x0/", "x/", 1},   // '0' (0x30) > '/'
		// A directory precedes its contents; a prefix sorts first.
		{"sub/", "sub/c.txt", -1},
		{"sub/", "sub/deeper/", -1},
		{"a", "a.b", -1},
		{"a", "ab", -1},
		// Deeper paths: the type decides at the first differing level.
		{"a/b/c", "a/bc", 1},      // "b" is a path, "bc" a file
		{"d/e/f", "d/e.txt", 1},   // the same one level down
		{"a/b/c", "a/b.c/d", 1},   // "b/" > "b.c/"
		{"a/b/z", "a/c/a", -1},    // "b/" < "c/"
		{"a/b/", "a/b/c/d/e", -1}, // ancestor first
		// Bytes compare unsigned; uppercase before lowercase.
		{"B", "a", -1},
		{"Z", "a", -1},
		{"z", "\x80", -1},
		{"\x7f", "\x80", -1},
		{"\x80", "\xff", -1},
		{"dir/\xe9t\xe9", "dir/zz", 1},
		// Equal entries.
		{"a", "a", 0},
		{"sub/", "sub/", 0},
		{"sub/c.txt", "sub/c.txt", 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q vs %q", tt.a, tt.b), func(t *testing.T) {
			a, b := mk(tt.a), mk(tt.b)
			if got := sign(Compare(a, b)); got != tt.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := sign(Compare(b, a)); got != -tt.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
			}
		})
	}
}

// TestSortCaptureOrder: a-push-p32's wire order sorts into the ndx order
// the server used (NOTES.md §9.6).
func TestSortCaptureOrder(t *testing.T) {
	wireOrder := []string{".", "sub.d/", "empty", "link", "b.sh", "sub/", "sub.txt", "a.txt", "sub.d/d.txt", "sub/c2.txt", "sub/c.txt"}
	want := []string{".", "a.txt", "b.sh", "empty", "link", "sub.txt", "sub.d", "sub.d/d.txt", "sub", "sub/c.txt", "sub/c2.txt"}
	var entries []*Entry
	for _, s := range wireOrder {
		entries = append(entries, mk(s))
	}
	Sort(entries)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sorted:\n got %q\nwant %q", got, want)
	}
}

// sortKey is an independent model of f_name_cmp from NOTES.md §9.6: each
// component becomes a type byte (0 for a file, 1 for a path, so files sort
// first) and its bytes, with a trailing "/" for paths; the root is empty.
// Comparing keys bytewise must order entries exactly as Compare does.
func sortKey(e *Entry) []byte {
	if e.Name == "." {
		return nil
	}
	comps := strings.Split(e.Name, "/")
	var k []byte
	for i, c := range comps {
		if i < len(comps)-1 || e.IsDir() {
			k = append(append(append(k, 1), c...), '/')
		} else {
			k = append(append(k, 0), c...)
		}
	}
	return k
}

func randomSortEntry(rng *rand.Rand) *Entry {
	comps := []string{"a", "b", "A", "Z", "a.b", "ab", "a-b", "a0", "sub", "sub.d", "\x80", "\xff", "\xc3\xa9", "x y"}
	if rng.IntN(40) == 0 {
		return mk(".")
	}
	var parts []string
	for n := 1 + rng.IntN(4); n > 0; n-- {
		parts = append(parts, comps[rng.IntN(len(comps))])
	}
	e := &Entry{Name: strings.Join(parts, "/"), Mode: SIFREG | 0o644}
	switch rng.IntN(4) {
	case 0:
		e.Mode = SIFDIR | 0o755
	case 1:
		e.Mode = SIFLNK | 0o777
	}
	return e
}

func TestCompareMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for range 200000 {
		a, b := randomSortEntry(rng), randomSortEntry(rng)
		want := sign(bytes.Compare(sortKey(a), sortKey(b)))
		if got := sign(Compare(a, b)); got != want {
			t.Fatalf("Compare(%q dir=%v, %q dir=%v) = %d, model says %d", a.Name, a.IsDir(), b.Name, b.IsDir(), got, want)
		}
	}
}

func TestSortIsStableAndOrdered(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	for round := range 50 {
		entries := make([]*Entry, 300)
		for i := range entries {
			entries[i] = randomSortEntry(rng)
			entries[i].Size = int64(i) // remembers the send order
		}
		Sort(entries)
		for i := 1; i < len(entries); i++ {
			a, b := entries[i-1], entries[i]
			switch c := bytes.Compare(sortKey(a), sortKey(b)); {
			case c > 0:
				t.Fatalf("round %d: %q before %q", round, a.Name, b.Name)
			case c == 0 && a.Size > b.Size:
				t.Fatalf("round %d: equal entries %q out of send order (%d before %d)", round, a.Name, a.Size, b.Size)
			}
		}
	}
}

// TestEntryOrderIsCompare: the walk's sort of one directory's entries
// agrees with Compare on every pair, on names built to share prefixes
// with "/"-adjacent bytes ('.', '-', '0') and files beside directories.
func TestEntryOrderIsCompare(t *testing.T) {
	bases := []string{"a", "a.b", "a-b", "a0", "ab", "b", "a\xff", "A", "a b"}
	for _, prefix := range []string{"", "dir/", "x/y/"} {
		var ents []Entry
		for _, b := range bases {
			ents = append(ents, Entry{Name: prefix + b, Mode: SIFREG}, Entry{Name: prefix + b + "d", Mode: SIFDIR})
			ents = append(ents, Entry{Name: prefix + b + ".", Mode: SIFDIR})
		}
		o := entryOrder{ents: ents, prefix: len(prefix)}
		for i := range ents {
			for j := range ents {
				if got, want := o.Less(i, j), Compare(&ents[i], &ents[j]) < 0; got != want {
					t.Errorf("%q < %q: %v, Compare says %v", ents[i].Name, ents[j].Name, got, want)
				}
			}
		}
	}
}

// TestCompareSiblingsIsCompare: for the entries of one directory (and the
// root "." among the top directory's), CompareSiblings on the last
// components says what Compare says on the whole names.
func TestCompareSiblingsIsCompare(t *testing.T) {
	bases := []string{"a", "a.b", "a-b", "a0", "ab", "b", "a\xff", "A", "a b", "a.", "-"}
	for _, prefix := range []string{"", "dir/", "x/y/"} {
		var ents []Entry
		if prefix == "" {
			ents = append(ents, Entry{Name: ".", Mode: SIFDIR})
		}
		for _, b := range bases {
			ents = append(ents, Entry{Name: prefix + b, Mode: SIFREG}, Entry{Name: prefix + b, Mode: SIFDIR})
		}
		for i := range ents {
			for j := range ents {
				a, b := &ents[i], &ents[j]
				got := CompareSiblings(a.Name[len(prefix):], a.IsDir(), b.Name[len(prefix):], b.IsDir())
				if want := Compare(a, b); got != want {
					t.Errorf("%q (dir %v) vs %q (dir %v): %d, Compare says %d", a.Name, a.IsDir(), b.Name, b.IsDir(), got, want)
				}
			}
		}
	}
}

// BenchmarkSortDirectory sorts the entries of one directory deep in a
// tree, as a listing does for each directory it reads or receives.
func BenchmarkSortDirectory(b *testing.B) {
	entries := make([]*Entry, 100)
	for i := range entries {
		entries[i] = &Entry{Name: fmt.Sprintf("site/assets/d%02d/file-%03d.txt", 7, (i*37)%100), Mode: SIFREG | 0o644}
		if i%10 == 0 {
			entries[i].Mode = SIFDIR | 0o755
		}
	}
	work := make([]*Entry, len(entries))
	for b.Loop() {
		copy(work, entries)
		Sort(work)
	}
}
