package provider

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// listingStore hands the destination listing that refresh read to the
// re-plan of the apply walk.
//
// Terraform runs `terraform apply` in two walks, each with its own
// provider process: the plan walk (Read, then PlanResourceChange) and the
// apply walk, which plans every changed resource again before applying it
// and requires that plan to equal the first. The apply walk does not
// refresh, so its process has no listing; without this store it listed the
// destination again — a second round of the server hashing the whole tree,
// and a plan that could differ from the one the user approved if the
// server changed in between ("Provider produced inconsistent final plan").
//
// Read writes its listing to a file named by a random token and records
// the token and the file's digest in the resource's private state, which
// Terraform keeps with the refreshed state and passes to the apply walk's
// PlanResourceChange as prior private state. That plan loads the file
// (only if its digest matches), so it plans from exactly the listing the
// first plan used; the apply removes the file. A missing or mismatching
// file only means listing again, as before.
//
// Files live in the user's cache directory (mode 0700 directory, 0600
// files: they name the destination's paths, as the state does). Each
// destination keeps its newest keepPerKey files and none older than
// maxAge, so plans that are never applied cannot fill the disk.
type listingStore struct {
	dir string
	// swept makes the age sweep once per store, i.e. once per configured
	// provider (per walk), not once per resource: the directory holds
	// every destination's listings, and stat'ing each of them at every
	// refresh cost a fleet of N destinations N full scans.
	swept sync.Once
	// written holds the tokens of the listings this process wrote: a
	// plan that finds its refresh's listing only in the store (a
	// streamed refresh keeps none in memory) is still the plan walk's.
	written sync.Map
}

const (
	listingMaxAge     = time.Hour
	listingTempMaxAge = 24 * time.Hour
	listingKeepPerKey = 3
	// privateListing is the private state key of the listing reference.
	privateListing = "destination_listing"
)

// newListingStore returns a store under the user's cache directory, or nil
// (no store: every re-plan lists) when there is none.
func newListingStore() *listingStore {
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		return nil
	}
	return &listingStore{dir: filepath.Join(base, "terraform-provider-rsync", "listings")}
}

// newDigestCache returns the digest cache under the user's cache
// directory, beside the listings, or nil (no cache) when there is none.
func newDigestCache() *tree.DigestCache {
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		return nil
	}
	return tree.NewDigestCache(filepath.Join(base, "terraform-provider-rsync", "digests"))
}

// listingRef is what private state holds: which file (its name starts
// with the keySum of the listing's key, destKey) and the digest of its
// bytes.
type listingRef struct {
	Token string `json:"token"`
	Sum   string `json:"sum"`
}

// A listing file is a gob stream: a listingHeader, then the items in
// packed chunks of up to listingChunk, so that neither the refresh that
// writes it nor the plan that reads it holds the encoded listing whole
// (issue 15: a 300,000-file listing is tens of MB). In format 4 the items
// are written as they come (a refresh streaming its listing does not know
// how many there are, or the server's digest algorithm, until the end):
// an empty chunk ends them and a listingTrailer follows. The digest in
// private state covers the file's bytes; the reader checks it once it has
// read them all, and drops what it decoded on a mismatch.
type listingHeader struct {
	// Format is listingFormat, 3 or 2; files of another (an older
	// provider's single storedListing value) are not read.
	Format int
	Key    string
	Mode   tree.Mode
	Algo   csum.Algo // formats 2 and 3; format 4's is in the trailer
	Items  int       // formats 2 and 3: how many items the chunks hold
}

// listingTrailer ends a format 4 listing.
type listingTrailer struct {
	Algo  csum.Algo
	Items int
}

// storedItem is a tree.Item as a format 2 listing file holds it: the
// fields tree.Item had before it was made compact (issue 15), by the same
// names and types (gob matches fields by name;
// testdata/listing-format2.gob pins it).
type storedItem struct {
	Name       string
	Size       int64
	ModTime    int64
	Digest     []byte
	Target     string
	LinkTo     string
	Rdev       uint64
	Perm       uint32
	Kind       tree.Kind
	Unreadable bool
	Ignored    bool
}

