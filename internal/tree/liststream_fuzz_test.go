package tree

import (
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/fuzzseed"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// FuzzListStream: whatever lists a sender makes up (in any order, naming
// any entries), ListStream never panics, and when it reports no error it
// handed over every item once, each after the one before it in rsync's
// order: the manifest of what was listed. Input: one list per line,
// "DIR|NAME,NAME/,...", the first line the first list (its DIR ignored),
// a trailing "/" a directory.
func FuzzListStream(f *testing.F) {
	for _, s := range listStreamSeeds() {
		f.Add(s.Args[0].(string))
	}
	f.Fuzz(func(t *testing.T, data string) {
		lines := strings.Split(data, "\n")
		if len(lines) > 200 {
			lines = lines[:200]
		}
		var out []Item
		s := NewListStream("", Content, DefaultOptions(), func(it *Item) { out = append(out, *it) })
		given := 0
		for _, line := range lines {
			dir, names, _ := strings.Cut(line, "|")
			var entries []*flist.Entry
			for _, n := range strings.Split(names, ",") {
				if n == "" || len(entries) > 200 {
					continue
				}
				e := &flist.Entry{Name: n, Mode: flist.SIFREG | 0o644, Checksum: []byte{1}}
				if strings.HasSuffix(n, "/") && len(n) > 1 {
					e.Name, e.Mode = strings.TrimSuffix(n, "/"), flist.SIFDIR|0o755
				}
				entries = append(entries, e)
			}
			given += len(entries)
			s.AddList(dir, entries, false)
		}
		if err := s.Close(); err != nil {
			return
		}
		if len(out) != given {
			t.Fatalf("handed over %d items of %d listed, with no error: %v", len(out), given, names(out))
		}
		for i := 1; i < len(out); i++ {
			if compareItems(&out[i-1], &out[i]) >= 0 {
				t.Fatalf("%q handed over after %q: %v", out[i].Name, out[i-1].Name, names(out))
			}
		}
	})
}

func names(items []Item) []string {
	var out []string
	for i := range items {
		out = append(out, items[i].Name)
	}
	return out
}

// listStreamSeeds: lists in the sender's order (a trailing-slash source,
// empty directories, nesting), out of it, and a file and a directory of
// one name.
func listStreamSeeds() []fuzzseed.Seed {
	return []fuzzseed.Seed{
		{Name: "in-order", Args: []any{"|./,c,a/,b/\na|a/x,a/d/\na/d|a/d/y\nb|b/y"}},
		{Name: "empty-directories", Args: []any{"|./,a/,b/\na|\nb|b/z"}},
		{Name: "no-slash-root", Args: []any{"|./\n.|f,g/\ng|g/h"}},
		{Name: "out-of-order", Args: []any{"|./,a/,b/\nb|b/y\na|a/x"}},
		{Name: "twins", Args: []any{"|./,a/\na|a/x,a/x/"}},
		{Name: "stray-child", Args: []any{"|./,a/\na|b/x"}},
	}
}

func TestFuzzSeedCorpusListStream(t *testing.T) {
	fuzzseed.Check(t, "FuzzListStream", listStreamSeeds(), true)
}
