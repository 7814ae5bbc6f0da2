//go:build unix

package rsync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// server is a stock rsync binary used as the remote side.
type server struct {
	version string
	path    string
}

func servers(t *testing.T) []server {
	t.Helper()
	stock, err := exec.LookPath("rsync")
	if err != nil {
		t.Fatal("rsync is not installed; install it (apt-get install rsync): the interop tests need a real peer")
	}
	return []server{{"3.5.0", stock}, {"3.2.7", sshtest.Rsync327(t)}}
}

// TestInteropPushMatrix pushes a rich tree to stock rsync servers (3.5.0
// and 3.2.7) at protocols 30, 31 and 32 with every checksum we negotiate,
// through a local pipe; then a mutated tree (delta transfer), then an
// unchanged one. After each push the destination must match the source
// exactly, and the no-change push must move no file data.
func TestInteropPushMatrix(t *testing.T) {
	interopMatrix(t, func(algo string) bool { return algo == "xxh3" || algo == "md5" }, pushAndCheck)
}

// interopMatrix runs check in parallel for both stock servers, protocols
// 30–32, every checksum and every compression (or none), with -c where
// withChecksum says and delete always on.
func interopMatrix(t *testing.T, withChecksum func(algo string) bool, check func(t *testing.T, opts Options, proto int, algo string)) {
	for _, srv := range servers(t) {
		for _, proto := range []int{32, 31, 30} {
			for _, algo := range []string{"xxh128", "xxh3", "xxh64", "md5"} {
				for _, compress := range []string{"", "zstd", "zlibx", "zlib"} {
					checksum := withChecksum(algo)
					name := fmt.Sprintf("%s/p%d/%s", srv.version, proto, algo)
					if checksum {
						name += "/c"
					}
					if compress != "" {
						name += "/z-" + compress
					}
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						opts := Options{
							RsyncPath:      fmt.Sprintf("%s --protocol=%d", srv.path, proto),
							ChecksumChoice: algo,
							Checksum:       checksum,
							Compress:       compress != "",
							CompressChoice: compress,
							Delete:         true,
							Logger:         testLogger(t),
						}
						check(t, opts, proto, algo)
					})
				}
			}
		}
	}
}

