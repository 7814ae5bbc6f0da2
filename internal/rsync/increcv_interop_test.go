//go:build unix

package rsync

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// incTree is a multi-level tree with empty directories at several depths,
// so that the server sends many small lists, some empty.
func incTree() []testtree.Entry {
	tree := testtree.Rich()
	for i := range 3 {
		d := fmt.Sprintf("lvl%d", i)
		tree = append(tree,
			testtree.Entry{Path: d, Dir: true, Mode: 0o755},
			testtree.Entry{Path: d + "/a", Dir: true, Mode: 0o755},
			testtree.Entry{Path: d + "/a/b", Dir: true, Mode: 0o755},
			testtree.Entry{Path: d + "/a/b/c", Dir: true, Mode: 0o700},
			testtree.Entry{Path: d + "/a/b/c/deep.txt", Mode: 0o644, Content: []byte("deep " + d + "\n")},
			testtree.Entry{Path: d + "/a/empty", Dir: true, Mode: 0o755},
			testtree.Entry{Path: d + "/a/f.txt", Mode: 0o644, Content: []byte("f " + d + "\n")},
			testtree.Entry{Path: d + "/z.txt", Mode: 0o644, Content: []byte("z\n")},
		)
	}
	return tree
}

// TestInteropListIncremental: a checksummed listing taken with incremental
// recursion (which the servers must have agreed to) is entry for entry the
// listing taken without it, at every protocol that has it, from both
// stock servers, for a source with and without its trailing slash, a
// single file and an empty directory.
func TestInteropListIncremental(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, incTree())
	for _, srv := range servers(t) {
		for _, proto := range []int{32, 31, 30} {
			for _, path := range []string{src + "/", src, src + "/lvl0/a/f.txt", src + "/lvl1/a/empty/"} {
				t.Run(fmt.Sprintf("%s/p%d/%s", srv.version, proto, strings.TrimPrefix(path, filepath.Dir(src))), func(t *testing.T) {
					opts := Options{RsyncPath: fmt.Sprintf("%s --protocol=%d", srv.path, proto), Checksum: true, Logger: testLogger(t)}
					inc, err := List(context.Background(), ExecTransport{}, path, opts)
					if err != nil {
						t.Fatal(err)
					}
					if !inc.IncRecursive {
						t.Fatal("the server did not send an incremental list")
					}
					opts.NoIncRecursive = true
					whole, err := List(context.Background(), ExecTransport{}, path, opts)
					if err != nil {
						t.Fatal(err)
					}
					if whole.IncRecursive {
						t.Fatal("the server sent an incremental list we did not offer")
					}
					if len(inc.Entries) != len(whole.Entries) || len(inc.Entries) == 0 || (path == src && len(inc.Entries) < len(incTree())) {
						t.Fatalf("%d entries incrementally, %d whole (tree: %d)", len(inc.Entries), len(whole.Entries), len(incTree()))
					}
					for i := range inc.Entries {
						if !reflect.DeepEqual(inc.Entries[i], whole.Entries[i]) {
							t.Errorf("entry %d: incremental %+v, whole %+v", i, inc.Entries[i], whole.Entries[i])
						}
					}
					if inc.IOError != 0 || whole.IOError != 0 {
						t.Errorf("io_error %d / %d", inc.IOError, whole.IOError)
					}
				})
			}
		}
	}
}

// TestInteropIncrementalPullHoldsADirectoryAtATime pulls 80 directories of
// 100 files from rsync 3.5.0 and 3.2.7: the receiver holds what the sender
// sends ahead (about a thousand files past the one it is sending,
// flist.c:send_extra_file_list with MIN_FILECNT_LOOKAHEAD) plus the lists
// whose files are still in flight until the sender confirms their end,
// never the tree. Measured: 2,200 of 8,081 entries. The peak comes from
// the receiver's own count (logged at the end of the transfer).
func TestInteropIncrementalPullHoldsADirectoryAtATime(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for d := range 80 {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", f)), []byte{byte(f)}, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	const tree = 80*100 + 80 + 1
	peak := regexp.MustCompile(`peak_entries_held=(\d+)`)
	for _, srv := range servers(t) {
		t.Run(srv.version, func(t *testing.T) {
			var log bytes.Buffer
			logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: &log})
			dst := filepath.Join(t.TempDir(), "dst")
			res, err := Pull(context.Background(), ExecTransport{}, src+"/", dst, Options{RsyncPath: srv.path, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			if !res.IncRecursive || res.Stats.FilesTotal != tree || res.Stats.FilesTransferred != 80*100 {
				t.Fatalf("incremental %v, %d entries, %d transferred", res.IncRecursive, res.Stats.FilesTotal, res.Stats.FilesTransferred)
			}
			if err := testtree.Compare(src, dst); err != nil {
				t.Fatal(err)
			}
			m := peak.FindStringSubmatch(log.String())
			if m == nil {
				t.Fatalf("no peak in the log:\n%s", log.String())
			}
			n, _ := strconv.Atoi(m[1])
			t.Logf("peak entries held: %d of %d", n, tree)
			if n > 3*1000 {
				t.Errorf("held %d entries at once; want at most about twice the sender's lookahead (1000) plus the lists in flight", n)
			}
		})
	}
}

// TestInteropIncrementalPullSingleFile: a single file's first list is all
// there is (the sender ends the lists at once); it lands at a named path,
// or in an existing directory, as with one list.
func TestInteropIncrementalPullSingleFile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, incTree())
	for _, srv := range servers(t) {
		t.Run(srv.version, func(t *testing.T) {
			opts := Options{RsyncPath: srv.path, Delete: true, Logger: testLogger(t)}
			named := filepath.Join(t.TempDir(), "copy.txt")
			res, err := Pull(context.Background(), ExecTransport{}, src+"/lvl0/a/f.txt", named, opts)
			if err != nil || !res.IncRecursive {
				t.Fatalf("pull to a named path: %v (incremental %v)", err, res != nil && res.IncRecursive)
			}
			if b, err := os.ReadFile(named); err != nil || string(b) != "f lvl0\n" {
				t.Fatalf("%s: %q, %v", named, b, err)
			}
			dir := t.TempDir()
			if _, err := Pull(context.Background(), ExecTransport{}, src+"/lvl0/a/f.txt", dir, opts); err != nil {
				t.Fatalf("pull into a directory: %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "f.txt")); err != nil || string(b) != "f lvl0\n" {
				t.Fatalf("f.txt: %q, %v", b, err)
			}
		})
	}
}

