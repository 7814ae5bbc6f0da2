package flist

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWalkLocalPath checks, for every form a source takes, the names Walk
// lists (rsync's trailing-slash rule) and that LocalPath gives back the
// path the file is read from, spelled as the source spelled it.
func TestWalkLocalPath(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"dir", "dir/sub"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"dir/a.txt", "dir/sub/b.txt", "file.txt"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("content of "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("dir", filepath.Join(root, "ln")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(root, "dir/link")); err != nil {
		t.Fatal(err)
	}
	inDir := []string{".", "a.txt", "link", "sub", "sub/b.txt"}
	asDir := []string{"dir", "dir/a.txt", "dir/link", "dir/sub", "dir/sub/b.txt"}
	cases := []struct {
		src   string
		chdir bool // src is relative to root
		names []string
		paths map[string]string // name -> LocalPath, and which file it holds
	}{
		{src: root + "/dir/", names: inDir, paths: map[string]string{"a.txt": root + "/dir/a.txt", "sub/b.txt": root + "/dir/sub/b.txt"}},
		{src: root + "/dir/.", names: inDir, paths: map[string]string{"a.txt": root + "/dir/a.txt"}},
		{src: root + "/dir", names: asDir, paths: map[string]string{"dir/a.txt": root + "/dir/a.txt", "dir/sub/b.txt": root + "/dir/sub/b.txt"}},
		{src: root + "//dir", names: asDir, paths: map[string]string{"dir/a.txt": root + "/dir/a.txt"}},
		{src: root + "/ln/", names: inDir, paths: map[string]string{"a.txt": root + "/ln/a.txt"}},
		{src: root + "/file.txt", names: []string{"file.txt"}, paths: map[string]string{"file.txt": root + "/file.txt"}},
		{src: "dir/", chdir: true, names: inDir, paths: map[string]string{"a.txt": "dir/a.txt"}},
		{src: "dir", chdir: true, names: asDir, paths: map[string]string{"dir/a.txt": "dir/a.txt"}},
		{src: "./dir", chdir: true, names: asDir, paths: map[string]string{"dir/a.txt": "dir/a.txt"}},
		{src: "dir/sub", chdir: true, names: []string{"sub", "sub/b.txt"}, paths: map[string]string{"sub/b.txt": "dir/sub/b.txt"}},
		{src: "file.txt", chdir: true, names: []string{"file.txt"}, paths: map[string]string{"file.txt": "file.txt"}},
		{src: "dir/a.txt", chdir: true, names: []string{"a.txt"}, paths: map[string]string{"a.txt": "dir/a.txt"}},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			if tc.chdir {
				t.Chdir(root)
			}
			res, err := Walk(tc.src, nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			byName := map[string]*Entry{}
			for _, e := range res.Entries {
				names = append(names, e.Name)
				byName[e.Name] = e
			}
			if !slices.Equal(names, tc.names) {
				t.Fatalf("names %q, want %q", names, tc.names)
			}
			for name, want := range tc.paths {
				got := res.LocalPath(byName[name])
				if got != want {
					t.Errorf("LocalPath(%s) = %q, want %q", name, got, want)
				}
				data, err := os.ReadFile(got)
				if err != nil {
					t.Fatal(err)
				}
				if wantData := "content of " + filepath.ToSlash(mustRel(t, root, want, tc.chdir)); string(data) != wantData {
					t.Errorf("%s holds %q, want %q", got, data, wantData)
				}
			}
		})
	}
}

// mustRel is p relative to root, with a source symlinked in ("ln") read
// as the directory it points to.
func mustRel(t *testing.T, root, p string, relative bool) string {
	t.Helper()
	if relative {
		p = filepath.Join(root, p)
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(realRoot, resolved)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// TestWalkMostExcluded: a directory whose entries are mostly excluded
// gets its kept entries and names moved to storage of their own size
// (repack); they must come out unchanged.
func TestWalkMostExcluded(t *testing.T) {
	root := t.TempDir()
	var want []string
	for i := range 12 {
		name := fmt.Sprintf("drop%02d.tmp", i)
		if i%4 == 0 {
			name = fmt.Sprintf("keep-%d.txt", i)
			want = append(want, name)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Walk(root+"/", func(name string, _ bool) bool { return strings.HasSuffix(name, ".tmp") })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range res.Entries[1:] {
		got = append(got, e.Name)
		data, err := os.ReadFile(res.LocalPath(e))
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != e.Name || e.Size != int64(len(e.Name)) {
			t.Errorf("%s: content %q, size %d", e.Name, data, e.Size)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
}

// TestWalkOrderIsSortOrder: the walk puts each directory's sorted entries
// together depth first, in parallel; the list must be what sorting the
// whole of it gives (rsync's order: f_name_cmp), on names where a file, a
// directory and a longer name share a prefix, at several depths, with and
// without the source's own name in front. Run repeatedly: directories are
// read on several goroutines.
func TestWalkOrderIsSortOrder(t *testing.T) {
	root := t.TempDir()
	var paths []string
	for _, top := range []string{"a", "a.b", "a-b", "ab", "b", "z"} {
		paths = append(paths, top+"/x", top+"/x.y/deep", top+"/x-y", top+"/x0/q/r/s", top+"/x-/z")
		paths = append(paths, top+".txt", top+"-file")
	}
	for _, p := range paths {
		full := filepath.Join(root, "src", p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(full); err == nil {
			continue
		}
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		for _, src := range []string{filepath.Join(root, "src") + "/", filepath.Join(root, "src")} {
			res, err := Walk(src, nil)
			if err != nil {
				t.Fatal(err)
			}
			sorted := slices.Clone(res.Entries)
			Sort(sorted)
			if !slices.Equal(sorted, res.Entries) {
				var got, want []string
				for i := range sorted {
					got, want = append(got, res.Entries[i].Name), append(want, sorted[i].Name)
				}
				t.Fatalf("%s: walk order\n%q\nsorted\n%q", src, got, want)
			}
			if len(res.Entries) < len(paths) {
				t.Fatalf("%d entries for %d paths", len(res.Entries), len(paths))
			}
		}
	}
}
