package tree

// A file of the digests of a local tree's files, kept between runs so that
// a tree hashed once is only stat'ed the next time (issue 15: a 300,000-file
// source was read whole by every plan and again by the apply's re-plan).

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// DigestCache remembers the content digests of local files between runs,
// as git's index does: a file whose size, modification time, change time,
// inode and device are those recorded with its digest is not read again.
// The change time is what makes this safe: every write to a file, and
// every change of its times or mode, sets it to the current time, and no
// system call sets it to anything else, so an edit that keeps a file's
// size and modification time (touch -r, a clock step back) is still seen.
// A digest made less than racyWindow after the file last changed is not
// trusted (the file may have changed again within the clock's tick
// without its times moving: git's "racily clean" entries): the record
// says so, and the file is read again next time.
//
// One file per tree root and algorithm, in the tree's sort order, so that
// a walk reads the previous file alongside its own entries (a merge: no
// map of the tree in memory) and writes the new one as it hashes. The file
// is replaced by a rename; a file that is missing, of another format or
// damaged (every record carries a CRC) only means hashing again. Systems
// without change times (Windows) keep no digests.
//
// A nil *DigestCache keeps nothing.
type DigestCache struct {
	dir string
	// racy is racyWindow, or what a test sets.
	racy time.Duration
	// swept makes the age sweep once per cache.
	swept sync.Once
}

const (
	digestsMagic = "terraform-provider-rsync digests 2\n"
	// racyWindow covers coarse file-system clocks (ext4 takes the kernel's
	// tick, up to 10 ms; FAT 2 s) and clocks of network file systems.
	racyWindow = 3 * time.Second
	// digestsMaxAge: files of trees not hashed for this long are removed.
	digestsMaxAge = 30 * 24 * time.Hour
	// Bounds of a record (a damaged file must not make us allocate).
	maxDigestName = 1 << 16
	maxDigestLen  = 64
)

// NewDigestCache returns a cache that keeps its files in dir (created
// with mode 0700 when first written).
func NewDigestCache(dir string) *DigestCache {
	return NewDigestCacheWindow(dir, racyWindow)
}

// NewDigestCacheWindow is NewDigestCache trusting a digest made racy
// after the file's last change (tests: files they have just written).
func NewDigestCacheWindow(dir string, racy time.Duration) *DigestCache {
	return &DigestCache{dir: dir, racy: racy}
}

// Local is LocalWith, reading each file's digest from the cache when the
// file has not changed since it was recorded, and recording the digests
// of this walk for the next.
func (c *DigestCache) Local(ctx context.Context, source string, rules *filter.List, mode Mode, algo csum.Algo, opts Options) (m *Manifest, warnings, skipped []string, err error) {
	return localWith(ctx, source, rules, mode, algo, opts, c)
}

// digestRecord is one file's line: what it looked like when hashed.
type digestRecord struct {
	name   string
	id     fileID
	digest []byte
	// trusted: the digest was made at least racyWindow after the file's
	// last change (fixed when it is made; a record carried over keeps it).
	trusted bool
}

// fileID is what tells a file unchanged: size, modification and change
// times (nanoseconds) and identity.
type fileID struct {
	size, mtime, ctime int64
	ino, dev           uint64
}

// trustedAt reports whether a digest made at hashedAt (Unix ns) of a
// file that last changed at id.ctime can stand for the file's content
// later.
func (c *DigestCache) trustedAt(id fileID, hashedAt int64) bool {
	return id.ctime < hashedAt-int64(c.racy)
}

// fileName is the cache file of a tree root and algorithm.
func (c *DigestCache) fileName(key string) string {
	h := csum.XXH128.NewFile()
	h.Write([]byte(key))
	return filepath.Join(c.dir, fmt.Sprintf("%x", h.Sum(nil)))
}

// digestKey names a tree: its absolute source path (trailing slash kept:
// it decides the entries' names) and the algorithm.
func digestKey(source string, algo csum.Algo) string {
	abs := source
	if a, err := filepath.Abs(source); err == nil {
		abs = a
		if strings.HasSuffix(source, "/") || strings.HasSuffix(source, string(filepath.Separator)) {
			abs += "/"
		}
	}
	return abs + "\x00" + algo.Name()
}

