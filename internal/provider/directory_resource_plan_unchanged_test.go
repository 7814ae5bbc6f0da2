package provider

import (
	"bytes"
	"encoding/gob"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// mergeUnchanged runs an unchangedMerge of src's items against dst stored
// as a listing and returns why it stopped ("" when it settled) and
// whether its walk was stopped.
func mergeUnchanged(t *testing.T, src, dst []tree.Item, del bool) (string, bool) {
	t.Helper()
	var buf bytes.Buffer
	if err := encodeListing(gob.NewEncoder(&buf), "k", &tree.Manifest{Mode: tree.Content, Algo: csum.XXH128, Items: dst}); err != nil {
		t.Fatal(err)
	}
	d, err := newListingDecoder(gob.NewDecoder(&buf), "k")
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	m := &unchangedMerge{dst: d, opts: tree.DiffOptions{Delete: del}, hash: tree.NewHasher(tree.Content, csum.XXH128), stop: func() { stopped = true }}
	for i := range src {
		m.add(&src[i])
	}
	if m.differs == "" {
		m.finish()
	}
	return m.differs, stopped
}

// TestUnchangedMergeSettlesOnlyNoChange: the streamed merge settles a
// destination that matches the source (files only there are left alone
// without delete, and what the source ignores is not compared), and
// stops at everything the plan from manifests would act on or warn of —
// a difference, a missing entry, a deletion, an unreadable entry, a
// leftover temporary file, a listing out of order — leaving that plan to
// it.
func TestUnchangedMergeSettlesOnlyNoChange(t *testing.T) {
	dir := func(n string) tree.Item { return tree.Item{Name: n, Kind: tree.Dir, Perm: 0o755} }
	file := func(n, content string) tree.Item {
		return tree.Item{Name: n, Kind: tree.File, Perm: 0o644, Size: int64(len(content))}.WithDigest([]byte(content))
	}
	src := []tree.Item{dir("."), file("a", "1"), dir("d"), file("d/x", "2"), file("d/y", "3")}
	with := func(items []tree.Item, f func([]tree.Item) []tree.Item) []tree.Item {
		return f(append([]tree.Item(nil), items...))
	}
	ignored := with(src, func(s []tree.Item) []tree.Item { s[1].Ignored = true; return s })
	for name, tc := range map[string]struct {
		src, dst []tree.Item
		del      bool
		settles  bool
	}{
		"the same":                  {src, src, true, true},
		"a file only on the server": {src, with(src, func(d []tree.Item) []tree.Item { return append(d[:3:3], file("d/w", "9"), d[3], d[4]) }), false, true},
		"the same file, ignored":    {ignored, with(src, func(d []tree.Item) []tree.Item { d[1] = file("a", "other"); return d }), true, true},
		"an edited file":            {src, with(src, func(d []tree.Item) []tree.Item { d[3] = file("d/x", "edited"); return d }), true, false},
		"another mode":              {src, with(src, func(d []tree.Item) []tree.Item { d[2].Perm = 0o700; return d }), true, false},
		"a missing file":            {src, with(src, func(d []tree.Item) []tree.Item { return d[:4] }), true, false},
		"a missing directory":       {src, with(src, func(d []tree.Item) []tree.Item { return d[:2] }), false, false},
		"a file to delete":          {src, with(src, func(d []tree.Item) []tree.Item { return append(d, file("z", "9")) }), true, false},
		"an unreadable directory":   {src, with(src, func(d []tree.Item) []tree.Item { d[2].Unreadable = true; return d }), true, false},
		"an unreadable file only there": {src, with(src, func(d []tree.Item) []tree.Item {
			u := file("d/w", "")
			u.Unreadable = true
			return append(d[:3:3], u, d[3], d[4])
		}), false, false},
		"a leftover temporary file": {src, with(src, func(d []tree.Item) []tree.Item { return append(d[:3:3], file("d/.x.AbC123", "2"), d[3], d[4]) }), false, false},
		"a listing out of order":    {src, with(src, func(d []tree.Item) []tree.Item { return append(d, file("d/x", "2")) }), false, false},
	} {
		why, stopped := mergeUnchanged(t, tc.src, tc.dst, tc.del)
		if (why == "") != tc.settles || stopped == tc.settles {
			t.Errorf("%s: settled %v (%q), walk stopped %v; want settled %v", name, why == "", why, stopped, tc.settles)
		}
	}
}