func (s *storedItem) item() tree.Item {
	it := tree.Item{Name: s.Name, Size: s.Size, ModTime: s.ModTime, Perm: s.Perm, Kind: s.Kind, Unreadable: s.Unreadable, Ignored: s.Ignored}
	it.SetDigest(s.Digest)
	it.SetTarget(s.Target)
	it.SetLinkTo(s.LinkTo)
	it.SetRdev(s.Rdev)
	return it
}

const (
	// listingFormat is the format written: 4, items packed by hand
	// (listing_store_codec.go) as they come; load also reads format 3
	// (the same chunks after a header that counts them) and format 2,
	// gob's own encoding of storedItem, which the provider wrote before.
	listingFormat = 4
	listingChunk  = 4096
	// maxStoredItems bounds what a damaged header can make us allocate:
	// a listing has at most flist.MaxEntries entries.
	maxStoredItems = flist.MaxEntries
)

// keySum names a listing key in file names and refs without spelling out
// its account and path.
func keySum(key string) string {
	h := csum.XXH128.NewFile()
	h.Write([]byte(key))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// save writes m as the listing of key and returns the private state value
// that finds it again.
func (s *listingStore) save(ctx context.Context, key string, m *tree.Manifest) ([]byte, error) {
	w, err := s.create(key, m.Mode)
	if w == nil || err != nil {
		return nil, err
	}
	for i := range m.Items {
		w.add(&m.Items[i])
	}
	return w.commit(ctx, m.Algo)
}

// listingWriter writes a listing to the store as its items come
// (create, add, then commit or abort).
type listingWriter struct {
	s   *listingStore
	key string
	// others is how many older files of key commit keeps beside the new
	// one: listingKeepPerKey-1, or fewer for a spool (spoolSource), which
	// no later process reads.
	others int
	f      *os.File
	h      hash.Hash
	bw     *bufio.Writer
	enc    *listingEncoder
}

// create starts a listing of key in the store; nil without a store.
func (s *listingStore) create(key string, mode tree.Mode) (*listingWriter, error) {
	if s == nil {
		return nil, nil
	}
	if err := s.ensureDir(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("write the listing: %w", err)
	}
	h := csum.XXH128.NewFile()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 64<<10)
	return &listingWriter{s: s, key: key, others: listingKeepPerKey - 1, f: f, h: h, bw: bw, enc: newListingEncoder(gob.NewEncoder(bw), key, mode)}, nil
}

// add writes the next item (in the listing's order).
func (w *listingWriter) add(it *tree.Item) { w.enc.add(it) }

// commit ends the listing, its digests made with algo, puts it in place
// and returns the private state value that finds it again.
func (w *listingWriter) commit(ctx context.Context, algo csum.Algo) ([]byte, error) {
	tok := make([]byte, 16)
	werr := w.enc.finish(algo)
	if werr == nil {
		werr = w.bw.Flush()
	}
	if cerr := w.f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		if _, err := rand.Read(tok); err != nil {
			werr = fmt.Errorf("make a listing token: %w", err)
		}
	}
	ks := keySum(w.key)
	ref := listingRef{Token: ks + "-" + hex.EncodeToString(tok), Sum: hex.EncodeToString(w.h.Sum(nil))}
	if werr == nil {
		werr = os.Rename(w.f.Name(), filepath.Join(w.s.dir, ref.Token))
	}
	if werr != nil {
		os.Remove(w.f.Name())
		return nil, fmt.Errorf("write the listing: %w", werr)
	}
	w.s.prune(ctx, ks, ref.Token, w.others)
	w.s.written.Store(ref.Token, true)
	return json.Marshal(ref)
}

