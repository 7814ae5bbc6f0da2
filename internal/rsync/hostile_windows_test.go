//go:build windows

package rsync

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// TestHostileServerWindowsNames: names a Unix server can hold that would
// leave the destination on Windows — "\" is a separator there, and a
// drive letter or a leading "/" makes a path absolute or rooted — are
// refused, naming the path, before a pull onto Windows writes anything.
// The sender never reads the files (the list is refused first), so none
// exist.
func TestHostileServerWindowsNames(t *testing.T) {
	cases := []struct {
		name  string
		entry func(outside string) string
	}{
		{"backslash dot-dot", func(string) string { return `..\escape.txt` }},
		{"backslash dot-dot in a directory", func(string) string { return `sub\..\..\escape.txt` }},
		{"drive letter", func(outside string) string { return filepath.ToSlash(outside) + "/abs.txt" }},
		{"rooted on the current drive", func(outside string) string {
			return strings.TrimPrefix(filepath.ToSlash(outside), filepath.VolumeName(outside)) + "/rooted.txt"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outside := t.TempDir()
			parent := t.TempDir()
			dest := filepath.Join(parent, "dest")
			name := tc.entry(outside)
			entries := []*flist.Entry{
				dirEntry("."),
				{Name: name, Mode: flist.SIFREG | 0o644, Size: 5, ModTime: 1600000000},
			}
			flist.Sort(entries)
			walk := &flist.WalkResult{Entries: entries, Root: filepath.ToSlash(t.TempDir()) + "/"}
			tr := pipeTransport{serve: func(ctx context.Context, in io.Reader, out io.Writer) error {
				return serveSender(ctx, in, out, walk, Options{})
			}}
			_, err := Pull(context.Background(), tr, "src/", dest, Options{Logger: hclog.NewNullLogger()})
			if err == nil {
				t.Fatalf("the pull of %q succeeded", name)
			}
			if !strings.Contains(err.Error(), strconv.Quote(name)) {
				t.Errorf("the error does not name %q: %v", name, err)
			}
			assertEmpty(t, outside)
			// Nothing beside the destination, nothing in it.
			des, err := os.ReadDir(parent)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range des {
				if d.Name() != "dest" {
					t.Errorf("%s appeared beside the destination", d.Name())
				}
			}
			err = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if p != dest {
					t.Errorf("%s was written", p)
				}
				return nil
			})
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
		})
	}
}
