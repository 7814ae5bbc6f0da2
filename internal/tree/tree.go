// Package tree describes a file tree as a manifest — each entry's path,
// type, permission bits and content digest (or size and mtime) — hashes a
// manifest into one comparable value, and diffs two manifests into the
// changes a sync would make. A local tree is read and hashed in parallel;
// a remote one comes from the remote rsync's own checksummed file list, so
// both sides are described the same way and hash equal when they match.
package tree

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/localfile"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// Mode selects what describes a file's content.
type Mode int

const (
	// Content uses a digest of the file's bytes.
	Content Mode = iota
	// Metadata uses size and modification time (cheap for huge trees).
	Metadata
)

// Kind is an entry type.
type Kind byte

const (
	File    Kind = 'f'
	Dir     Kind = 'd'
	Symlink Kind = 'l'
	// Devices and specials (rsync -D), when the options keep them.
	CharDevice  Kind = 'c'
	BlockDevice Kind = 'b'
	Fifo        Kind = 'p'
	Socket      Kind = 's'
)

// Options say which of rsync -a's fidelity a manifest describes: the
// kinds of file a sync copies, and whether hard links are kept as links.
// They must be the sync's, on both sides, so that a tree synced with them
// hashes equal to its copy.
type Options struct {
	Devices, Specials bool // rsync -D's two halves: device files; fifos and sockets
	HardLinks         bool // rsync -H
}

// DefaultOptions is rsync -a: devices and specials, no hard links.
func DefaultOptions() Options { return Options{Devices: true, Specials: true} }

// Manifest is a whole tree, in rsync's sort order.
type Manifest struct {
	Mode  Mode
	Algo  csum.Algo // the digest algorithm (Content mode)
	Items []Item
}

// Files and Bytes count regular files and their total size.
func (m *Manifest) Files() int {
	n := 0
	for _, it := range m.Items {
		if it.Kind == File {
			n++
		}
	}
	return n
}

// Bytes is the total size of the regular files.
func (m *Manifest) Bytes() int64 {
	var n int64
	for _, it := range m.Items {
		if it.Kind == File {
			n += it.Size
		}
	}
	return n
}

// Hash is the manifest's digest, prefixed with what it is made of:
// "xxh128:…" (content by xxh128), "md5:…", or "meta:…" (size and mtime).
// Two manifests hash equal exactly when they describe the same tree.
func (m *Manifest) Hash() string {
	h := NewHasher(m.Mode, m.Algo)
	for i := range m.Items {
		h.Add(&m.Items[i])
	}
	return h.Sum()
}

// AlgoOfHash returns the content algorithm a hash made by Hash names, and
// whether it names one (a "meta:" hash does not).
func AlgoOfHash(hash string) (csum.Algo, bool) {
	name, _, ok := strings.Cut(hash, ":")
	if !ok {
		return 0, false
	}
	return csum.ByName(name)
}