// abort removes what was written.
func (w *listingWriter) abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// wroteHere reports whether this process wrote the listing private state
// refers to.
func (s *listingStore) wroteHere(private []byte) bool {
	var ref listingRef
	if s == nil || json.Unmarshal(private, &ref) != nil {
		return false
	}
	_, ok := s.written.Load(ref.Token)
	return ok
}

// load returns the listing private state refers to, if it is still there,
// intact, and the listing of key.
func (s *listingStore) load(ctx context.Context, key string, private []byte) (*tree.Manifest, bool) {
	f, ok := s.open(ctx, key, private)
	if !ok {
		return nil, false
	}
	defer f.close()
	m, err := decodeListing(f.dec, key)
	if err != nil {
		tflog.Debug(ctx, "the listing refresh saved cannot be read; listing again", map[string]interface{}{"file": f.token, "error": err.Error()})
		return nil, false
	}
	if !f.intact(ctx) {
		return nil, false
	}
	return m, true
}

// storedListing is a listing file open for reading: dec reads it; intact
// says, once it is read, whether its bytes are the ones saved.
type storedListing struct {
	file  *os.File
	token string
	sum   string
	h     hash.Hash
	br    *bufio.Reader
	dec   *gob.Decoder
}

// open opens the listing private state refers to, if it is still there
// and named as a listing of key.
func (s *listingStore) open(ctx context.Context, key string, private []byte) (*storedListing, bool) {
	if s == nil || len(private) == 0 {
		return nil, false
	}
	var ref listingRef
	if err := json.Unmarshal(private, &ref); err != nil || !validToken(ref.Token) || !strings.HasPrefix(ref.Token, keySum(key)+"-") {
		return nil, false
	}
	f, err := os.Open(filepath.Join(s.dir, ref.Token))
	if err != nil {
		tflog.Debug(ctx, "the listing refresh saved is gone; listing again", map[string]interface{}{"error": err.Error()})
		return nil, false
	}
	h := csum.XXH128.NewFile()
	br := bufio.NewReaderSize(io.TeeReader(f, h), 64<<10)
	return &storedListing{file: f, token: ref.Token, sum: ref.Sum, h: h, br: br, dec: gob.NewDecoder(br)}, true
}

// intact reads what the decoder left and reports whether the file's
// digest is the one private state recorded.
func (l *storedListing) intact(ctx context.Context) bool {
	// The digest covers every byte: read what gob left.
	if _, err := io.Copy(io.Discard, l.br); err != nil {
		tflog.Debug(ctx, "the listing refresh saved cannot be read; listing again", map[string]interface{}{"file": l.token, "error": err.Error()})
		return false
	}
	if hex.EncodeToString(l.h.Sum(nil)) != l.sum {
		tflog.Warn(ctx, "the listing refresh saved does not match its digest; listing again", map[string]interface{}{"file": l.token})
		return false
	}
	return true
}

func (l *storedListing) close() { l.file.Close() }

// encodeListing writes m as a listing file of key.
func encodeListing(enc *gob.Encoder, key string, m *tree.Manifest) error {
	e := newListingEncoder(enc, key, m.Mode)
	for i := range m.Items {
		e.add(&m.Items[i])
	}
	return e.finish(m.Algo)
}

// listingEncoder writes a format 4 listing an item at a time.
type listingEncoder struct {
	enc   *gob.Encoder
	items []tree.Item
	chunk []byte
	n     int
	err   error
}

func newListingEncoder(enc *gob.Encoder, key string, mode tree.Mode) *listingEncoder {
	e := &listingEncoder{enc: enc}
	if err := enc.Encode(listingHeader{Format: listingFormat, Key: key, Mode: mode}); err != nil {
		e.err = fmt.Errorf("encode the listing: %w", err)
	}
	return e
}