// digestReader reads the previous file's records in order.
type digestReader struct {
	r    *bufio.Reader
	f    *os.File
	buf  []byte
	slab []digestRecord // records to hand out
	// The records' names and digests are copied into shared blocks, as a
	// manifest's names are (nameArena): two allocations a record were
	// most of what was left of a cached walk's.
	names   nameArena
	digests []byte
	next    *digestRecord // peeked; nil at the end
}

// openDigests opens the previous file of key; nil when there is none
// usable.
func (c *DigestCache) openDigests(key string) *digestReader {
	f, err := os.Open(c.fileName(key))
	if err != nil {
		return nil
	}
	d := &digestReader{r: bufio.NewReaderSize(f, 64<<10), f: f}
	magic := make([]byte, len(digestsMagic))
	if _, err := io.ReadFull(d.r, magic); err != nil || string(magic) != digestsMagic {
		f.Close()
		return nil
	}
	k, err := readBytes(d.r, maxDigestName)
	if err != nil || string(k) != key {
		f.Close()
		return nil
	}
	d.advance()
	return d
}

// advance reads the next record; a damaged or short file ends the reading.
func (d *digestReader) advance() {
	d.next = nil
	rec, err := d.readRecord()
	if err == nil {
		d.next = rec
	}
}

// find returns the record of name, reading past the records that sort
// before it (files gone since, or now excluded).
func (d *digestReader) find(name string) *digestRecord {
	if d == nil {
		return nil
	}
	want := flist.Entry{Name: name, Mode: flist.SIFREG}
	have := flist.Entry{Mode: flist.SIFREG}
	for d.next != nil {
		have.Name = d.next.name
		c := flist.Compare(&have, &want)
		if c > 0 {
			return nil
		}
		rec := d.next
		d.advance()
		if c == 0 {
			return rec
		}
	}
	return nil
}

func (d *digestReader) close() {
	if d != nil {
		d.f.Close()
	}
}

// A record is framed as its length (uvarint), its bytes and their CRC-32
// (IEEE, little-endian): name (uvarint length, bytes), size, mtime, ctime
// (varints), inode, device (uvarints), digest (uvarint length, bytes),
// trusted (one byte).
const maxDigestRecord = maxDigestName + maxDigestLen + 8*binary.MaxVarintLen64 + 1

// readRecord reads one record and checks its CRC.
func (d *digestReader) readRecord() (*digestRecord, error) {
	n, err := binary.ReadUvarint(d.r)
	if err != nil {
		return nil, err
	}
	if n > maxDigestRecord {
		return nil, fmt.Errorf("digest record of %d bytes", n)
	}
	if cap(d.buf) < int(n)+4 {
		d.buf = make([]byte, int(n)+4)
	}
	b := d.buf[:n+4]
	if _, err := io.ReadFull(d.r, b); err != nil {
		return nil, err
	}
	if crc32.ChecksumIEEE(b[:n]) != binary.LittleEndian.Uint32(b[n:]) {
		return nil, errors.New("digest record: bad CRC")
	}
	// Records are handed out from blocks: one allocation per record
	// was most of what a cached walk allocated.
	if len(d.slab) == 0 {
		d.slab = make([]digestRecord, 256)
	}
	rec := &d.slab[0]
	d.slab = d.slab[1:]
	name, digest, err := parseDigestRecord(rec, b[:n])
	if err != nil {
		return nil, err
	}
	rec.name = d.names.internBytes(name)
	if len(d.digests) < len(digest) {
		d.digests = make([]byte, 16<<10)
	}
	k := copy(d.digests, digest)
	rec.digest, d.digests = d.digests[:k:k], d.digests[k:]
	return rec, nil
}

// errMalformedDigestRecord is made when needed: parseDigestRecord runs
// once a file of the tree.
func errMalformedDigestRecord() error { return errors.New("digest record: malformed") }