// TestInteropIncrementalPullDryRunMatchesRealRun: an incremental dry-run
// pull with delete (what a pull's plan runs) reports exactly what the real
// pull then changes, new directories' contents and deletions in
// directories the server removed included, and changes nothing itself.
func TestInteropIncrementalPullDryRunMatchesRealRun(t *testing.T) {
	for _, srv := range servers(t) {
		t.Run(srv.version, func(t *testing.T) {
			ctx := context.Background()
			remote := filepath.Join(t.TempDir(), "remote")
			local := filepath.Join(t.TempDir(), "local")
			if err := os.Mkdir(remote, 0o755); err != nil {
				t.Fatal(err)
			}
			testtree.Write(t, remote, incTree())
			opts := Options{RsyncPath: srv.path, Delete: true, Logger: testLogger(t)}
			if _, err := Pull(ctx, ExecTransport{}, remote+"/", local, opts); err != nil {
				t.Fatal(err)
			}
			testtree.Mutate(t, remote)
			if err := os.RemoveAll(filepath.Join(remote, "lvl1")); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(local, "stray/deeper"), 0o755); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, local)
			dry := opts
			dry.DryRun = true
			planned, err := Pull(ctx, ExecTransport{}, remote+"/", local, dry)
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			if !planned.IncRecursive {
				t.Fatal("the dry run was not incremental")
			}
			if fmt.Sprint(before) != fmt.Sprint(snapshot(t, local)) {
				t.Fatal("the dry run changed the destination")
			}
			actual, err := Pull(ctx, ExecTransport{}, remote+"/", local, opts)
			if err != nil {
				t.Fatal(err)
			}
			want, got := changeSet(actual.Changes), changeSet(planned.Changes)
			if fmt.Sprint(want) != fmt.Sprint(got) {
				t.Errorf("dry run planned\n  %v\nreal run did\n  %v", got, want)
			}
			if got["stray/"] != ChangeDelete || got["lvl1/"] != ChangeDelete || got["new/dir/file.txt"] != ChangeCreate {
				t.Errorf("wrong kinds: %v", got)
			}
			if err := testtree.Compare(remote, local); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestInteropListEach: ListEach hands over every entry List returns, no
// more, once each, from both stock servers, with incremental recursion and
// with one list (protocol 29, and 32 without the offer), and keeps none.
func TestInteropListEach(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, incTree())
	for _, srv := range servers(t) {
		for _, tc := range []struct {
			proto int
			noInc bool
		}{{32, false}, {30, false}, {32, true}, {29, false}} {
			t.Run(fmt.Sprintf("%s/p%d/noinc=%v", srv.version, tc.proto, tc.noInc), func(t *testing.T) {
				opts := Options{RsyncPath: fmt.Sprintf("%s --protocol=%d", srv.path, tc.proto), Checksum: true, NoIncRecursive: tc.noInc, Logger: testLogger(t)}
				want, err := List(context.Background(), ExecTransport{}, src+"/", opts)
				if err != nil {
					t.Fatal(err)
				}
				var got []*flist.Entry
				l, err := ListEach(context.Background(), ExecTransport{}, src+"/", opts, func(e *flist.Entry) { got = append(got, e) })
				if err != nil {
					t.Fatal(err)
				}
				if l.IncRecursive != (tc.proto >= 30 && !tc.noInc) {
					t.Errorf("incremental: %v", l.IncRecursive)
				}
				if len(l.Entries) != 0 || l.Listed != len(got) || l.Listed != want.Listed || l.Checksum != want.Checksum {
					t.Fatalf("ListEach kept %d entries, listed %d (handed over %d); List listed %d; checksums %q / %q",
						len(l.Entries), l.Listed, len(got), want.Listed, l.Checksum, want.Checksum)
				}
				flist.SortProto(got, l.Protocol)
				if !reflect.DeepEqual(got, want.Entries) {
					t.Fatalf("ListEach's entries, sorted, differ from List's:\n%d: %v\n%d: %v", len(got), names(got), len(want.Entries), names(want.Entries))
				}
			})
		}
	}
}

func names(entries []*flist.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name)
	}
	return out
}