func (e *listingEncoder) add(it *tree.Item) {
	if e.err != nil {
		return
	}
	e.items = append(e.items, *it)
	e.n++
	if len(e.items) == listingChunk {
		e.flush()
	}
}

func (e *listingEncoder) flush() {
	if len(e.items) == 0 || e.err != nil {
		return
	}
	e.chunk = packItems(e.chunk[:0], e.items)
	clear(e.items)
	e.items = e.items[:0]
	if err := e.enc.Encode(e.chunk); err != nil {
		e.err = fmt.Errorf("encode the listing: %w", err)
	}
}

// finish writes the last chunk, the end of the chunks and the trailer.
func (e *listingEncoder) finish(algo csum.Algo) error {
	e.flush()
	if e.err != nil {
		return e.err
	}
	if err := e.enc.Encode([]byte{}); err != nil {
		return fmt.Errorf("encode the listing: %w", err)
	}
	if err := e.enc.Encode(listingTrailer{Algo: algo, Items: e.n}); err != nil {
		return fmt.Errorf("encode the listing: %w", err)
	}
	return nil
}

// decodeListing reads what encodeListing wrote for key (or a format 2 or
// 3 listing).
func decodeListing(dec *gob.Decoder, key string) (*tree.Manifest, error) {
	d, err := newListingDecoder(dec, key)
	if err != nil {
		return nil, err
	}
	m := &tree.Manifest{Mode: d.hd.Mode, Algo: d.hd.Algo}
	if d.hd.Format == 2 {
		m.Items = make([]tree.Item, 0, d.hd.Items)
		return decodeListing2(dec, d.hd, m)
	}
	if d.hd.Format == 3 {
		m.Items = make([]tree.Item, 0, d.hd.Items)
	}
	for {
		var more bool
		if m.Items, more, err = d.chunk(m.Items); err != nil {
			return nil, err
		}
		if !more {
			break
		}
	}
	m.Algo = d.algo
	return m, nil
}

// listingDecoder reads the items of a format 3 or 4 listing a chunk at a
// time (format 2 only through decodeListing).
type listingDecoder struct {
	dec  *gob.Decoder
	hd   listingHeader
	buf  []byte // a chunk as read
	n    int    // items read
	done bool
	algo csum.Algo // once done
}

func newListingDecoder(dec *gob.Decoder, key string) (*listingDecoder, error) {
	d := &listingDecoder{dec: dec}
	if err := dec.Decode(&d.hd); err != nil {
		return nil, err
	}
	if (d.hd.Format != listingFormat && d.hd.Format != 3 && d.hd.Format != 2) || d.hd.Key != key || d.hd.Items < 0 || d.hd.Items > maxStoredItems {
		return nil, fmt.Errorf("not a listing of this destination in format 2, 3 or %d", listingFormat)
	}
	d.algo = d.hd.Algo
	return d, nil
}

// chunk appends the next chunk's items to items; more is false, and
// nothing appended, once they are all read (and, in format 4, the
// trailer agrees).
func (d *listingDecoder) chunk(items []tree.Item) (_ []tree.Item, more bool, err error) {
	if d.done {
		return items, false, nil
	}
	if d.hd.Format == 3 && d.n == d.hd.Items {
		d.done = true
		return items, false, nil
	}
	d.buf = d.buf[:0]
	if err := d.dec.Decode(&d.buf); err != nil {
		return nil, false, err
	}
	if len(d.buf) == 0 {
		if d.hd.Format == 3 {
			return nil, false, errors.New("listing chunks do not add up to its header")
		}
		var tr listingTrailer
		if err := d.dec.Decode(&tr); err != nil {
			return nil, false, err
		}
		if tr.Items != d.n {
			return nil, false, errors.New("listing chunks do not add up to its trailer")
		}
		d.done, d.algo = true, tr.Algo
		return items, false, nil
	}
	n := len(items)
	if items, err = unpackItems(items, d.buf); err != nil {
		return nil, false, err
	}
	d.n += len(items) - n
	if len(items) == n || d.n > maxStoredItems || (d.hd.Format == 3 && d.n > d.hd.Items) {
		return nil, false, errors.New("listing chunks do not add up to its header")
	}
	return items, true, nil
}

