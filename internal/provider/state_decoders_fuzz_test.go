package provider

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/fuzzseed"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// The decoders of what the provider keeps between runs — the drift
// baseline in private state, the listing file's packed items — read bytes
// that come back from a state file or a cache directory, which may be
// damaged or from another version: they must refuse what they did not
// write without panicking or allocating beyond the input's bounds.

// FuzzDecodeBaseline: decodeBaseline never panics, and what it accepts
// answers has() for any item.
func FuzzDecodeBaseline(f *testing.F) {
	for _, s := range baselineSeeds() {
		f.Add(s.Args[0].([]byte))
	}
	probe := file("a/b", "x")
	f.Fuzz(func(t *testing.T, data []byte) {
		b, ok := decodeBaseline(data)
		if ok {
			_ = b.has(&probe)
		}
	})
}

// FuzzUnpackItems: unpackItems never panics, and what it accepts packs
// back to the same bytes.
func FuzzUnpackItems(f *testing.F) {
	for _, s := range packedItemSeeds() {
		f.Add(s.Args[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := unpackItems(nil, data)
		if err != nil {
			return
		}
		if again := packItems(nil, items); !bytes.Equal(again, data) && len(items) > 0 {
			// Varints have more than one spelling: compare what the
			// repacked bytes decode to instead.
			back, err := unpackItems(nil, again)
			if err != nil || len(back) != len(items) {
				t.Fatalf("repacked items do not read back: %v", err)
			}
			for i := range back {
				if back[i].Name != items[i].Name || back[i].Size != items[i].Size || !bytes.Equal(back[i].Digest(), items[i].Digest()) {
					t.Fatalf("item %d reads back as %+v, was %+v", i, back[i], items[i])
				}
			}
		}
	})
}

// baselineSeeds: a baseline of a small tree (codes), its code set cut
// short, and one of the old sorted fingerprints.
func baselineSeeds() []fuzzseed.Seed {
	m := &tree.Manifest{Mode: tree.Content, Items: []tree.Item{file("a", "1"), file("b/c", "2"), file("b/d", "3")}}
	good := newBaseline(m, "xxh128:00", false).encode()
	return []fuzzseed.Seed{
		{Name: "codes", Args: []any{good}},
		{Name: "codes-cut", Args: []any{good[:len(good)-8]}},
		{Name: "prints", Args: []any{[]byte(`{"hash":"xxh128:00","prints":"` + base64.StdEncoding.EncodeToString(make([]byte, 16)) + `"}`)}},
	}
}

// packedItemSeeds: a directory, a file with a digest, a symlink and a
// device, packed; the file alone; the four cut short.
func packedItemSeeds() []fuzzseed.Seed {
	items := []tree.Item{{Name: ".", Kind: tree.Dir, Perm: 0o755}, file("a/b", "x")}
	link := tree.Item{Name: "a/l", Kind: tree.Symlink}
	link.SetTarget("b")
	dev := tree.Item{Name: "a/z", Kind: tree.CharDevice, Perm: 0o600}
	dev.SetRdev(1<<32 | 3)
	items = append(items, link, dev)
	packed := packItems(nil, items)
	return []fuzzseed.Seed{
		{Name: "four-kinds", Args: []any{packed}},
		{Name: "one-file", Args: []any{packItems(nil, items[1:2])}},
		{Name: "cut-short", Args: []any{packed[:len(packed)-3]}},
	}
}

func TestFuzzSeedCorpus(t *testing.T) {
	fuzzseed.Check(t, "FuzzDecodeBaseline", baselineSeeds(), true)
	fuzzseed.Check(t, "FuzzUnpackItems", packedItemSeeds(), true)
}
