//go:build unix

package rsync_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"golang.org/x/sys/unix"
)

// countingTransport counts the server sessions a push starts.
type countingTransport struct {
	inner  rsync.Transport
	starts atomic.Int32
}

func (c *countingTransport) Start(ctx context.Context, command string) (rsync.Process, error) {
	c.starts.Add(1)
	return c.inner.Start(ctx, command)
}

// parallelSource writes a multi-level tree: files, links and an empty
// directory at the top, several top directories of a few levels, and one
// assets/ directory holding most of the files, which a part per top
// directory could not balance. Names with wildcard characters and an
// excluded file and directory are in it too.
func parallelSource(t *testing.T, src string) {
	t.Helper()
	files := map[string]string{
		"index.html": "<h1>hi</h1>", "robots.txt": "User-agent: *", "t1": "t1 is a file here",
		"t2/inside.txt": "t2 is a directory here", "junk.tmp": "excluded", "skip/secret": "excluded",
		"odd [x]*/f.txt": "odd", "odd [x]*/sub/g.txt": "odd deeper",
	}
	for i := range 12 {
		files[fmt.Sprintf("a/f%02d", i)] = strings.Repeat("a", i)
		files[fmt.Sprintf("a/b/c/d%02d.txt", i)] = strings.Repeat("d", i*7)
		files[fmt.Sprintf("b/g%02d", i)] = fmt.Sprint("b", i)
		files[fmt.Sprintf("c/x/y/z/h%02d", i)] = fmt.Sprint("c", i)
	}
	for i := range 40 {
		files[fmt.Sprintf("assets/js/m%02d.js", i)] = fmt.Sprintf("js %d", i)
		files[fmt.Sprintf("assets/img/p%02d.png", i)] = strings.Repeat("\x89PNG", i+1)
		files[fmt.Sprintf("assets/css/s%02d.css", i%10)] = fmt.Sprint("css", i)
		files[fmt.Sprintf("assets/fonts/w%d/f%02d.woff", i%3, i)] = fmt.Sprint("font", i)
	}
	files["assets/manifest.json"] = "{}"
	files["a/junk.tmp"] = "excluded too"
	writeFiles(t, src, files)
	mkdir(t, filepath.Join(src, "empty"))
	mkdir(t, filepath.Join(src, "a/b/empty2"))
	for link, target := range map[string]string{"link": "index.html", "a/b/up": "../f01"} {
		if err := os.Symlink(target, filepath.Join(src, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "b"), 0o750); err != nil {
		t.Fatal(err)
	}
	// Older than the push by far: rsync compares times to the second,
	// and leaves a directory it writes into in the source's second with
	// the time of that write.
	agePaths(t, src, time.Date(2021, 3, 4, 5, 6, 7, 890, time.UTC))
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range []string{"a/f03", "assets/js", "c/x"} {
		if err := os.Chtimes(filepath.Join(src, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// parallelDest fills a destination with what a push must delete (at the
// top, directly in assets/, and deep), keep (protected, excluded) and
// replace by another type (t1 is a deep directory there, t2 a file).
func parallelDest(t *testing.T, dst string) {
	t.Helper()
	writeFiles(t, dst, map[string]string{
		"stray.txt": "s", "old/deep/x": "x", "a/stale.txt": "stale", "a/b/stale/deep.txt": "deep",
		"assets/oldfile": "o", "assets/js/gone.js": "gone", "assets/gone/deeper/x.js": "gone",
		"keep/remote.txt": "protected", "dst.tmp": "excluded", "a/b/c/keep.tmp": "excluded",
		"t1/x/y": "a directory where the source has a file", "t2": "a file where the source has a directory",
		"index.html": "old content", "c/x/y/z/h03": "old",
	})
}

// agePaths sets the mtime of everything below root, root included, to
// old, deepest first (an entry's change would touch its directory).
func agePaths(t *testing.T, root string, old time.Time) {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := []unix.Timespec{unix.NsecToTimespec(old.UnixNano()), unix.NsecToTimespec(old.UnixNano())}
	for _, p := range slices.Backward(paths) {
		// Symlinks too, without following them (lutimes).
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

// describeTree is every entry below root: type and permissions, size,
// mtime (directories' too), content digest or link target.
func describeTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %v %d", rel, fi.Mode(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + target
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func changeLines(cs []rsync.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %s %s", c.Itemize, c.Kind, c.Path))
	}
	slices.Sort(out)
	return out
}

// TestParallelPushOverSSH: a push split in parts leaves the destination
// exactly as one session does — names, types, permissions, mtimes of files
// and directories, contents, link targets — with deletions at the top,
// directly in a split directory and deep, excludes and protect kept, and a
// file and a directory at the top replaced by each other; it reports the
// same changes and counts, against rsync 3.5.0 (protocols 32 and 30) and
// 3.2.7, for "dir/" and "dir" sources.
func TestParallelPushOverSSH(t *testing.T) {
	srv := sshtest.Start(t)
	tr := sshTransport(t, srv)
	for _, server := range []struct{ name, path string }{
		{"3.5.0", "rsync"}, {"3.5.0 p30", "rsync --protocol=30"}, {"3.2.7", sshtest.Rsync327(t)},
	} {
		for _, slash := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/slash=%v", server.name, slash), func(t *testing.T) {
				ctx := context.Background()
				base := t.TempDir()
				src := filepath.Join(base, "site")
				parallelSource(t, src)
				one, par := filepath.Join(base, "one"), filepath.Join(base, "par")
				source, sub := src+"/", ""
				if !slash {
					source, sub = src, "site"
				}
				// The two destinations start identical, to the nanosecond,
				// and older than the source by years: rsync compares times
				// to the second, so a destination made in the source's
				// second would be left with other times in each.
				parallelDest(t, filepath.Join(one, sub))
				agePaths(t, one, time.Date(2019, 6, 7, 8, 9, 10, 11, time.UTC))
				if out, err := exec.Command("cp", "-a", one, par).CombinedOutput(); err != nil {
					t.Fatalf("cp: %v: %s", err, out)
				}
				opts := rsync.Options{
					RsyncPath: server.path, Delete: true,
					Exclude: []string{"*.tmp", "/" + filepath.Join(sub, "skip") + "/"}, Protect: []string{"keep/"},
				}
				push := func(dst string, parallel int) (*rsync.Result, int32) {
					t.Helper()
					ct := &countingTransport{inner: tr}
					o := opts
					o.Parallel = parallel
					rsync.SetParallelMin(&o, 10)
					res, err := rsync.Push(ctx, ct, source, dst, o)
					if err != nil {
						t.Fatalf("push with parallel=%d: %v", parallel, err)
					}
					return res, ct.starts.Load()
				}
				for _, step := range []string{"initial", "again"} {
					r1, n1 := push(one, 1)
					var streamed []rsync.Change
					var mu sync.Mutex
					opts.OnChange = func(c rsync.Change) { mu.Lock(); streamed = append(streamed, c); mu.Unlock() }
					rp, np := push(par, 3)
					opts.OnChange = nil
					if n1 != 1 || r1.Sessions != 1 {
						t.Errorf("%s: one-session push started %d sessions (result says %d)", step, n1, r1.Sessions)
					}
					if np != 4 || rp.Sessions != 4 {
						t.Errorf("%s: parallel push started %d sessions (result says %d), want 4: the skeleton and 3 parts", step, np, rp.Sessions)
					}
					if got, want := describeTree(t, par), describeTree(t, one); !slices.Equal(got, want) {
						t.Errorf("%s: the parallel push's tree differs from one session's:\n%s", step, diffLines(want, got))
					}
					if got, want := changeLines(streamed), changeLines(r1.Changes); !slices.Equal(got, want) {
						t.Errorf("%s: the parallel push's changes differ from one session's:\n%s", step, diffLines(want, got))
					}
					s1, sp := r1.Stats, rp.Stats
					if s1.FilesTotal != sp.FilesTotal || s1.FilesTransferred != sp.FilesTransferred || s1.Deleted != sp.Deleted ||
						s1.LiteralBytes != sp.LiteralBytes {
						t.Errorf("%s: stats differ: one session %+v, parallel %+v", step, s1, sp)
					}
					if step == "initial" && (sp.Deleted == 0 || sp.FilesTransferred == 0) {
						t.Errorf("initial push deleted %d and sent %d files", sp.Deleted, sp.FilesTransferred)
					}
					if step == "again" && (sp.FilesTransferred != 0 || len(streamed) != 0) {
						t.Errorf("second parallel push did work: %+v %v", sp, streamed)
					}
				}
				for _, kept := range []string{"keep/remote.txt", "dst.tmp", "a/b/c/keep.tmp"} {
					if _, err := os.Lstat(filepath.Join(par, sub, kept)); err != nil {
						t.Errorf("%s was not kept: %v", kept, err)
					}
				}
				for _, gone := range []string{"stray.txt", "old", "a/stale.txt", "a/b/stale", "assets/oldfile", "assets/js/gone.js", "assets/gone", "junk.tmp", "skip"} {
					if _, err := os.Lstat(filepath.Join(par, sub, gone)); err == nil {
						t.Errorf("%s is in the destination", gone)
					}
				}
				if fi, err := os.Lstat(filepath.Join(par, sub, "t1")); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("t1 is not the source's file: %v %v", fi, err)
				}
			})
		}
	}
}

// diffLines shows the lines only one side has.
func diffLines(want, got []string) string {
	var b strings.Builder
	for _, l := range want {
		if !slices.Contains(got, l) {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}

// TestParallelFallsBack: a push that Parallel would split stays one
// server session where a split would change its meaning or buy nothing;
// the same tree splits otherwise.
func TestParallelFallsBack(t *testing.T) {
	srv := sshtest.Start(t)
	tr := sshTransport(t, srv)
	base := t.TempDir()
	src := filepath.Join(base, "src")
	parallelSource(t, src)
	for _, c := range []struct {
		name   string
		source string
		opts   func(*rsync.Options)
		min    int
		want   int32
	}{
		{"split", src + "/", nil, 10, 4},
		{"parallel 1", src + "/", func(o *rsync.Options) { o.Parallel = 1 }, 10, 1},
		{"a single file", filepath.Join(src, "index.html"), nil, 1, 1},
		{"a small tree", src + "/", nil, 0, 1}, // the default threshold
		{"dry run", src + "/", func(o *rsync.Options) { o.DryRun = true }, 10, 1},
		{"hard links", src + "/", func(o *rsync.Options) { o.HardLinks = true }, 10, 1},
		{"bwlimit", src + "/", func(o *rsync.Options) { o.BwLimit = 100000 }, 10, 1},
		{"max protocol 29", src + "/", func(o *rsync.Options) { o.MaxProtocol = 29 }, 10, 1},
		// The server declines incremental recursion: the first session
		// finds out and sends the whole tree.
		{"server at protocol 29", src + "/", func(o *rsync.Options) { o.RsyncPath = "rsync --protocol=29" }, 10, 1},
		{"server without inc recursion", src + "/", func(o *rsync.Options) { o.RsyncPath = "rsync --no-inc-recursive" }, 10, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			ct := &countingTransport{inner: tr}
			o := rsync.Options{Delete: true, Parallel: 3}
			if c.opts != nil {
				c.opts(&o)
			}
			rsync.SetParallelMin(&o, c.min)
			res, err := rsync.Push(context.Background(), ct, c.source, dst+"/", o)
			if err != nil {
				t.Fatal(err)
			}
			if got := ct.starts.Load(); got != c.want || int32(res.Sessions) != c.want {
				t.Errorf("%d sessions started (result says %d), want %d", got, res.Sessions, c.want)
			}
		})
	}
	t.Run("push entries", func(t *testing.T) {
		ct := &countingTransport{inner: tr}
		o := rsync.Options{Parallel: 3}
		rsync.SetParallelMin(&o, 1)
		entries := []*flist.Entry{{Name: "current", Mode: flist.SIFLNK | 0o777, LinkTarget: "releases/1"}}
		if _, err := rsync.PushEntries(context.Background(), ct, entries, t.TempDir()+"/", o); err != nil {
			t.Fatal(err)
		}
		if got := ct.starts.Load(); got != 1 {
			t.Errorf("%d sessions started, want 1", got)
		}
	})
}

// cutNthTransport cuts the n-th session it starts (1-based) once limit
// bytes have gone to the server: its streams close, as in a network cut.
type cutNthTransport struct {
	inner  rsync.Transport
	n      int32
	limit  int64
	starts atomic.Int32
	cut    chan struct{}
}

func (c *cutNthTransport) Start(ctx context.Context, command string) (rsync.Process, error) {
	p, err := c.inner.Start(ctx, command)
	if err != nil || c.starts.Add(1) != c.n {
		return p, err
	}
	return &cutNthProcess{Process: p, t: c}, nil
}

type cutNthProcess struct {
	rsync.Process
	t    *cutNthTransport
	sent atomic.Int64
	once sync.Once
}

func (p *cutNthProcess) Stdin() io.WriteCloser { return cutNthWriter{p} }

type cutNthWriter struct{ p *cutNthProcess }

func (w cutNthWriter) Write(b []byte) (int, error) {
	if w.p.sent.Add(int64(len(b))) > w.p.t.limit {
		w.p.once.Do(func() {
			_ = w.p.Kill()
			close(w.p.t.cut)
		})
		return 0, io.ErrClosedPipe
	}
	return w.p.Process.Stdin().Write(b)
}
func (w cutNthWriter) Close() error { return w.p.Process.Stdin().Close() }

// TestParallelPushCutSession cuts one part's session in the middle of its
// files: the push fails naming that session, the other parts stop, and
// no file in the destination is half-written — each is absent or whole —
// and no temporary file stays behind.
func TestParallelPushCutSession(t *testing.T) {
	srv := sshtest.Start(t)
	tr := sshTransport(t, srv)
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	files := map[string]string{}
	body := func(i int) string {
		b := make([]byte, 200<<10)
		for j := range b {
			b[j] = byte(i*131 + j*7 + j>>10)
		}
		return string(b)
	}
	for d := range 4 {
		for i := range 8 {
			files[fmt.Sprintf("d%d/f%d.bin", d, i)] = body(d*8 + i)
		}
	}
	writeFiles(t, src, files)
	ct := &cutNthTransport{inner: tr, n: 3, limit: 700 << 10, cut: make(chan struct{})}
	o := rsync.Options{Delete: true, Parallel: 3}
	rsync.SetParallelMin(&o, 1)
	_, err := rsync.Push(context.Background(), ct, src+"/", dst+"/", o)
	select {
	case <-ct.cut:
	default:
		t.Fatalf("the session was never cut (push returned %v)", err)
	}
	if err == nil {
		t.Fatal("the push with a cut session succeeded")
	}
	if !strings.Contains(err.Error(), " of 3 (d") {
		t.Errorf("the error does not name the cut session: %v", err)
	}
	check := func() (temps []string) {
		err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(dst, p)
			if strings.HasPrefix(d.Name(), ".") {
				temps = append(temps, rel)
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if string(b) != files[rel] {
				t.Errorf("%s is in the destination but not whole (%d of %d bytes)", rel, len(b), len(files[rel]))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return temps
	}
	// The receivers remove their temporary files as they exit, which may
	// be just after the push returned.
	deadline := time.Now().Add(10 * time.Second)
	for temps := check(); len(temps) > 0; temps = check() {
		if time.Now().After(deadline) {
			t.Fatalf("temporary files left behind: %v", temps)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// And the next push completes the tree.
	res, err := rsync.Push(context.Background(), tr, src+"/", dst+"/", o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sessions != 4 {
		t.Errorf("the push after the cut ran %d sessions", res.Sessions)
	}
	sameTree(t, "after the cut", src, dst, nil, nil)
}

// TestParallelPushFewerSessions: an SSH server that takes two sessions
// at a time (sshd MaxSessions 2) refuses the third part's; the push waits
// for a part to end and runs it then, and completes exactly.
func TestParallelPushFewerSessions(t *testing.T) {
	srv := sshtest.Start(t, sshtest.WithMaxSessions(2))
	tr := sshTransport(t, srv)
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	parallelSource(t, src)
	ct := &countingTransport{inner: tr}
	o := rsync.Options{Delete: true, Parallel: 3, Exclude: []string{"*.tmp", "/skip/"}}
	rsync.SetParallelMin(&o, 10)
	res, err := rsync.Push(context.Background(), ct, src+"/", dst+"/", o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sessions != 4 || ct.starts.Load() < 5 {
		t.Errorf("%d sessions ran, %d started; want 4 run and at least one refused", res.Sessions, ct.starts.Load())
	}
	sameTree(t, "after the push", src, dst, []string{"junk.tmp", "a/junk.tmp", "skip"}, nil)
}
