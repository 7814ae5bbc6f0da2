package rsync

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// TestDeleteSparesProtectedInsideDeletedDir: a directory that is not in
// the source is deleted except what protect or exclude rules spare inside
// it, and then kept, as the stock rsync does ("cannot delete non-empty
// directory"); a directory with nothing spared goes whole. Checked against
// rsync itself.
func TestDeleteSparesProtectedInsideDeletedDir(t *testing.T) {
	for _, opts := range []Options{
		{Delete: true, Protect: []string{".env"}},
		{Delete: true, Exclude: []string{".env"}},
	} {
		src, dst, stock := t.TempDir(), t.TempDir(), t.TempDir()
		write := func(root string, files ...string) {
			for _, f := range files {
				p := filepath.Join(root, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		write(src, "a")
		write(dst, "old/.env", "old/x", "old/deeper/.env", "old/deeper/y", "gone/z", "gone/sub/w")
		write(stock, "old/.env", "old/x", "old/deeper/.env", "old/deeper/y", "gone/z", "gone/sub/w")
		rule := "--exclude=.env"
		if opts.Protect != nil {
			rule = "--filter=P .env"
		}
		if out, err := exec.Command("rsync", "-a", "--delete", rule, src+"/", stock).CombinedOutput(); err != nil {
			t.Fatalf("rsync: %v: %s", err, out)
		}
		opts.Logger = testLogger(t)
		res, err := Local(context.Background(), src+"/", dst, opts)
		if err != nil {
			t.Fatal(err)
		}
		var deleted []string
		for _, c := range res.Changes {
			if c.Kind == ChangeDelete {
				deleted = append(deleted, c.Path)
			}
		}
		sort.Strings(deleted)
		if want := []string{"gone/", "old/deeper/y", "old/x"}; !reflect.DeepEqual(deleted, want) {
			t.Errorf("%+v: deleted %v, want %v", opts.Protect, deleted, want)
		}
		files := func(root string) []string {
			var left []string
			err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
				if err == nil && p != root {
					rel, _ := filepath.Rel(root, p)
					left = append(left, rel)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(left)
			return left
		}
		if got, want := files(dst), files(stock); !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: left %v, but rsync leaves %v", opts.Protect, got, want)
		}
		if got, want := files(dst), []string{"a", "old", "old/.env", "old/deeper", "old/deeper/.env"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: left %v, want %v", opts.Protect, got, want)
		}
	}
}
