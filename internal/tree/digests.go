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
	"math"
	"math/bits"
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
// is replaced by a rename, and only when a record changed: a walk that
// would write the same bytes leaves it alone but for its modification
// time (digestWriter). A file that is missing, of another format or
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

// Each reads the local tree as Local does, through the cache, and hands
// each item to yield in rsync's order, keeping none of them: what a
// caller folds over a tree (its hash, counts, the first paths) needs no
// manifest of it, which on a 300,000-file tree is 25 MB and, with the
// garbage collector's headroom, twice that in the process (issue 15).
// The item is yield's only for the call: a copy keeps what it needs. A
// walk whose entries were not in rsync's order ends with ErrWalkOrder.
func (c *DigestCache) Each(ctx context.Context, source string, rules *filter.List, mode Mode, algo csum.Algo, opts Options, yield func(*Item)) (warnings, skipped []string, err error) {
	s := &itemStream{prefix: ContentRoot(source), mode: mode, opts: opts, yield: yield}
	warnings, skipped, err = walkLocal(ctx, source, rules, mode, algo, opts, c, s.addInOrder)
	if err == nil && s.disordered {
		err = ErrWalkOrder
	}
	return warnings, skipped, err
}

// digestRecord is one file's line: what it looked like when hashed.
type digestRecord struct {
	name   string
	id     fileID
	digest []byte
	// trusted: the digest was made at least racyWindow after the file's
	// last change (fixed when it is made; a record carried over keeps it).
	trusted bool
	// start: where a record read from the previous file starts in it
	// (zero for a record made by this walk: a file starts with its
	// header); the writer keeps that file while the walk's records are
	// its records, in its order. 32 bits fit beside trusted, keeping the
	// record (300,000 of them a walk) its size: the reader stops at 4 GiB.
	start uint32
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
	r *bufio.Reader
	// src counts what r took from the file: where a record starts is
	// that less what r holds buffered.
	src *countingReader
	f   *os.File
	// size of the file when opened: records up to it were all read when
	// the last one ends there. headerEnd: where the first record starts.
	size, headerEnd int64
	buf             []byte
	slab            []digestRecord // records to hand out
	// The records' names and digests are copied into shared blocks, as a
	// manifest's names are (nameArena): two allocations a record were
	// most of what was left of a cached walk's.
	names   nameArena
	digests []byte
	next    *digestRecord // peeked; nil at the end
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// newDigestReader reads records from r (positioned at the first).
func newDigestReader(r io.Reader) *digestReader {
	src := &countingReader{r: r}
	return &digestReader{r: bufio.NewReaderSize(src, 64<<10), src: src}
}

// pos is the offset in the file of the next byte to read.
func (d *digestReader) pos() int64 { return d.src.n - int64(d.r.Buffered()) }

// openDigests opens the previous file of key; nil when there is none
// usable. The age sweep runs first, so that it does not remove a file
// this walk then means to keep.
func (c *DigestCache) openDigests(key string) *digestReader {
	c.swept.Do(c.sweep)
	f, err := os.Open(c.fileName(key))
	if err != nil {
		return nil
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil
	}
	d := newDigestReader(f)
	d.f, d.size = f, info.Size()
	magic := make([]byte, len(digestsMagic))
	if _, err := io.ReadFull(d.r, magic); err != nil || string(magic) != digestsMagic {
		f.Close()
		return nil
	}
	k, err := readBytes(d.r, maxDigestName)
	// The header must be the bytes the writer makes of key: the writer
	// keeps it as it is when the records are unchanged.
	if err != nil || string(k) != key || d.pos() != int64(len(digestHeader(key))) {
		f.Close()
		return nil
	}
	d.headerEnd = d.pos()
	d.advance()
	return d
}

// digestHeader is what a file of key starts with.
func digestHeader(key string) []byte {
	b := binary.AppendUvarint([]byte(digestsMagic), uint64(len(key)))
	return append(b, key...)
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

// readRecord reads one record and checks its CRC. Only the encoding the
// writer makes is accepted (every varint in its shortest form, the flag 0
// or 1), so that a record read equals another in its fields exactly when
// their bytes are equal: what tells the writer the file is unchanged.
func (d *digestReader) readRecord() (*digestRecord, error) {
	start := d.pos()
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
	end := d.pos()
	if end-start != int64(uvarintLen(n))+int64(n)+4 {
		return nil, errMalformedDigestRecord()
	}
	if end > math.MaxUint32 {
		return nil, errors.New("digest file past 4 GiB")
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
	rec.start = uint32(start)
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
		if k <= 0 || k != uvarintLen(n) || n > uint64(len(b)-k) {
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
		if k <= 0 || k != varintLen(v) {
			return nil, nil, errMalformedDigestRecord()
		}
		*p, b = v, b[k:]
	}
	for _, p := range []*uint64{&rec.id.ino, &rec.id.dev} {
		v, k := binary.Uvarint(b)
		if k <= 0 || k != uvarintLen(v) {
			return nil, nil, errMalformedDigestRecord()
		}
		*p, b = v, b[k:]
	}
	digest, ok = field()
	if !ok || len(digest) > maxDigestLen || len(b) != 1 || b[0] > 1 {
		return nil, nil, errMalformedDigestRecord()
	}
	rec.trusted = b[0] == 1
	return name, digest, nil
}

// uvarintLen is the length of v's shortest encoding (binary.AppendUvarint).
func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

// varintLen is the length of binary.AppendVarint's encoding of v (zigzag).
func varintLen(v int64) int { return uvarintLen(uint64(v)<<1 ^ uint64(v>>63)) }

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

// digestFramedLen is the length of rec framed, as appendDigestBody and
// appendFramed make it: where a record kept from the previous file ends,
// without encoding it.
func digestFramedLen(rec *digestRecord) int64 {
	n := uvarintLen(uint64(len(rec.name))) + len(rec.name) +
		varintLen(rec.id.size) + varintLen(rec.id.mtime) + varintLen(rec.id.ctime) +
		uvarintLen(rec.id.ino) + uvarintLen(rec.id.dev) +
		uvarintLen(uint64(len(rec.digest))) + len(rec.digest) + 1
	return int64(uvarintLen(uint64(n)) + n + 4)
}

// appendFramed appends body with its length and CRC.
func appendFramed(b, body []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(body)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(body))
}