// ContentRoot splits an rsync source into the directory whose contents
// form the tree and the name prefix the file list gives them: "dir/" is
// its own content root; "dir" puts its entries under "dir/" (rsync's
// trailing-slash rule).
func ContentRoot(source string) (prefix string) {
	if strings.HasSuffix(source, "/") || strings.HasSuffix(source, "/.") || source == "." {
		return ""
	}
	s := strings.TrimRight(source, "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// FromEntries builds a manifest from file-list entries (a remote listing
// or a local walk), renaming entries below prefix to the content root and
// dropping entries outside it. It consumes entries: each element is set to
// nil once converted, so that on a large tree the entries already turned
// into items can be collected while the rest are converted, instead of the
// list and the manifest both peaking at once (every caller drops the list
// afterwards).
func FromEntries(entries []*flist.Entry, prefix string, mode Mode, algo csum.Algo) *Manifest {
	return FromEntriesWith(entries, prefix, mode, algo, DefaultOptions())
}

// FromEntriesWith is FromEntries with opts: devices and specials the
// options do not copy are Ignored items, and with HardLinks each later
// name of a hard-link set names the set's first one.
func FromEntriesWith(entries []*flist.Entry, prefix string, mode Mode, algo csum.Algo, opts Options) *Manifest {
	// Sized once: growing by append would copy the items on the way up,
	// and a 300,000-entry manifest is 19 MB of items.
	m := &Manifest{Mode: mode, Algo: algo, Items: make([]Item, 0, len(entries))}
	var firstOf map[uint32]string // hard-link set → its first name
	var names nameArena
	for i, e := range entries {
		entries[i] = nil
		it, ok := itemOf(e, prefix, mode, opts, &names)
		if !ok {
			continue
		}
		if opts.HardLinks && e.HlinkGroup != 0 && !e.IsDir() {
			if first, ok := firstOf[e.HlinkGroup]; ok {
				it.SetLinkTo(first)
			} else {
				if firstOf == nil {
					firstOf = map[uint32]string{}
				}
				firstOf[e.HlinkGroup] = it.Name
			}
		}
		m.Items = append(m.Items, it)
	}
	return m
}

// itemOf is the item of a file-list entry, renamed below prefix, its
// name copied into names; false
// for an entry outside it, or of a kind no file list holds.
func itemOf(e *flist.Entry, prefix string, mode Mode, opts Options, names *nameArena) (Item, bool) {
	name, ok := relName(e.Name, prefix)
	if !ok {
		return Item{}, false
	}
	it := Item{Name: names.intern(name), Perm: e.Perm(), Size: e.Size, ModTime: e.ModTime}
	switch {
	case e.IsDir():
		it.Kind = Dir
		it.Size, it.ModTime = 0, 0
	case e.IsSymlink():
		it.Kind, it.Perm = Symlink, 0
		it.SetTarget(e.LinkTarget)
		it.ModTime = 0
	case e.IsRegular():
		it.Kind = File
		if mode == Content {
			if allZero(e.Checksum) {
				it.Unreadable = true
			} else {
				it.SetDigest(e.Checksum)
			}
		}
	case e.IsDevice():
		it.Kind, it.Size, it.ModTime, it.Ignored = CharDevice, 0, 0, !opts.Devices
		if e.Type() == flist.SIFBLK {
			it.Kind = BlockDevice
		}
		it.SetRdev(uint64(e.RdevMajor)<<32 | uint64(e.RdevMinor))
	case e.IsSpecial():
		it.Kind, it.Size, it.ModTime, it.Ignored = Fifo, 0, 0, !opts.Specials
		if e.Type() == flist.SIFSOCK {
			it.Kind = Socket
		}
	default:
		return Item{}, false // no other kind of file exists in a file list
	}
	return it, true
}

// allZero reports whether a listed checksum is rsync's for a file it could
// not open: all zero bytes (checksum.c:file_checksum). No real digest of
// 16 bytes or more is all zeros.
func allZero(sum []byte) bool {
	if len(sum) == 0 {
		return false
	}
	for _, b := range sum {
		if b != 0 {
			return false
		}
	}
	return true
}

// MarkUnlisted marks the directories named (manifest names) as unreadable:
// the lister could not open them, so what they hold is unknown.
func (m *Manifest) MarkUnlisted(names []string) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	for i := range m.Items {
		if it := &m.Items[i]; it.Kind == Dir && want[it.Name] {
			it.Unreadable = true
		}
	}
}

// Unreadable lists what the lister could not read, files and directories
// apart (directories end in "/").
func (m *Manifest) Unreadable() (files, dirs []string) {
	for _, it := range m.Items {
		switch {
		case !it.Unreadable:
		case it.Kind == Dir:
			dirs = append(dirs, strings.TrimPrefix(it.Name+"/", "./"))
		default:
			files = append(files, it.Name)
		}
	}
	return files, dirs
}

func relName(name, prefix string) (string, bool) {
	if prefix == "" {
		return name, true
	}
	if name == prefix {
		return ".", true
	}
	rest, ok := strings.CutPrefix(name, prefix+"/")
	return rest, ok
}

// Local reads and hashes the local tree named by source (rsync's
// trailing-slash rule), leaving out what rules exclude. In Content mode
// files are hashed with algo by a pool of workers, one per CPU.
func Local(ctx context.Context, source string, rules *filter.List, mode Mode, algo csum.Algo) (*Manifest, []string, error) {
	m, warnings, _, err := LocalWith(ctx, source, rules, mode, algo, DefaultOptions())
	return m, warnings, err
}

// LocalWith is Local with opts; it also returns the walk's notes on what
// opts leave out (devices or specials off), apart from its warnings.
func LocalWith(ctx context.Context, source string, rules *filter.List, mode Mode, algo csum.Algo, opts Options) (m *Manifest, warnings, skipped []string, err error) {
	return localWith(ctx, source, rules, mode, algo, opts, nil)
}

func localWith(ctx context.Context, source string, rules *filter.List, mode Mode, algo csum.Algo, opts Options, cache *DigestCache) (m *Manifest, warnings, skipped []string, err error) {
	b := NewBuilder(ContentRoot(source), mode, opts)
	warnings, skipped, err = walkLocal(ctx, source, rules, mode, algo, opts, cache, b.addInOrder)
	if err != nil {
		return nil, nil, nil, err
	}
	return b.Manifest(algo), warnings, skipped, nil
}

// ErrWalkOrder is DigestCache.Each's error when the walk did not hand its
// entries over in rsync's order (a manifest made of them would be sorted,
// so nothing folded over them stands for it). A local walk always does;
// the caller may read the tree as a manifest instead.
var ErrWalkOrder = errors.New("the walk did not hand its entries over in rsync's order")

// walkLocal walks the local tree source (hashed in Content mode, through
// cache when it is not nil) and hands every entry to add in list order.
func walkLocal(ctx context.Context, source string, rules *filter.List, mode Mode, algo csum.Algo, opts Options, cache *DigestCache, add func(*flist.Entry)) (warnings, skipped []string, err error) {
	var skip flist.Skipper
	if rules != nil {
		skip = rules.Excluded
	}
	walk, err := flist.NewStream(source, skip, flist.WalkOptions{Devices: opts.Devices, Specials: opts.Specials, HardLinks: opts.HardLinks})
	if err != nil {
		return nil, nil, err
	}
	var res *flist.WalkResult
	if mode == Content {
		res, err = walkHashed(ctx, walk, algo, cache, source, add)
	} else {
		res, err = walk.Run(ctx, func(e *flist.Entry, _ flist.FileID) error {
			add(e)
			return nil
		})
	}
	if err != nil {
		return nil, nil, err
	}
	return res.Warnings, res.Skipped, nil
}

// hashJob is one entry of the walk, in a batch: for a regular file, the
// cache's record of it, if any, and what the hashing learnt of it for the
// next cache.
type hashJob struct {
	e    *flist.Entry
	id   fileID // what the walk's lstat said of it
	idOK bool   // id holds (a system with change times)
	rec  *digestRecord
	keep *digestRecord // what to record; nil: nothing
}

// hashBatch is a run of jobs handed to one worker: a channel operation
// per file costs more than stat'ing it when the digests come from the
// cache.
type hashBatch struct {
	jobs []hashJob
	done chan struct{}
}

const hashBatchSize = 64

// walkHashed runs walk, filling in Checksum for every regular file in
// parallel — from the digest cache when the file is unchanged since
// recorded there, by what the walk's own lstat said of it; otherwise by
// reading it — and hands every entry to add in list order once hashed.
// Nothing holds the walked list: the walk streams its entries
// (flist.Stream), they go to the workers in batches, and the batches are
// collected in the order they were handed out, a bounded window of them
// in flight, so add sees the list's order and the new cache file is
// written in it. source names the tree for the cache.
func walkHashed(ctx context.Context, walk *flist.Stream, algo csum.Algo, cache *DigestCache, source string, add func(*flist.Entry)) (*flist.WalkResult, error) {
	var prev *digestReader
	var next *digestWriter
	if cache != nil {
		key := digestKey(source, algo)
		prev = cache.openDigests(key)
		defer prev.close()
		next = cache.createDigests(key, prev)
	}
	// Files are read after this: a conservative time of every digest.
	hashedAt := time.Now().UnixNano()
	trusted := func(fileID) bool { return false }
	if cache != nil {
		trusted = func(id fileID) bool { return cache.trustedAt(id, hashedAt) }
	}
	root := walk.Root()
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *hashBatch, workers)
	inOrder := make(chan *hashBatch, 4*workers)
	// Batches handed back once collected: a new one for every 64 entries
	// was a third of what a cached walk allocated.
	free := make(chan *hashBatch, 6*workers)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The read buffer is made for the first file read: a walk
			// whose digests all come from the cache reads none, and two
			// idle megabytes were a third of a no-change plan's live
			// heap (issue 15).
			var buf []byte
			h := algo.NewFile()
			var files localfile.Opener // a batch is a run of one directory's files, mostly
			defer files.Close()
			for b := range work {
				for i := range b.jobs {
					j := &b.jobs[i]
					if !j.e.IsRegular() {
						continue
					}
					if err := j.hash(&files, root, h, &buf, trusted, next != nil); err != nil {
						once.Do(func() { firstErr = err })
					}
				}
				close(b.done)
			}
		}()
	}
	written := make(chan struct{})
	go func() {
		defer close(written)
		for b := range inOrder {
			<-b.done
			for i := range b.jobs {
				j := &b.jobs[i]
				add(j.e)
				next.add(j.keep, j.rec)
				*j = hashJob{}
			}
			b.jobs, b.done = b.jobs[:0], nil
			select {
			case free <- b:
			default:
			}
		}
	}()
	b := &hashBatch{done: make(chan struct{})}
	send := func() error {
		// select picks at random among ready cases: a context already
		// ended must not lose to a channel with room.
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case inOrder <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case work <- b:
		case <-ctx.Done():
			close(b.done)
			return ctx.Err()
		}
		select {
		case b = <-free:
		default:
			b = &hashBatch{jobs: make([]hashJob, 0, hashBatchSize)}
		}
		b.done = make(chan struct{})
		return nil
	}
	res, err := walk.Run(ctx, func(e *flist.Entry, id flist.FileID) error {
		j := hashJob{e: e}
		if e.IsRegular() {
			j.id, j.idOK = idOfWalk(e, id)
			j.rec = prev.find(e.Name)
		}
		b.jobs = append(b.jobs, j)
		if len(b.jobs) == hashBatchSize {
			return send()
		}
		return nil
	})
	if err == nil && len(b.jobs) > 0 {
		err = send()
	}
	close(work)
	wg.Wait()
	close(inOrder)
	<-written
	if err == nil {
		err = firstErr
	}
	if err == nil {
		err = ctx.Err() // ended while the last batches were hashed
	}
	next.finish(err == nil)
	return res, err
}

