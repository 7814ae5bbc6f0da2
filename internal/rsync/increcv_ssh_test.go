//go:build unix

package rsync_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// incPullTree is a tree of several levels with empty directories, an
// excluded file and a protected directory's namesake.
func incPullTree() []testtree.Entry {
	tree := testtree.Rich()
	for i := range 3 {
		d := fmt.Sprintf("lvl%d", i)
		tree = append(tree,
			testtree.Entry{Path: d, Dir: true, Mode: 0o755},
			testtree.Entry{Path: d + "/a", Dir: true, Mode: 0o755},
			testtree.Entry{Path: d + "/a/b", Dir: true, Mode: 0o750},
			testtree.Entry{Path: d + "/a/b/c", Dir: true, Mode: 0o700},
			testtree.Entry{Path: d + "/a/b/c/deep.txt", Mode: 0o644, Content: []byte("deep " + d + "\n")},
			testtree.Entry{Path: d + "/a/empty", Dir: true, Mode: 0o755},
			testtree.Entry{Path: d + "/a/f.txt", Mode: 0o644, Content: []byte("f " + d + "\n")},
			testtree.Entry{Path: d + "/a/scratch.tmp", Mode: 0o644, Content: []byte("excluded\n")},
			testtree.Entry{Path: d + "/z.txt", Mode: 0o644, Content: []byte("z\n")},
		)
	}
	return tree
}

