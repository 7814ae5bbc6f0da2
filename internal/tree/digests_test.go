//go:build unix

package tree

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/fuzzseed"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
)

// digestTree writes a small tree of files in two directories and returns
// its root (with the trailing slash: its contents are the tree).
func digestTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range map[string]string{
		"a.txt":       "alpha\n",
		"b/c.txt":     "charlie\n",
		"b/d.txt":     "delta\n",
		"b/e/f.txt":   "foxtrot\n",
		"z-last.html": "<p>zulu</p>\n",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root + "/"
}

func digestOf(t *testing.T, m *Manifest, name string) []byte {
	t.Helper()
	for _, it := range m.Items {
		if it.Name == name {
			return it.Digest()
		}
	}
	t.Fatalf("%s is not in the manifest", name)
	return nil
}

// rewriteCache rewrites the cache file of src with every record passed
// through edit.
func rewriteCache(t *testing.T, c *DigestCache, src string, edit func(*digestRecord)) {
	t.Helper()
	key := digestKey(src, csum.XXH128)
	r := c.openDigests(key)
	if r == nil {
		t.Fatal("no digest file after a hashed walk")
	}
	var recs []*digestRecord
	for r.next != nil {
		recs = append(recs, r.next)
		r.advance()
	}
	r.close()
	w := c.createDigests(key, nil)
	for _, rec := range recs {
		edit(rec)
		w.add(rec, nil)
	}
	w.finish(true)
}