func pushAndCheck(t *testing.T, opts Options, proto int, algo string) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	dst := filepath.Join(t.TempDir(), "dst")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())

	push := func(step string) *Result {
		t.Helper()
		res, err := Push(ctx, ExecTransport{}, src+"/", dst+"/", opts)
		if err != nil {
			t.Fatalf("%s: push: %v", step, err)
		}
		if res.Protocol != proto || res.Checksum != algo {
			t.Fatalf("%s: negotiated protocol %d / %s, want %d / %s", step, res.Protocol, res.Checksum, proto, algo)
		}
		if wantZ := cmp.Or(opts.CompressChoice, "none"); res.Compression != wantZ {
			t.Fatalf("%s: negotiated compression %s, want %s", step, res.Compression, wantZ)
		}
		if err := testtree.Compare(src, dst); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return res
	}
	first := push("initial push")
	if first.Stats.LiteralBytes < 5<<20 {
		t.Errorf("initial push sent %d literal bytes, want the whole tree", first.Stats.LiteralBytes)
	}
	// A stray file on the receiver goes with delete; an excluded one stays.
	if err := os.WriteFile(filepath.Join(dst, "stray.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	testtree.Mutate(t, src)
	second := push("delta push")
	if second.Stats.MatchedBytes < 4<<20 {
		t.Errorf("delta push matched only %d bytes of big.bin", second.Stats.MatchedBytes)
	}
	// 31 changed bytes fall in at most two blocks (5 MiB → ~2.3 KB blocks),
	// plus the small files that changed.
	if second.Stats.LiteralBytes > 3*2296+200 {
		t.Errorf("delta push sent %d literal bytes for a 31-byte edit", second.Stats.LiteralBytes)
	}
	var deletedStray bool
	for _, c := range second.Changes {
		if c.Path == "stray.txt" && c.Kind == ChangeDelete {
			deletedStray = true
		}
	}
	if !deletedStray {
		t.Errorf("the stray file was not reported deleted: %+v", second.Changes)
	}
	third := push("no-change push")
	if third.Stats.FilesTransferred != 0 || third.Stats.LiteralBytes != 0 || len(third.Changes) != 0 {
		t.Errorf("no-change push did work: %+v, changes %+v", third.Stats, third.Changes)
	}
}

// snapshot records every entry of a tree with its metadata and content, to
// prove that a dry run changed nothing.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		desc := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(b)
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func changeSet(changes []Change) map[string]ChangeKind {
	m := map[string]ChangeKind{}
	for _, c := range changes {
		m[c.Path] = c.Kind
	}
	return m
}

// TestInteropDryRunMatchesRealRun: a dry run with delete reports exactly
// what the real run then changes or deletes, and changes nothing itself.
func TestInteropDryRunMatchesRealRun(t *testing.T) {
	for _, srv := range servers(t) {
		t.Run(srv.version, func(t *testing.T) {
			ctx := context.Background()
			src := filepath.Join(t.TempDir(), "src")
			dst := filepath.Join(t.TempDir(), "dst")
			if err := os.Mkdir(src, 0o755); err != nil {
				t.Fatal(err)
			}
			testtree.Write(t, src, testtree.Rich())
			opts := Options{RsyncPath: srv.path, Delete: true, Logger: testLogger(t)}
			if _, err := Push(ctx, ExecTransport{}, src+"/", dst+"/", opts); err != nil {
				t.Fatal(err)
			}
			testtree.Mutate(t, src)
			if err := os.WriteFile(filepath.Join(dst, "stray.txt"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dst)
			dry := opts
			dry.DryRun = true
			planned, err := Push(ctx, ExecTransport{}, src+"/", dst+"/", dry)
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			after := snapshot(t, dst)
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Fatal("the dry run changed the destination")
			}
			if planned.Stats.LiteralBytes != 0 {
				t.Errorf("the dry run sent %d bytes of file data", planned.Stats.LiteralBytes)
			}
			actual, err := Push(ctx, ExecTransport{}, src+"/", dst+"/", opts)
			if err != nil {
				t.Fatal(err)
			}
			want, got := changeSet(actual.Changes), changeSet(planned.Changes)
			if fmt.Sprint(want) != fmt.Sprint(got) {
				t.Errorf("dry run planned\n  %v\nreal run did\n  %v", got, want)
			}
			for _, p := range []string{"stray.txt", "docs/guide/intro.md", "big.bin", "new/dir/file.txt"} {
				if _, ok := got[p]; !ok {
					t.Errorf("dry run did not report %s: %v", p, got)
				}
			}
			if got["stray.txt"] != ChangeDelete || got["big.bin"] != ChangeUpdate || got["new/dir/file.txt"] != ChangeCreate {
				t.Errorf("wrong kinds: %v", got)
			}
		})
	}
}

// TestInteropExcludeSurvivesDelete: excluded paths are neither sent nor
// deleted on the receiver, as with rsync --delete --exclude.
func TestInteropExcludeSurvivesDelete(t *testing.T) {
	for _, srv := range servers(t) {
		t.Run(srv.version, func(t *testing.T) {
			src := t.TempDir()
			dst := t.TempDir()
			for name, body := range map[string]string{"index.html": "hi", "a.tmp": "tmp", "cache/c": "c"} {
				p := filepath.Join(src, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range []string{"keep.tmp", "cache/remote-only", "gone.txt"} {
				p := filepath.Join(dst, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("remote"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			opts := Options{RsyncPath: srv.path, Delete: true, Exclude: []string{"*.tmp", "cache/"}, Logger: testLogger(t)}
			if _, err := Push(context.Background(), ExecTransport{}, src+"/", dst+"/", opts); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"keep.tmp", "cache/remote-only", "index.html"} {
				if _, err := os.Stat(filepath.Join(dst, name)); err != nil {
					t.Errorf("%s should exist: %v", name, err)
				}
			}
			for _, name := range []string{"a.tmp", "cache/c", "gone.txt"} {
				if _, err := os.Stat(filepath.Join(dst, name)); err == nil {
					t.Errorf("%s should not exist", name)
				}
			}
		})
	}
}

// TestInteropRemoteErrors: the server's own words reach the caller.
func TestInteropRemoteErrors(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, rsyncPath, dest string
		code                  int
		text                  string
	}{
		{"missing parent", "rsync", filepath.Join(t.TempDir(), "no/such/parent/dst"), 11, "No such file or directory"},
		{"rsync not found", "/nonexistent/rsync", t.TempDir(), 127, "not found"},
		{"not rsync", "echo", t.TempDir(), 0, "is not rsync"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Push(context.Background(), ExecTransport{}, src+"/", tc.dest, Options{RsyncPath: tc.rsyncPath, Logger: testLogger(t)})
			if err == nil {
				t.Fatal("push succeeded")
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not contain %q", err, tc.text)
			}
			var ee *ExitError
			if tc.code != 0 && (!errorsAs(err, &ee) || ee.Code != tc.code) {
				t.Errorf("error %v: want exit code %d", err, tc.code)
			}
		})
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// TestInteropChmodChown: --chmod is applied to what we send (push) or
// receive (pull), as rsync -a --chmod does, and --chown sets the owner
// and group of every written file (the tests run as root, so both apply).
func TestInteropChmodChown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root to give files to nobody:nogroup; CI runs as root")
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())
	opts := Options{Chmod: "D750,F640,u+x", Owner: "nobody", Group: "nogroup", Logger: testLogger(t)}
	check := func(t *testing.T, root, oracle string) {
		t.Helper()
		// The oracle is the stock rsync doing the same locally.
		if out, err := exec.Command("rsync", "-a", "--chmod="+opts.Chmod, "--chown=nobody:nogroup", src+"/", oracle+"/").CombinedOutput(); err != nil {
			t.Fatalf("rsync: %v: %s", err, out)
		}
		if err := testtree.Compare(oracle, root); err != nil {
			t.Fatal(err)
		}
		err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != 65534 || st.Gid != 65534 {
				t.Errorf("%s owned by %d:%d, want nobody:nogroup", p, st.Uid, st.Gid)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Run("push", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "dst")
		if _, err := Push(context.Background(), ExecTransport{}, src+"/", dst, opts); err != nil {
			t.Fatal(err)
		}
		check(t, dst, filepath.Join(t.TempDir(), "oracle"))
	})
	t.Run("pull", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "dst")
		if _, err := Pull(context.Background(), ExecTransport{}, src+"/", dst, opts); err != nil {
			t.Fatal(err)
		}
		check(t, dst, filepath.Join(t.TempDir(), "oracle"))
	})
	t.Run("local", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "dst")
		if _, err := Local(context.Background(), src+"/", dst, opts); err != nil {
			t.Fatal(err)
		}
		check(t, dst, filepath.Join(t.TempDir(), "oracle"))
	})
}