// parseDigestRecord decodes a record's bytes (CRC checked) into rec,
// but for its name and digest, which it returns as parts of b.
func parseDigestRecord(rec *digestRecord, b []byte) (name, digest []byte, err error) {
	field := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		f := b[k : k+int(n)]
		b = b[k+int(n):]
		return f, true
	}
	name, ok := field()
	if !ok || len(name) > maxDigestName {
		return nil, nil, errMalformedDigestRecord()
	}
	for _, p := range []*int64{&rec.id.size, &rec.id.mtime, &rec.id.ctime} {
		v, k := binary.Varint(b)
		if k <= 0 {
			return nil, nil, errMalformedDigestRecord()
		}
		*p, b = v, b[k:]
	}
	for _, p := range []*uint64{&rec.id.ino, &rec.id.dev} {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, nil, errMalformedDigestRecord()
		}
		*p, b = v, b[k:]
	}
	digest, ok = field()
	if !ok || len(digest) > maxDigestLen || len(b) != 1 {
		return nil, nil, errMalformedDigestRecord()
	}
	rec.trusted = b[0] == 1
	return name, digest, nil
}

func readBytes(r interface {
	io.Reader
	io.ByteReader
}, limit uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("digest file: field of %d bytes", n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

// appendDigestBody appends rec's fields (the record unframed).
func appendDigestBody(body []byte, rec *digestRecord) []byte {
	body = binary.AppendUvarint(body, uint64(len(rec.name)))
	body = append(body, rec.name...)
	body = binary.AppendVarint(body, rec.id.size)
	body = binary.AppendVarint(body, rec.id.mtime)
	body = binary.AppendVarint(body, rec.id.ctime)
	body = binary.AppendUvarint(body, rec.id.ino)
	body = binary.AppendUvarint(body, rec.id.dev)
	body = binary.AppendUvarint(body, uint64(len(rec.digest)))
	body = append(body, rec.digest...)
	if rec.trusted {
		return append(body, 1)
	}
	return append(body, 0)
}

// appendFramed appends body with its length and CRC.
func appendFramed(b, body []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(body)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(body))
}

// digestWriter writes the new file beside the old and renames it over.
type digestWriter struct {
	f    *os.File
	w    *bufio.Writer
	body []byte // scratch: one record's fields
	buf  []byte // scratch: the record framed
	err  error
	dest string
}

// createDigests starts the new file of key; nil (keep nothing) when the
// directory cannot be written.
func (c *DigestCache) createDigests(key string) *digestWriter {
	c.swept.Do(c.sweep)
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil
	}
	f, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return nil
	}
	w := &digestWriter{f: f, w: bufio.NewWriterSize(f, 64<<10), dest: c.fileName(key)}
	b := append([]byte(digestsMagic), binary.AppendUvarint(nil, uint64(len(key)))...)
	b = append(b, key...)
	_, w.err = w.w.Write(b)
	return w
}

func (w *digestWriter) add(rec *digestRecord) {
	if w == nil || w.err != nil {
		return
	}
	w.body = appendDigestBody(w.body[:0], rec)
	w.buf = appendFramed(w.buf[:0], w.body)
	_, w.err = w.w.Write(w.buf)
}

// finish renames the file into place when everything was written and ok
// (a walk that failed keeps the previous file); otherwise removes it.
func (w *digestWriter) finish(ok bool) {
	if w == nil {
		return
	}
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if err := w.f.Close(); w.err == nil {
		w.err = err
	}
	if !ok || w.err != nil || os.Rename(w.f.Name(), w.dest) != nil {
		os.Remove(w.f.Name())
	}
}

// sweep removes the files of trees not hashed for digestsMaxAge, and
// temporary files left by a killed process.
func (c *DigestCache) sweep() {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		age := time.Since(info.ModTime())
		if age > digestsMaxAge || (strings.HasPrefix(e.Name(), ".tmp-") && age > time.Hour) {
			os.Remove(filepath.Join(c.dir, e.Name()))
		}
	}
}