// hash sets the job's checksum: the recorded digest when the file is the
// one recorded and the record is trusted, else the digest of its bytes
// (read from root + its name). trusted says whether a digest made now
// may be trusted later.
// With record set it also says what the next cache file keeps: a file
// that changed while it was read is not recorded.
func (j *hashJob) hash(files *localfile.Opener, root string, h interface {
	io.Writer
	Sum([]byte) []byte
	Reset()
}, buf *[]byte, trusted func(fileID) bool, record bool) error {
	if j.rec != nil && j.rec.trusted && j.rec.id.size == j.e.Size {
		if j.idOK && j.id == j.rec.id {
			j.e.Checksum = j.rec.digest
			j.keep = j.rec
			return nil
		}
	}
	path := root + j.e.Name // made only for a file read: one allocation
	f, err := files.Open(path)
	if err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	f.ExpectSize(j.e.Size)
	// The walk's lstat is what the file was before it was read: recorded
	// only if it is still that once read.
	before, ok := j.id, j.idOK
	h.Reset()
	if *buf == nil {
		*buf = make([]byte, 1<<20)
	}
	if _, err := io.CopyBuffer(h, onlyReader{f}, *buf); err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	j.e.Checksum = h.Sum(nil)
	if after, ok2 := fstatID(f); record && ok && ok2 && before == after {
		j.keep = &digestRecord{name: j.e.Name, id: before, digest: j.e.Checksum, trusted: trusted(before)}
	}
	return nil
}

