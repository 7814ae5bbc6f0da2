//go:build unix

package tree

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// TestEachIsLocal: DigestCache.Each hands over the items of the manifest
// Local makes of the same tree, one by one in its order — symlinks, hard
// links (later names naming the first), excluded paths, both modes and
// both sides of the trailing-slash rule — and a Hasher fed them makes the
// manifest's hash. What a plan folds over the stream is then what it
// would have made of the manifest.
func TestEachIsLocal(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	testtree.Write(t, root, testtree.Rich())
	for i := 0; i < 3; i++ {
		if err := os.Link(filepath.Join(root, "index.html"), filepath.Join(root, fmt.Sprintf("docs/link%d.html", i))); err != nil {
			t.Fatal(err)
		}
	}
	rules, err := filter.New(nil, []string{"*.md"})
	if err != nil {
		t.Fatal(err)
	}
	cache := NewDigestCache(t.TempDir())
	for _, source := range []string{root + "/", root} {
		for _, mode := range []Mode{Content, Metadata} {
			for _, opts := range []Options{DefaultOptions(), {HardLinks: true}} {
				for _, rules := range []*filter.List{nil, rules} {
					name := fmt.Sprintf("%s mode=%d hardlinks=%v rules=%v", filepath.Base(source), mode, opts.HardLinks, rules != nil)
					want, _, _, err := cache.Local(ctx, source, rules, mode, csum.XXH128, opts)
					if err != nil {
						t.Fatal(err)
					}
					var got []Item
					h := NewHasher(mode, csum.XXH128)
					_, _, err = cache.Each(ctx, source, rules, mode, csum.XXH128, opts, func(it *Item) {
						got = append(got, *it)
						h.Add(it)
					})
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want.Items) {
						t.Errorf("%s: Each handed over\n%v\nthe manifest holds\n%v", name, got, want.Items)
					}
					if h.Sum() != want.Hash() {
						t.Errorf("%s: hash of the stream %s, of the manifest %s", name, h.Sum(), want.Hash())
					}
					if opts.HardLinks && !hasLink(got) {
						t.Errorf("%s: no item names a hard link's first name", name)
					}
				}
			}
		}
	}
}

func hasLink(items []Item) bool {
	for i := range items {
		if items[i].LinkTo() != "" {
			return true
		}
	}
	return false
}

// TestEachOutOfOrder: entries handed over out of rsync's order are not a
// manifest's, and the stream says so instead of passing them for one.
func TestEachOutOfOrder(t *testing.T) {
	var n int
	s := &itemStream{mode: Metadata, opts: DefaultOptions(), yield: func(*Item) { n++ }}
	for _, name := range []string{".", "b", "a"} {
		e := flist.Entry{Name: name, Mode: flist.SIFREG | 0o644}
		s.addInOrder(&e)
	}
	if !s.disordered || n != 3 {
		t.Fatalf("disordered=%v after %d items, want true after 3", s.disordered, n)
	}
}
