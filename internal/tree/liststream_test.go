package tree_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// streamList lists path with the stock rsync through ListLists into a
// ListStream and returns the items it handed over, the most it held, and
// the listing.
func streamList(t *testing.T, path string, opts rsync.Options) ([]tree.Item, int, *rsync.Listing, error) {
	t.Helper()
	var got []tree.Item
	s := tree.NewListStream(tree.ContentRoot(path), tree.Content, tree.DefaultOptions(), func(it *tree.Item) { got = append(got, *it) })
	l, err := rsync.ListLists(context.Background(), rsync.ExecTransport{}, path, opts, func(fl rsync.FileList) {
		s.AddList(fl.Dir, fl.Entries, fl.Whole)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, s.Held(), l, s.Close()
}

// TestListStreamIsTheManifest: the stock rsync's listing of a tree with
// empty directories, deep ones and wide ones, handed over by ListStream
// as it arrives, is the manifest FromEntries makes of List's sorted
// entries — under incremental recursion (rsync 3.5.0 and 3.2.7) and
// without it (a server at protocol 29), on both sides of the
// trailing-slash rule — and under incremental recursion the stream holds
// a few directories' worth, not the tree.
func TestListStreamIsTheManifest(t *testing.T) {
	src := filepath.Join(t.TempDir(), "site")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())
	for _, d := range []string{"empty", "a/empty", "a/b/c/d/e", "z/empty/", "m-n", "m.n", "m"} {
		if err := os.MkdirAll(filepath.Join(src, "more", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for d := range 30 {
		for f := range 20 {
			p := filepath.Join(src, "wide", fmt.Sprintf("d%02d", d), fmt.Sprintf("f%02d", f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, server := range []string{"", sshtest.Rsync327(t), "rsync --protocol=29"} {
		for _, path := range []string{src + "/", src} {
			opts := rsync.Options{Checksum: true, RsyncPath: server}
			l, err := rsync.List(context.Background(), rsync.ExecTransport{}, path, opts)
			if err != nil {
				t.Fatal(err)
			}
			algo, _ := csum.ByName(l.Checksum)
			want := tree.FromEntries(l.Entries, tree.ContentRoot(path), tree.Content, algo)
			got, held, sl, err := streamList(t, path, opts)
			if err != nil {
				t.Fatalf("%q %q: %v", server, path, err)
			}
			if !reflect.DeepEqual(got, want.Items) {
				t.Errorf("%q %q: the stream differs from the manifest:\n%v\n%v", server, path, names(got), names(want.Items))
			}
			if len(want.Items) < 600 {
				t.Fatalf("%q %q: only %d items listed", server, path, len(want.Items))
			}
			if sl.IncRecursive != !strings.Contains(server, "--protocol=29") {
				t.Fatalf("%q: incremental %v", server, sl.IncRecursive)
			}
			if sl.IncRecursive && held > 100 {
				t.Errorf("%q: the stream held %d items of %d at once", path, held, len(want.Items))
			}
		}
	}
}

func names(items []tree.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Name)
	}
	return out
}

// TestListStreamOutOfOrder: lists that do not come in the sender's
// directory order, or name an entry twice, end the stream with
// ErrListOrder instead of handing over items out of order.
func TestListStreamOutOfOrder(t *testing.T) {
	dir := func(n string) *flist.Entry { return &flist.Entry{Name: n, Mode: flist.SIFDIR | 0o755} }
	file := func(n string) *flist.Entry {
		return &flist.Entry{Name: n, Mode: flist.SIFREG | 0o644, Checksum: []byte{1}}
	}
	type list struct {
		dir     string
		entries []*flist.Entry
	}
	// Files sort before directories (protocol 29+).
	top := list{"", []*flist.Entry{dir("."), file("c"), dir("a"), dir("b")}}
	for name, tc := range map[string]struct {
		lists []list
		err   bool
	}{
		"in order":                           {[]list{top, {"a", []*flist.Entry{file("a/x")}}, {"b", []*flist.Entry{file("b/y")}}}, false},
		"empty lists absent":                 {[]list{top, {"b", []*flist.Entry{file("b/y")}}}, false},
		"b before a":                         {[]list{top, {"b", []*flist.Entry{file("b/y")}}, {"a", []*flist.Entry{file("a/x")}}}, true},
		"a twice":                            {[]list{top, {"a", nil}, {"a", []*flist.Entry{file("a/x")}}}, true},
		"no such directory":                  {[]list{top, {"q", []*flist.Entry{file("q/x")}}}, true},
		"a name twice":                       {[]list{top, {"a", []*flist.Entry{file("a/x"), file("a/x")}}}, true},
		"unsorted list":                      {[]list{top, {"a", []*flist.Entry{file("a/y"), file("a/x")}}}, true},
		"a file and a directory of one name": {[]list{top, {"a", []*flist.Entry{file("a/x"), dir("a/x")}}}, true},
	} {
		var got []string
		s := tree.NewListStream("", tree.Content, tree.DefaultOptions(), func(it *tree.Item) { got = append(got, it.Name) })
		for _, l := range tc.lists {
			s.AddList(l.dir, append([]*flist.Entry(nil), l.entries...), false)
		}
		err := s.Close()
		if tc.err != errors.Is(err, tree.ErrListOrder) {
			t.Errorf("%s: %v after %v", name, err, got)
		}
		if name == "in order" && !reflect.DeepEqual(got, []string{".", "c", "a", "a/x", "b", "b/y"}) {
			t.Errorf("%s: %v", name, got)
		}
	}
}