// TestDigestCache: a walk records every file's digest; a later walk takes
// a trusted record for an unchanged file without reading it (shown by a
// record whose digest was forged: the manifest carries the forgery), and
// reads again a file whose change time moved — an edit that keeps the
// size and the modification time included — or whose record is too close
// to its last change to be trusted.
func TestDigestCache(t *testing.T) {
	ctx := context.Background()
	src := digestTree(t)
	c := NewDigestCache(filepath.Join(t.TempDir(), "digests"))
	first, _, _, err := c.Local(ctx, src, nil, Content, csum.XXH128, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := Local(ctx, src, nil, Content, csum.XXH128)
	if err != nil {
		t.Fatal(err)
	}
	if first.Hash() != plain.Hash() {
		t.Fatalf("hashed with the cache %s, without %s", first.Hash(), plain.Hash())
	}
	forged := bytes.Repeat([]byte{0xab}, 16)
	n := 0
	rewriteCache(t, c, src, func(rec *digestRecord) {
		if rec.trusted {
			t.Errorf("%s: a digest made right after the file was written is trusted", rec.name)
		}
		rec.trusted = true // as if made racyWindow later
		n++
		if rec.name == "b/c.txt" || rec.name == "a.txt" {
			rec.digest = forged
		}
	})
	if n != 5 {
		t.Fatalf("the cache recorded %d files, want 5", n)
	}
	// Trusted and unchanged: taken from the record.
	second, _, _, err := c.Local(ctx, src, nil, Content, csum.XXH128, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(digestOf(t, second, "b/c.txt"), forged) || !bytes.Equal(digestOf(t, second, "a.txt"), forged) {
		t.Fatal("an unchanged file with a trusted record was read again")
	}
	// Same size, modification time put back: the change time tells.
	p := filepath.Join(src, "b/c.txt")
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("CHARLIE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	third, _, _, err := c.Local(ctx, src, nil, Content, csum.XXH128, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := Local(ctx, src, nil, Content, csum.XXH128)
	if err != nil {
		t.Fatal(err)
	}
	if got := digestOf(t, third, "b/c.txt"); !bytes.Equal(got, digestOf(t, want, "b/c.txt")) {
		t.Fatalf("an edit keeping size and mtime was not seen: digest %x", got)
	}
	if !bytes.Equal(digestOf(t, third, "a.txt"), forged) {
		t.Fatal("the untouched a.txt was read again")
	}
	// A record made within racyWindow of the file's change is not trusted.
	rewriteCache(t, c, src, func(rec *digestRecord) { rec.digest, rec.trusted = forged, false })
	fourth, _, _, err := c.Local(ctx, src, nil, Content, csum.XXH128, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if fourth.Hash() != want.Hash() {
		t.Fatal("records made right after the files changed were trusted")
	}
}

// TestDigestCacheDamaged: a damaged or foreign file only costs reading the
// files again: the records before the damage are used, none after.
func TestDigestCacheDamaged(t *testing.T) {
	ctx := context.Background()
	src := digestTree(t)
	c := NewDigestCache(filepath.Join(t.TempDir(), "digests"))
	if _, _, _, err := c.Local(ctx, src, nil, Content, csum.XXH128, DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	want, _, err := Local(ctx, src, nil, Content, csum.XXH128)
	if err != nil {
		t.Fatal(err)
	}
	forged := bytes.Repeat([]byte{0xcd}, 16)
	rewriteCache(t, c, src, func(rec *digestRecord) { rec.digest, rec.trusted = forged, true })
	file := c.fileName(digestKey(src, csum.XXH128))
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the last byte: the CRC of the last record, b/e/f.txt (files
	// sort before directories).
	data[len(data)-1] ^= 0xff
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	m, _, _, err := c.Local(ctx, src, nil, Content, csum.XXH128, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := digestOf(t, m, "b/e/f.txt"); !bytes.Equal(got, digestOf(t, want, "b/e/f.txt")) {
		t.Fatalf("a damaged record was used: %x", got)
	}
	if !bytes.Equal(digestOf(t, m, "b/d.txt"), forged) {
		t.Fatal("the intact records before the damage were not used")
	}
	// Another tree's file under this tree's name is not read.
	other := digestTree(t)
	if _, _, _, err := c.Local(ctx, other, nil, Content, csum.XXH128, DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(c.fileName(digestKey(other, csum.XXH128)), file); err != nil {
		t.Fatal(err)
	}
	if c.openDigests(digestKey(src, csum.XXH128)) != nil {
		t.Fatal("a digest file of another tree was opened")
	}
}

// TestDigestCacheCancelled: a walk that fails keeps the previous file.
func TestDigestCacheCancelled(t *testing.T) {
	src := digestTree(t)
	c := NewDigestCache(filepath.Join(t.TempDir(), "digests"))
	if _, _, _, err := c.Local(context.Background(), src, nil, Content, csum.XXH128, DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	file := c.fileName(digestKey(src, csum.XXH128))
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := c.Local(ctx, src, nil, Content, csum.XXH128, DefaultOptions()); err == nil {
		t.Fatal("a cancelled walk succeeded")
	}
	after, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("a cancelled walk replaced the digest file")
	}
	left, err := filepath.Glob(filepath.Join(filepath.Dir(file), ".tmp-*"))
	if err != nil || len(left) != 0 {
		t.Fatalf("temporary files left: %v %v", left, err)
	}
}

// FuzzDigestRecords: the reader of a digest file (written by us, but read
// back from disk) never panics, and bounds what it allocates; a record it
// accepts is, byte for byte, what the writer makes of its fields (the
// writer keeps the old file by comparing fields) and lies where it says.
func FuzzDigestRecords(f *testing.F) {
	for _, s := range digestSeeds() {
		f.Add(s.Args[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newDigestReader(bytes.NewReader(data))
		r.advance()
		for i := 0; r.next != nil; i++ {
			if len(r.next.name) > maxDigestName || len(r.next.digest) > maxDigestLen || i > len(data) {
				t.Fatalf("record out of bounds: %d-byte name, %d-byte digest", len(r.next.name), len(r.next.digest))
			}
			got := appendDigestRecord(nil, r.next)
			if int64(len(got)) != digestFramedLen(r.next) {
				t.Fatalf("record %q of %d bytes, digestFramedLen says %d", r.next.name, len(got), digestFramedLen(r.next))
			}
			if end := int(r.next.start) + len(got); end > len(data) || !bytes.Equal(got, data[r.next.start:end]) {
				t.Fatalf("record %q read from offset %d of %x, written as %x", r.next.name, r.next.start, data, got)
			}
			r.find(r.next.name + "\xff")
		}
	})
}

// digestSeeds: one record, two, a length prefix past the bound, and
// records of other encodings than the writer's, CRC right: the flag 2, the
// device (4) in two bytes.
func digestSeeds() []fuzzseed.Seed {
	r := &digestRecord{name: "a/b.txt", id: fileID{size: 5, mtime: 1, ctime: 2, ino: 3, dev: 4}, digest: bytes.Repeat([]byte{1}, 16), trusted: true}
	rec := appendDigestRecord(nil, r)
	body := appendDigestBody(nil, r)
	const devAt = 1 + 7 + 4 // name's length, name, size, mtime, ctime, inode
	long := append(append(append([]byte(nil), body[:devAt]...), 0x84, 0x00), body[devAt+1:]...)
	body[len(body)-1] = 2
	return []fuzzseed.Seed{
		{Name: "one-record", Args: []any{rec}},
		{Name: "two-records", Args: []any{append(append([]byte(nil), rec...), rec...)}},
		{Name: "huge-length", Args: []any{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}}},
		{Name: "flag-two", Args: []any{appendFramed(nil, body)}},
		{Name: "long-varint", Args: []any{appendFramed(nil, long)}},
	}
}

func TestFuzzSeedCorpus(t *testing.T) {
	fuzzseed.Check(t, "FuzzDigestRecords", digestSeeds(), true)
}

// appendDigestRecord appends rec, framed, as the writer does.
func appendDigestRecord(b []byte, rec *digestRecord) []byte {
	return appendFramed(b, appendDigestBody(nil, rec))
}
