package tree_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// TestLocalEqualsRemoteListing: a local tree and the stock rsync's
// checksummed listing of an exact copy hash equal, in both modes; a change
// on either side makes them differ and Diff names it.
func TestLocalEqualsRemoteListing(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "site")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := rsync.Push(ctx, rsync.ExecTransport{}, src+"/", dst, rsync.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []tree.Mode{tree.Content, tree.Metadata} {
		local, _, err := tree.Local(ctx, src+"/", nil, mode, csum.XXH128)
		if err != nil {
			t.Fatal(err)
		}
		l, err := rsync.List(ctx, rsync.ExecTransport{}, dst+"/", rsync.Options{Checksum: mode == tree.Content})
		if err != nil {
			t.Fatal(err)
		}
		remote := tree.FromEntries(l.Entries, "", mode, csum.XXH128)
		if local.Hash() != remote.Hash() {
			t.Fatalf("mode %d: local %s != remote %s", mode, local.Hash(), remote.Hash())
		}
		if c := tree.Diff(local, remote, true, nil); !c.Empty() {
			t.Fatalf("diff of equal trees: %+v", c)
		}
		// The same tree named without the trailing slash hashes the same.
		noSlash, _, err := tree.Local(ctx, src, nil, mode, csum.XXH128)
		if err != nil {
			t.Fatal(err)
		}
		if noSlash.Hash() != local.Hash() {
			t.Fatalf("%q and %q hash differently", src, src+"/")
		}
	}
	if err := os.WriteFile(filepath.Join(dst, "docs/guide/intro.md"), []byte("# edited on the server\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "extra.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	local, _, _ := tree.Local(ctx, src+"/", nil, tree.Content, csum.XXH128)
	l, err := rsync.List(ctx, rsync.ExecTransport{}, dst+"/", rsync.Options{Checksum: true})
	if err != nil {
		t.Fatal(err)
	}
	remote := tree.FromEntries(l.Entries, "", tree.Content, csum.XXH128)
	if local.Hash() == remote.Hash() {
		t.Fatal("an edit on the server did not change the hash")
	}
	c := tree.Diff(local, remote, true, nil)
	if len(c.Update) != 1 || c.Update[0] != "docs/guide/intro.md" || len(c.Delete) != 1 || c.Delete[0] != "extra.txt" || len(c.Create) != 0 {
		t.Fatalf("diff = %+v", c)
	}
	if c := tree.Diff(local, remote, false, nil); len(c.Delete) != 0 {
		t.Fatalf("deletions without delete: %+v", c)
	}
}

// TestDiffDeletesSpecials: a fifo (or device, socket) only in the
// destination is a deletion the plan must list, since the receiver deletes
// whatever the source does not name; one the source also has is spared
// and, as the engine does not copy specials, never planned as a create.
func TestDiffDeletesSpecials(t *testing.T) {
	entries := func(names ...string) []*flist.Entry {
		out := []*flist.Entry{{Name: ".", Mode: flist.SIFDIR | 0o755}}
		for _, n := range names {
			out = append(out, &flist.Entry{Name: n, Mode: flist.SIFIFO | 0o644})
		}
		return out
	}
	src := tree.FromEntries(entries("both"), "", tree.Content, csum.XXH128)
	dst := tree.FromEntries(entries("both", "only-dst"), "", tree.Content, csum.XXH128)
	if got := tree.Diff(src, dst, true, nil); len(got.Create)+len(got.Update) != 0 || len(got.Delete) != 1 || got.Delete[0] != "only-dst" {
		t.Errorf("Diff = %+v, want only the deletion of only-dst", got)
	}
	if got := tree.Diff(dst, src, false, nil); len(got.Create) != 1 || got.Create[0] != "only-dst" {
		t.Errorf("Diff of a source fifo = %+v, want its creation (specials are copied by default, as by rsync -a)", got)
	}
	noSpecials := tree.DefaultOptions()
	noSpecials.Specials = false
	ignored := tree.FromEntriesWith(entries("both", "only-dst"), "", tree.Content, csum.XXH128, noSpecials)
	if got := tree.Diff(ignored, src, false, nil); !got.Empty() {
		t.Errorf("Diff of a source fifo with specials = false = %+v, want nothing", got)
	}
	if src.Hash() == tree.FromEntries(entries(), "", tree.Content, csum.XXH128).Hash() {
		t.Error("a fifo does not change the destination's hash")
	}
}

// TestDiffOwnerDirPerms: with OwnerDirPerms a destination directory that
// is the source's with u+rwx added (what a stock rsync not running as root
// leaves) is the same; any other difference, and a file's, still counts;
// without the option the directory is an update.
func TestDiffOwnerDirPerms(t *testing.T) {
	tr := func(dirMode, fileMode uint32) *tree.Manifest {
		return tree.FromEntries([]*flist.Entry{
			{Name: ".", Mode: flist.SIFDIR | 0o755},
			{Name: "locked", Mode: flist.SIFDIR | dirMode},
			{Name: "plain", Mode: flist.SIFIFO | fileMode},
		}, "", tree.Content, csum.XXH128)
	}
	src := tr(0o311, 0o311)
	for _, tc := range []struct {
		name      string
		dst       *tree.Manifest
		owner     bool
		wantDirty []string
	}{
		{"u+rwx added, lenient", tr(0o711, 0o311), true, nil},
		{"u+rwx added, strict", tr(0o711, 0o311), false, []string{"locked/"}},
		{"other bits, lenient", tr(0o751, 0o311), true, []string{"locked/"}},
		{"fewer bits, lenient", tr(0o111, 0o311), true, []string{"locked/"}},
		{"not a directory, lenient", tr(0o311, 0o711), true, []string{"plain"}},
		{"equal, strict", tr(0o311, 0o311), false, nil},
	} {
		got := tree.DiffWith(src, tc.dst, tree.DiffOptions{OwnerDirPerms: tc.owner})
		if len(got.Create)+len(got.Delete) != 0 || strings.Join(got.Update, ",") != strings.Join(tc.wantDirty, ",") {
			t.Errorf("%s: Diff = %+v, want updates %v", tc.name, got, tc.wantDirty)
		}
	}
}

// TestDiffUnreadable: a file the lister could not read (zero checksum) is
// compared by size, time and permissions; nothing below a directory it
// could not list is compared or deleted.
func TestDiffUnreadable(t *testing.T) {
	src := tree.FromEntries([]*flist.Entry{
		{Name: ".", Mode: flist.SIFDIR | 0o755},
		{Name: "locked", Mode: flist.SIFDIR | 0o700},
		{Name: "locked/in.txt", Mode: flist.SIFREG | 0o644, Size: 3, Checksum: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
		{Name: "secret", Mode: flist.SIFREG, Size: 5, ModTime: 100, Checksum: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
	}, "", tree.Content, csum.XXH128)
	dstEntries := func(mtime int64) []*flist.Entry {
		return []*flist.Entry{
			{Name: ".", Mode: flist.SIFDIR | 0o755},
			{Name: "locked", Mode: flist.SIFDIR | 0o700},
			{Name: "secret", Mode: flist.SIFREG, Size: 5, ModTime: mtime, Checksum: make([]byte, 16)},
		}
	}
	dst := tree.FromEntries(dstEntries(100), "", tree.Content, csum.XXH128)
	dst.MarkUnlisted([]string{"locked"})
	if got := tree.Diff(src, dst, true, nil); !got.Empty() {
		t.Errorf("Diff = %+v, want nothing", got)
	}
	if files, dirs := dst.Unreadable(); len(files) != 1 || files[0] != "secret" || len(dirs) != 1 || dirs[0] != "locked/" {
		t.Errorf("Unreadable() = %q, %q", files, dirs)
	}
	touched := tree.FromEntries(dstEntries(200), "", tree.Content, csum.XXH128)
	touched.MarkUnlisted([]string{"locked"})
	if got := tree.Diff(src, touched, true, nil); len(got.Update) != 1 || got.Update[0] != "secret" {
		t.Errorf("Diff after a time change = %+v, want secret updated", got)
	}
	if dst.Hash() == touched.Hash() {
		t.Error("an unreadable file's time is not in the hash")
	}
}

// FromEntries consumes its list (each entry is let go once it is an
// item), so that a large listing and its manifest do not peak together.
func TestFromEntriesConsumesTheList(t *testing.T) {
	list := []*flist.Entry{
		{Name: ".", Mode: flist.SIFDIR | 0o755},
		{Name: "a.txt", Mode: flist.SIFREG | 0o644, Size: 3, Checksum: []byte("0123456789abcdef")},
	}
	m := tree.FromEntries(list, "", tree.Content, csum.XXH128)
	if len(m.Items) != 2 || m.Items[1].Name != "a.txt" || string(m.Items[1].Digest()) != "0123456789abcdef" {
		t.Fatalf("items = %+v", m.Items)
	}
	for i, e := range list {
		if e != nil {
			t.Errorf("entry %d (%s) still held after FromEntries", i, e.Name)
		}
	}
}

// TestBuilderEqualsFromEntries: the stock rsync's listing of a rich tree,
// handed to a Builder as ListEach hands it over and in a shuffled order,
// makes the manifest FromEntries makes of List's sorted entries, with and
// without a prefix.
func TestBuilderEqualsFromEntries(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "site")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())
	for _, path := range []string{src + "/", src} {
		prefix := tree.ContentRoot(path)
		l, err := rsync.List(ctx, rsync.ExecTransport{}, path, rsync.Options{Checksum: true})
		if err != nil {
			t.Fatal(err)
		}
		algo, _ := csum.ByName(l.Checksum)
		b := tree.NewBuilder(prefix, tree.Content, tree.DefaultOptions())
		if _, err := rsync.ListEach(ctx, rsync.ExecTransport{}, path, rsync.Options{Checksum: true}, b.Add); err != nil {
			t.Fatal(err)
		}
		shuffled := append([]*flist.Entry(nil), l.Entries...)
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		sb := tree.NewBuilder(prefix, tree.Content, tree.DefaultOptions())
		for _, e := range shuffled {
			sb.Add(e)
		}
		want := tree.FromEntries(l.Entries, prefix, tree.Content, algo)
		for name, got := range map[string]*tree.Manifest{"as listed": b.Manifest(algo), "shuffled": sb.Manifest(algo)} {
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %q: the builder's manifest differs from FromEntries':\n%+v\n%+v", name, path, got.Items, want.Items)
			}
		}
		if len(want.Items) < 10 {
			t.Fatalf("%q: only %d items listed", path, len(want.Items))
		}
	}
}

// TestBuilderChunks: more entries than a chunk holds, sorted or shuffled,
// make the manifest FromEntries makes.
func TestBuilderChunks(t *testing.T) {
	var entries []*flist.Entry
	entries = append(entries, &flist.Entry{Name: ".", Mode: flist.SIFDIR | 0o755})
	for d := range 25 {
		dir := fmt.Sprintf("d%02d", d)
		entries = append(entries, &flist.Entry{Name: dir, Mode: flist.SIFDIR | 0o755})
		for f := range 400 {
			entries = append(entries, &flist.Entry{Name: fmt.Sprintf("%s/f%03d", dir, f), Mode: flist.SIFREG | 0o644, Size: int64(f), Checksum: []byte{byte(d), byte(f)}})
		}
	}
	flist.Sort(entries)
	for _, shuffle := range []bool{false, true} {
		in := append([]*flist.Entry(nil), entries...)
		if shuffle {
			rand.New(rand.NewPCG(3, 4)).Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		}
		b := tree.NewBuilder("", tree.Content, tree.DefaultOptions())
		for _, e := range in {
			b.Add(e)
		}
		got := b.Manifest(csum.XXH128)
		want := tree.FromEntries(append([]*flist.Entry(nil), entries...), "", tree.Content, csum.XXH128)
		if len(got.Items) != 10026 || !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffled %v: %d items, equal %v", shuffle, len(got.Items), reflect.DeepEqual(got, want))
		}
	}
}