func putFile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInteropIncrementalPullOverSSH pulls a multi-level tree through a
// real sshd from rsync 3.5.0 (protocols 32, 31, 30) and 3.2.7 with
// incremental recursion (the servers must have set CF_INC_RECURSE), with
// delete, an exclude and a protect rule, twice: the second time after
// directories were added and removed on the server. After each pull the
// destination must be exactly what the stock rsync CLI makes of the same
// starting point with the same rules (rsync -a --delete --exclude
// --filter='P ...'), and the protected and excluded local files survive.
func TestInteropIncrementalPullOverSSH(t *testing.T) {
	srv := sshtest.Start(t)
	tr := sshTransport(t, srv)
	paths := map[string]string{
		"3.5.0 p32": "rsync",
		"3.5.0 p31": "rsync --protocol=31",
		"3.5.0 p30": "rsync --protocol=30",
		"3.2.7":     sshtest.Rsync327(t),
	}
	for name, rsyncPath := range paths {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			remote := filepath.Join(t.TempDir(), "remote")
			if err := os.Mkdir(remote, 0o755); err != nil {
				t.Fatal(err)
			}
			testtree.Write(t, remote, incPullTree())
			ours, oracle := filepath.Join(t.TempDir(), "ours"), filepath.Join(t.TempDir(), "oracle")
			for _, dst := range []string{ours, oracle} {
				putFile(t, filepath.Join(dst, "keep/local.txt"), "protected")
				putFile(t, filepath.Join(dst, "lvl0/a/b/stray.txt"), "extraneous, deep")
				putFile(t, filepath.Join(dst, "gone/deep/er/x.txt"), "an extraneous tree")
				putFile(t, filepath.Join(dst, "lvl1/a/empty/local.tmp"), "excluded here: kept")
				// The same times in both, so that what neither touches compares equal.
				err := filepath.WalkDir(dst, func(p string, _ fs.DirEntry, err error) error {
					if err != nil {
						return err
					}
					return os.Chtimes(p, time.Unix(1500000000, 0), time.Unix(1500000000, 0))
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			opts := rsync.Options{RsyncPath: rsyncPath, Delete: true, Exclude: []string{"*.tmp"}, Protect: []string{"/keep/"}}
			cli := []string{"-a", "--delete", "--exclude=*.tmp", "--filter=P /keep/"}
			pull := func(step string) {
				t.Helper()
				res, err := rsync.Pull(ctx, tr, remote+"/", ours, opts)
				if err != nil {
					t.Fatalf("%s: pull: %v", step, err)
				}
				if !res.IncRecursive {
					t.Fatalf("%s: the server did not negotiate incremental recursion", step)
				}
				out, err := exec.Command("rsync", append(cli, remote+"/", oracle+"/")...).CombinedOutput()
				if err != nil {
					t.Fatalf("%s: rsync CLI: %v: %s", step, err, out)
				}
				// lvl1 survives the second pull for its excluded file; its
				// times are those of the deletions in it, which nobody sets.
				for _, dst := range []string{ours, oracle} {
					for _, p := range []string{"lvl1", "lvl1/a"} {
						if _, err := os.Stat(filepath.Join(dst, p)); err == nil && step != "first pull" {
							if err := os.Chtimes(filepath.Join(dst, p), time.Unix(1500000000, 0), time.Unix(1500000000, 0)); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
				if err := testtree.Compare(oracle, ours); err != nil {
					t.Fatalf("%s: ours differs from the rsync CLI's: %v", step, err)
				}
				for _, p := range []string{"keep/local.txt", "lvl1/a/empty/local.tmp"} {
					if _, err := os.Stat(filepath.Join(ours, p)); err != nil {
						t.Errorf("%s: %s: %v", step, p, err)
					}
				}
				if _, err := os.Stat(filepath.Join(ours, "lvl0/a/scratch.tmp")); err == nil {
					t.Errorf("%s: an excluded file was pulled", step)
				}
			}
			pull("first pull")
			// Between runs: a new directory tree, a removed one, a
			// directory that became a file and a file that became a
			// directory.
			for _, p := range []string{"new/x/y/z.txt", "new/x/w.txt", "lvl2/a/b/c/more.txt"} {
				putFile(t, filepath.Join(remote, p), "added "+p)
			}
			if err := os.MkdirAll(filepath.Join(remote, "new/empty/too"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(remote, "lvl1")); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(remote, "lvl0/a/b")); err != nil {
				t.Fatal(err)
			}
			putFile(t, filepath.Join(remote, "lvl0/a/b"), "now a file")
			if err := os.Remove(filepath.Join(remote, "lvl2/z.txt")); err != nil {
				t.Fatal(err)
			}
			putFile(t, filepath.Join(remote, "lvl2/z.txt/inside.txt"), "now a directory")
			// Whole-second times: the rsync CLI leaves a directory's time
			// alone when only its nanoseconds differ, we do not.
			err := filepath.WalkDir(remote, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.Type()&fs.ModeSymlink != 0 {
					return err
				}
				fi, err := d.Info()
				if err != nil || fi.ModTime().Nanosecond() == 0 {
					return err
				}
				return os.Chtimes(p, time.Unix(1700000000, 0), time.Unix(1700000000, 0))
			})
			if err != nil {
				t.Fatal(err)
			}
			pull("second pull")
			// What the server removed went, but for the excluded file,
			// which keeps its directories (rsync: "cannot delete non-empty
			// directory").
			for _, p := range []string{"lvl1/a/b", "lvl1/z.txt", "lvl0/a/b/c", "lvl0/a/b/stray.txt"} {
				if _, err := os.Stat(filepath.Join(ours, p)); err == nil {
					t.Errorf("%s, removed on the server, survived", p)
				}
			}
			pull("no-change pull")
			// The drift listing of the changed tree, incremental and whole.
			inc, err := rsync.List(ctx, tr, remote+"/", rsync.Options{RsyncPath: rsyncPath, Checksum: true})
			if err != nil || !inc.IncRecursive {
				t.Fatalf("incremental list: %v (incremental: %v)", err, inc != nil && inc.IncRecursive)
			}
			whole, err := rsync.List(ctx, tr, remote+"/", rsync.Options{RsyncPath: rsyncPath, Checksum: true, NoIncRecursive: true})
			if err != nil || whole.IncRecursive {
				t.Fatalf("whole list: %v", err)
			}
			if !reflect.DeepEqual(inc.Entries, whole.Entries) || len(inc.Entries) < 40 {
				t.Errorf("the incremental listing (%d entries) differs from the whole one (%d)", len(inc.Entries), len(whole.Entries))
			}
		})
	}
}