// onlyReader hides WriteTo so that CopyBuffer uses our buffer.
type onlyReader struct{ io.Reader }

// Changes is what a sync from one manifest to another would do.
type Changes struct {
	Create, Update, Delete []string // directories end in "/"
}

// Empty reports whether there is nothing to do.
func (c Changes) Empty() bool { return len(c.Create)+len(c.Update)+len(c.Delete) == 0 }

// Diff lists what a sync from src to dst would change. Entries only in dst
// count as deletions when del is set and protect (may be nil) does not
// exclude them.
func Diff(src, dst *Manifest, del bool, protect *filter.List) Changes {
	return DiffWith(src, dst, DiffOptions{Delete: del, Protect: protect})
}

// DiffOptions say how Diff compares.
type DiffOptions struct {
	// Delete: entries only in the destination are deletions, unless
	// Protect (may be nil) excludes them.
	Delete  bool
	Protect *filter.List
	// OwnerDirPerms: the destination was written by a stock rsync that
	// does not run as root, which keeps u+rwx on every directory it
	// creates or updates (so that it can go on writing into it) and
	// leaves them so: a source directory of mode 0311 lands as 0711, and
	// rsync itself itemizes it again on every run. A destination
	// directory whose permissions are the source's with u+rwx added
	// counts as the same, or every plan would list it for an apply that
	// cannot change it.
	OwnerDirPerms bool
}

