//go:build unix

package tree

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
)

// Racy windows of the tests: a digest made now of a file written just
// before is trusted (trustAll), or not (trustNone).
const (
	trustAll  = -time.Hour
	trustNone = time.Hour
)

// cachedWalk walks src with c and returns its manifest.
func cachedWalk(t *testing.T, c *DigestCache, src string, rules *filter.List) *Manifest {
	t.Helper()
	m, _, _, err := c.Local(context.Background(), src, rules, Content, csum.XXH128, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// cacheBytes is the content of c's file of src.
func cacheBytes(t *testing.T, c *DigestCache, src string) []byte {
	t.Helper()
	b, err := os.ReadFile(c.fileName(digestKey(src, csum.XXH128)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkCacheFresh requires that c's file of src is, byte for byte, the
// file a walk with an empty cache (racy window racy) writes of the tree as
// it is, that m is the manifest of a walk without a cache, and that no
// temporary file is left.
func checkCacheFresh(t *testing.T, c *DigestCache, src string, rules *filter.List, racy time.Duration, m *Manifest) {
	t.Helper()
	fresh := NewDigestCacheWindow(filepath.Join(t.TempDir(), "digests"), racy)
	cachedWalk(t, fresh, src, rules)
	if got, want := cacheBytes(t, c, src), cacheBytes(t, fresh, src); !bytes.Equal(got, want) {
		t.Fatalf("digest file of %d bytes, a fresh walk writes %d bytes:\n%q\nwant\n%q", len(got), len(want), got, want)
	}
	plain, _, _, err := LocalWith(context.Background(), src, rules, Content, csum.XXH128, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if m.Hash() != plain.Hash() {
		t.Fatalf("hashed with the cache %s, without %s", m.Hash(), plain.Hash())
	}
	if left, err := filepath.Glob(filepath.Join(c.dir, ".tmp-*")); err != nil || len(left) != 0 {
		t.Fatalf("temporary files left: %v %v", left, err)
	}
}

// TestDigestCacheKeepsUnchanged: a walk of an unchanged tree leaves the
// digest file as it was (same file, same bytes) but for its modification
// time, renewed so that the sweep keeps it — also when every file was
// read again (records not trusted) and gave the same record.
func TestDigestCacheKeepsUnchanged(t *testing.T) {
	for name, racy := range map[string]time.Duration{"trusted": trustAll, "rehashed": trustNone} {
		t.Run(name, func(t *testing.T) {
			src := digestTree(t)
			c := NewDigestCacheWindow(filepath.Join(t.TempDir(), "digests"), racy)
			cachedWalk(t, c, src, nil)
			file := c.fileName(digestKey(src, csum.XXH128))
			old := time.Now().Add(-10 * 24 * time.Hour)
			if err := os.Chtimes(file, old, old); err != nil {
				t.Fatal(err)
			}
			before, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			data := cacheBytes(t, c, src)
			start := time.Now()
			m := cachedWalk(t, c, src, nil)
			after, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			if !os.SameFile(before, after) {
				t.Fatal("a walk of an unchanged tree replaced the digest file")
			}
			if !bytes.Equal(data, cacheBytes(t, c, src)) {
				t.Fatal("a walk of an unchanged tree changed the digest file's bytes")
			}
			// Set by Chtimes from the clock: the file system keeps at
			// least whole seconds.
			if after.ModTime().Before(start.Truncate(time.Second)) {
				t.Fatalf("modification time %v not renewed (walk at %v)", after.ModTime(), start)
			}
			checkCacheFresh(t, c, src, nil, racy, m)
		})
	}
}

// TestDigestCacheRewritesChanges: every kind of change makes a new file,
// the very file a walk with an empty cache writes.
func TestDigestCacheRewritesChanges(t *testing.T) {
	write := func(name, body string) func(*testing.T, string) {
		return func(t *testing.T, root string) {
			p := filepath.Join(root, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove := func(name string) func(*testing.T, string) {
		return func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	excludeD, err := filter.New(nil, []string{"d.txt"})
	if err != nil {
		t.Fatal(err)
	}
	// The tree's files in their order: a.txt, z-last.html, b/c.txt,
	// b/d.txt, b/e/f.txt (a directory's files before its directories).
	for _, tc := range []struct {
		name string
		// firstRacy: the racy window of the first walk (trustAll if 0).
		firstRacy time.Duration
		change    func(*testing.T, string)
		rules     *filter.List // of the second walk
	}{
		{name: "edited", change: write("b/d.txt", "DELTA, edited\n")},
		{name: "edited first", change: write("a.txt", "ALPHA, edited\n")},
		{name: "added in the middle", change: write("b/cc.txt", "new\n")},
		{name: "added last", change: write("b/e/g.txt", "new\n")},
		{name: "added first", change: write("0.txt", "new\n")},
		{name: "removed", change: remove("b/c.txt")},
		{name: "removed first", change: remove("a.txt")},
		{name: "removed last", change: remove("b/e/f.txt")},
		{name: "excluded", change: func(*testing.T, string) {}, rules: excludeD},
		{name: "became trusted", firstRacy: trustNone, change: func(*testing.T, string) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := digestTree(t)
			dir := filepath.Join(t.TempDir(), "digests")
			first := tc.firstRacy
			if first == 0 {
				first = trustAll
			}
			cachedWalk(t, NewDigestCacheWindow(dir, first), src, nil)
			c := NewDigestCacheWindow(dir, trustAll)
			before := cacheBytes(t, c, src)
			tc.change(t, src)
			m := cachedWalk(t, c, src, tc.rules)
			if bytes.Equal(before, cacheBytes(t, c, src)) {
				t.Fatal("the change left the digest file as it was")
			}
			checkCacheFresh(t, c, src, tc.rules, trustAll, m)
			// And the next walk keeps that file.
			again := cachedWalk(t, c, src, tc.rules)
			checkCacheFresh(t, c, src, tc.rules, trustAll, again)
		})
	}
}

// digestFrames splits a digest file of key into its header and records
// (framed).
func digestFrames(t *testing.T, data []byte, key string) (header []byte, frames [][]byte) {
	t.Helper()
	header = digestHeader(key)
	if !bytes.HasPrefix(data, header) {
		t.Fatal("digest file without its header")
	}
	for rest := data[len(header):]; len(rest) > 0; {
		n, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < n+4 {
			t.Fatalf("digest file: bad frame at %d", len(data)-len(rest))
		}
		frames = append(frames, rest[:k+int(n)+4])
		rest = rest[k+int(n)+4:]
	}
	return header, frames
}

// TestDigestCacheDamagedRewritten: a damaged previous file (cut short in a
// record, a bad CRC, bytes after the last record, a record in another
// encoding than the writer's) is replaced by the file a fresh walk writes.
func TestDigestCacheDamagedRewritten(t *testing.T) {
	for _, tc := range []struct {
		name   string
		racy   time.Duration
		damage func(t *testing.T, data []byte, key string) []byte
	}{
		{name: "cut short", racy: trustAll, damage: func(t *testing.T, data []byte, key string) []byte {
			_, frames := digestFrames(t, data, key)
			// In the middle of the third record.
			end := len(data) - len(frames[4]) - len(frames[3]) - len(frames[2])/2
			return data[:end]
		}},
		{name: "bad CRC", racy: trustAll, damage: func(t *testing.T, data []byte, key string) []byte {
			header, frames := digestFrames(t, data, key)
			at := len(header) + len(frames[0]) + len(frames[1]) - 1 // the second's CRC
			data[at] ^= 0xff
			return data
		}},
		{name: "trailing bytes", racy: trustAll, damage: func(_ *testing.T, data []byte, _ string) []byte {
			return append(data, 0)
		}},
		// Its fields are those of the walk's (untrusted) record: only the
		// bytes tell it from the writer's.
		{name: "flag two", racy: trustNone, damage: func(t *testing.T, data []byte, key string) []byte {
			header, frames := digestFrames(t, data, key)
			f := frames[1]
			n, k := binary.Uvarint(f)
			body := append([]byte(nil), f[k:k+int(n)]...)
			if body[len(body)-1] != 0 {
				t.Fatal("the record is trusted")
			}
			body[len(body)-1] = 2
			out := append(append([]byte(nil), header...), frames[0]...)
			out = appendFramed(out, body)
			for _, f := range frames[2:] {
				out = append(out, f...)
			}
			return out
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := digestTree(t)
			c := NewDigestCacheWindow(filepath.Join(t.TempDir(), "digests"), tc.racy)
			cachedWalk(t, c, src, nil)
			key := digestKey(src, csum.XXH128)
			if _, frames := digestFrames(t, cacheBytes(t, c, src), key); len(frames) != 5 {
				t.Fatalf("%d records, want 5", len(frames))
			}
			damaged := tc.damage(t, cacheBytes(t, c, src), key)
			if err := os.WriteFile(c.fileName(key), damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			m := cachedWalk(t, c, src, nil)
			checkCacheFresh(t, c, src, nil, tc.racy, m)
		})
	}
}

// TestDigestCacheSweptMeanwhile: a file kept unchanged but removed while
// the walk ran (the sweep of another process) is written again.
func TestDigestCacheSweptMeanwhile(t *testing.T) {
	src := digestTree(t)
	c := NewDigestCacheWindow(filepath.Join(t.TempDir(), "digests"), trustAll)
	cachedWalk(t, c, src, nil)
	key := digestKey(src, csum.XXH128)
	want := cacheBytes(t, c, src)
	prev := c.openDigests(key)
	if prev == nil {
		t.Fatal("no digest file after a walk")
	}
	defer prev.close()
	w := c.createDigests(key, prev)
	for prev.next != nil {
		rec := prev.next
		prev.advance()
		w.add(rec, rec)
	}
	if err := os.Remove(c.fileName(key)); err != nil {
		t.Fatal(err)
	}
	w.finish(true)
	if got := cacheBytes(t, c, src); !bytes.Equal(got, want) {
		t.Fatalf("digest file written again as %q, want %q", got, want)
	}
}

// TestDigestCacheConcurrentWalks: two walks of a changed tree at once (two
// plans in two processes: two caches on one directory) each read the old
// file while the other replaces it, and leave the file a fresh walk
// writes.
func TestDigestCacheConcurrentWalks(t *testing.T) {
	src := digestTree(t)
	dir := filepath.Join(t.TempDir(), "digests")
	cachedWalk(t, NewDigestCacheWindow(dir, trustAll), src, nil)
	if err := os.WriteFile(filepath.Join(src, "b/cc.txt"), []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ms := make([]*Manifest, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ms[i], _, _, errs[i] = NewDigestCacheWindow(dir, trustAll).Local(context.Background(), src, nil, Content, csum.XXH128, DefaultOptions())
		}()
	}
	wg.Wait()
	for i := range ms {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		checkCacheFresh(t, NewDigestCacheWindow(dir, trustAll), src, nil, trustAll, ms[i])
	}
}
