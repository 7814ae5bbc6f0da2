package bench

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/bench/enginechild"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// rsync -ac -n --delete -i output as rsync 3.x prints it for the drift a
// Drift tree has (a content change, a permission change, a missing file,
// an extra file and directory).
const itemized = `>fc.T...... css/site-12.css
.f...p..... img/logo-3.png
>f+++++++++ js/app-7.js
cd+++++++++ new-dir/
*deleting   drift-extra-dir/b.txt
*deleting   drift-extra-dir/a.txt
*deleting   drift-extra-dir/
*deleting   css/drift-extra.txt
`

func TestParseItemized(t *testing.T) {
	c, err := parseItemized(itemized)
	if err != nil {
		t.Fatal(err)
	}
	want := &Changes{
		Create: []string{"js/app-7.js", "new-dir/"},
		Update: []string{"css/site-12.css", "img/logo-3.png"},
		Delete: []string{"css/drift-extra.txt", "drift-extra-dir/", "drift-extra-dir/a.txt", "drift-extra-dir/b.txt"},
	}
	if !c.Equal(want) {
		t.Errorf("got %s\nwant %s", c, want)
	}
	if c, err := parseItemized(""); err != nil || c.Count() != 0 {
		t.Errorf("empty output: %v, %v", c, err)
	}
	for _, bad := range []string{"sending incremental file list\n", "total size is 5  speedup is 1.00\n"} {
		if _, err := parseItemized(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseListOnly(t *testing.T) {
	out := `drwxr-xr-x          4,096 2024/06/01 00:00:00 .
-rw-r--r--     10,000,000 2024/07/02 10:11:12 media/big file.bin
lrwxrwxrwx              9 2024/06/01 00:00:00 link -> media/big
drwxr-xr-x          4,096 2024/06/01 00:00:00 media
`
	names, err := parseListOnly(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".", "media/big file.bin", "link", "media"}; !reflect.DeepEqual(names, want) {
		t.Errorf("got %q, want %q", names, want)
	}
	if _, err := parseListOnly("receiving incremental file list\n"); err == nil {
		t.Error("a line that is not a listing: no error")
	}
	if enginechild.NamesDigest([]string{"b", "a"}) != enginechild.NamesDigest([]string{"a", "b"}) || enginechild.NamesDigest([]string{"a"}) == enginechild.NamesDigest([]string{"a", "b"}) {
		t.Error("namesDigest must identify the set of names")
	}
}

// TestDriftIsWhatTreeDiffSees checks the drifted tree against the
// engine's own comparison (what the drift scenario expects both tools to
// report), and that making it left the base tree alone.
func TestDriftIsWhatTreeDiffSees(t *testing.T) {
	dir := t.TempDir()
	spec := WebRootSpec{Seed: 5, Files: 120, Size: 2e6}
	base, err := GenerateWebRoot(t.Context(), filepath.Join(dir, "base"), spec)
	if err != nil {
		t.Fatal(err)
	}
	pristine, err := GenerateWebRoot(t.Context(), filepath.Join(dir, "pristine"), spec)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Drift(t.Context(), base, filepath.Join(dir, "drifted"), DriftSpec{Seed: 6, ContentEdits: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Expect.Summary(); got != "1 to create, 4 to update, 4 to delete" {
		t.Errorf("expect %s", got)
	}
	var all []string
	for _, f := range base.Files {
		all = append(all, f.Path)
	}
	if err := CompareTrees(pristine.Root, base.Root, all); err != nil {
		t.Fatalf("the base tree changed: %v", err)
	}
	src, _, err := tree.Local(t.Context(), base.Root+"/", nil, tree.Content, csum.XXH128)
	if err != nil {
		t.Fatal(err)
	}
	dst, _, err := tree.Local(t.Context(), d.Root+"/", nil, tree.Content, csum.XXH128)
	if err != nil {
		t.Fatal(err)
	}
	diff := tree.Diff(src, dst, true, nil)
	got := &Changes{Create: diff.Create, Update: diff.Update, Delete: diff.Delete}
	got.sort()
	if !got.Equal(&d.Expect) {
		t.Errorf("tree.Diff: %s\nwant %s", got, &d.Expect)
	}
	// Only content shows the edits: sizes and times are the base's.
	meta := tree.Diff(mustLocal(t, base.Root, tree.Metadata), mustLocal(t, d.Root, tree.Metadata), true, nil)
	if len(meta.Update) != 1 { // the permission change
		t.Errorf("by size and time, %d updates (%v); want only the permission change", len(meta.Update), meta.Update)
	}
}

func mustLocal(t *testing.T, root string, mode tree.Mode) *tree.Manifest {
	t.Helper()
	m, _, err := tree.Local(t.Context(), root+"/", nil, mode, csum.XXH128)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