// DiffWith is Diff with options.
func DiffWith(src, dst *Manifest, o DiffOptions) Changes { return Pair(src, dst).Diff(o) }

// Diff is DiffWith of the paired manifests.
func (p *Pairing) Diff(o DiffOptions) Changes {
	src, dst := p.Src, p.Dst
	var c Changes
	// Directories the destination's lister could not open: what they
	// hold is unknown, so nothing below them is compared or deleted.
	var unlisted []string
	for i := range dst.Items {
		if d := &dst.Items[i]; d.Kind == Dir && d.Unreadable {
			unlisted = append(unlisted, d.Name+"/")
		}
	}
	below := func(name string) bool {
		for _, u := range unlisted {
			if strings.HasPrefix(name, u) || u == "./" {
				return true
			}
		}
		return false
	}
	p.Each(func(s, d *Item) {
		switch {
		case s == nil:
			if o.Delete && (o.Protect == nil || !o.Protect.Excluded(d.Name, d.Kind == Dir)) {
				c.Delete = append(c.Delete, DiffPath(d))
			}
		case s.Ignored:
			// Not copied, and what stands at its name stays.
		case len(unlisted) > 0 && below(s.Name):
		case d == nil:
			c.Create = append(c.Create, DiffPath(s))
		case o.Changed(s, d, src.Mode == Metadata || dst.Mode == Metadata):
			c.Update = append(c.Update, DiffPath(s))
		}
	})
	return c
}

// Changed reports whether Diff lists the pair of source item s and
// destination item d (same name) as an update; metadata: either side is a
// Metadata manifest.
func (o DiffOptions) Changed(s, d *Item, metadata bool) bool {
	return !sameItem(s, d, metadata || s.Unreadable || d.Unreadable, o.OwnerDirPerms)
}

// DiffPath is an item's path as Changes lists it: a directory's with a
// trailing slash ("." as it is).
func DiffPath(it *Item) string {
	if it.Kind == Dir && it.Name != "." {
		return it.Name + "/"
	}
	return it.Name
}

// sameItem reports whether destination item b already is source item a:
// by digest, or by size and mtime when metadata is set; ownerDirPerms is
// DiffOptions.OwnerDirPerms.
func sameItem(a, b *Item, metadata, ownerDirPerms bool) bool {
	if a.Kind != b.Kind {
		return false
	}
	if a.Perm != b.Perm && (a.Kind != Dir || !ownerDirPerms || a.Perm|0o700 != b.Perm) {
		return false
	}
	if a.LinkTo() != b.LinkTo() || a.Rdev() != b.Rdev() {
		return false
	}
	switch a.Kind {
	case Symlink:
		return a.Target() == b.Target()
	case File:
		if metadata {
			return a.Size == b.Size && a.ModTime == b.ModTime
		}
		return string(a.Digest()) == string(b.Digest())
	}
	return true
}