// TestInteropProtect: protect patterns keep remote (or local) files from
// deletion while files matching them are still transferred.
func TestInteropProtect(t *testing.T) {
	for _, srv := range servers(t) {
		for _, dir := range []string{"push", "pull"} {
			t.Run(srv.version+"/"+dir, func(t *testing.T) {
				src, dst := t.TempDir(), t.TempDir()
				for name, body := range map[string]string{"index.html": "new", "uploads/keep-me.jpg": "from source"} {
					p := filepath.Join(src, name)
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				for _, name := range []string{"uploads/user.jpg", "stale.html"} {
					p := filepath.Join(dst, name)
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, []byte("remote"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				opts := Options{RsyncPath: srv.path, Delete: true, Protect: []string{"/uploads/"}, Logger: testLogger(t)}
				var err error
				if dir == "push" {
					_, err = Push(context.Background(), ExecTransport{}, src+"/", dst, opts)
				} else {
					_, err = Pull(context.Background(), ExecTransport{}, src+"/", dst, opts)
				}
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(dst, "uploads/user.jpg")); err != nil {
					t.Errorf("protected file deleted: %v", err)
				}
				if b, err := os.ReadFile(filepath.Join(dst, "uploads/keep-me.jpg")); err != nil || string(b) != "from source" {
					t.Errorf("file under a protected path was not transferred: %v", err)
				}
				if _, err := os.Stat(filepath.Join(dst, "stale.html")); err == nil {
					t.Error("unprotected extraneous file survived delete")
				}
			})
		}
	}
}