// decodeListing2 reads the chunks of a format 2 listing: gob's encoding
// of storedItem.
func decodeListing2(dec *gob.Decoder, hd listingHeader, m *tree.Manifest) (*tree.Manifest, error) {
	var chunk []storedItem
	for len(m.Items) < hd.Items {
		// gob decodes into a slice's elements in place: each must start
		// empty, or a field the file leaves out (gob omits zero values)
		// would keep the previous chunk's value.
		clear(chunk)
		chunk = chunk[:0]
		if err := dec.Decode(&chunk); err != nil {
			return nil, err
		}
		if len(chunk) == 0 || len(m.Items)+len(chunk) > hd.Items {
			return nil, errors.New("listing chunks do not add up to its header")
		}
		for i := range chunk {
			m.Items = append(m.Items, chunk[i].item())
		}
	}
	return m, nil
}

// remove deletes the file private state refers to (after the apply that
// used it).
func (s *listingStore) remove(private []byte) {
	if s == nil || len(private) == 0 {
		return
	}
	var ref listingRef
	if json.Unmarshal(private, &ref) == nil && validToken(ref.Token) {
		os.Remove(filepath.Join(s.dir, ref.Token))
		os.Remove(filepath.Join(s.dir, ref.Token+estimateSuffix))
	}
}

// ensureDir creates the store's directory, private to this user, and
// refuses one that is not a directory of ours with no access for others.
func (s *listingStore) ensureDir() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", s.dir, err)
	}
	fi, err := os.Lstat(s.dir)
	if err != nil {
		return fmt.Errorf("check %s: %w", s.dir, err)
	}
	if !fi.IsDir() || !ownerOnly(fi) {
		return fmt.Errorf("%s is not a directory only its owner may use (mode %v)", s.dir, fi.Mode())
	}
	return nil
}

// prune removes key's listings beyond the newest listingKeepPerKey (keep,
// the one just written, among them) and, once per store, every file older
// than listingMaxAge. Only key's own files are stat'ed here.
func (s *listingStore) prune(ctx context.Context, keySum, keep string, others int) {
	s.swept.Do(func() { s.sweepOld(ctx) })
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		mod  time.Time
	}
	var mine []file
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), keySum+"-") || e.Name() == keep || !validToken(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		mine = append(mine, file{e.Name(), info.ModTime()})
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].mod.After(mine[j].mod) })
	for i := others; i < len(mine); i++ {
		os.Remove(filepath.Join(s.dir, mine[i].name))
		os.Remove(filepath.Join(s.dir, mine[i].name+estimateSuffix))
	}
}

// sweepOld removes every file older than listingMaxAge: listings of plans
// never applied, of any destination.
func (s *listingStore) sweepOld(ctx context.Context) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	now := time.Now()
	for _, e := range ents {
		info, err := e.Info()
		maxAge := listingMaxAge
		if strings.HasPrefix(e.Name(), ".tmp-") {
			// A listing being written as its server lists: a slow one
			// may not flush for a long time.
			maxAge = listingTempMaxAge
		}
		if err != nil || !info.Mode().IsRegular() || now.Sub(info.ModTime()) <= maxAge {
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			tflog.Debug(ctx, "could not remove an old listing", map[string]interface{}{"error": err.Error()})
		}
	}
}

// validToken accepts only the names save makes (hex and one dash), so a
// private state value can never name a path outside the store.
func validToken(t string) bool {
	if len(t) != 16+1+32 || t[16] != '-' {
		return false
	}
	for i, c := range t {
		if i == 16 {
			continue
		}
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

func digest(b []byte) string {
	h := csum.XXH128.NewFile()
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
