package tree

import (
	"path"
	"sort"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// Builder makes a manifest from file-list entries handed over one at a
// time in any order (rsync.ListEach: a listing as it arrives), keeping
// only the items: a 300,000-entry listing no longer sits in memory as
// entries and as a manifest at once. Add does not resolve hard links (a
// set's first name is only known in sorted order): with HardLinks use
// FromEntriesWith on the whole list, or addInOrder for a list handed over
// in order.
type Builder struct {
	prefix string
	mode   Mode
	opts   Options
	// Items go into chunks of builderChunk, put together once at the end:
	// appending to one slice of unknown final size copies it at every
	// growth (five times its final size allocated in all, at Go's 1.25×
	// growth of large slices: a 100,000-entry listing allocated 32 MB for
	// a 10 MB manifest).
	chunks [][]Item
	names  nameArena
	n      int
	last   Item
	sorted bool // items so far are in rsync order, without duplicates
	// An incremental listing comes a directory at a time, each
	// directory's entries in order (rsync's sender sorts each list), which
	// is not the whole tree's order (that puts a subdirectory's contents
	// right after it). While that holds, runs records where each
	// directory's entries lie, and Manifest puts them in order by walking
	// the directories (orderByDirs): no sort of the whole listing, which
	// was a fifth of a million-file plan's CPU.
	grouped bool
	runs    map[string]itemRun // parent directory → its entries
	run     itemRun            // the entries of the directory being added
	runDir  string
	// firstOf is each hard-link set's first name (addInOrder).
	firstOf map[uint32]string
}

// itemRun is where one directory's entries lie in the order they were
// added: [start, end).
type itemRun struct{ start, end int }

const builderChunk = 4096

// NewBuilder starts a manifest of entries below prefix (see FromEntries).
func NewBuilder(prefix string, mode Mode, opts Options) *Builder {
	return &Builder{prefix: prefix, mode: mode, opts: opts, sorted: true, grouped: true, runs: map[string]itemRun{}}
}

// Add converts e; the builder keeps nothing of e but its strings and its
// checksum.
func (b *Builder) Add(e *flist.Entry) {
	it, ok := itemOf(e, b.prefix, b.mode, b.opts, &b.names)
	if !ok {
		return
	}
	if b.n > 0 && b.sorted && compareItems(&b.last, &it) >= 0 {
		b.sorted = false
	}
	if b.grouped {
		b.group(&it)
	}
	if k := len(b.chunks); k == 0 || len(b.chunks[k-1]) == builderChunk {
		b.chunks = append(b.chunks, make([]Item, 0, builderChunk))
	}
	k := len(b.chunks) - 1
	b.chunks[k] = append(b.chunks[k], it)
	b.last = it
	b.n++
}

// addInOrder is Add for entries handed over in list order (a local
// walk, flist.Stream), where the first name of a hard-link set added is
// its first in the list: with HardLinks each later name of a set names
// it, as FromEntriesWith does.
func (b *Builder) addInOrder(e *flist.Entry) {
	n := b.n
	b.Add(e)
	if b.n == n {
		return
	}
	it := &b.chunks[len(b.chunks)-1][len(b.chunks[len(b.chunks)-1])-1]
	if linkInOrder(it, e, b.opts, &b.firstOf) {
		b.last = *it
	}
}

// linkInOrder resolves the hard link of it, the item of e, for entries
// handed over in list order: with HardLinks, a later name of a set names
// the set's first (recorded in firstOf as it comes). It reports whether
// it set a link.
func linkInOrder(it *Item, e *flist.Entry, opts Options, firstOf *map[uint32]string) bool {
	if !opts.HardLinks || e.HlinkGroup == 0 || e.IsDir() {
		return false
	}
	if first, ok := (*firstOf)[e.HlinkGroup]; ok {
		it.SetLinkTo(first)
		return true
	}
	if *firstOf == nil {
		*firstOf = map[uint32]string{}
	}
	(*firstOf)[e.HlinkGroup] = it.Name
	return false
}

// itemStream converts the entries of a walk handed over in list order
// into items, as a Builder fed by addInOrder would hold them, and hands
// each to yield instead of keeping it (DigestCache.Each).
type itemStream struct {
	prefix  string
	mode    Mode
	opts    Options
	names   nameArena
	last    Item
	n       int
	firstOf map[uint32]string
	yield   func(*Item)
	// disordered: an item did not sort after the one before it, so the
	// items handed over are not a manifest's (a Builder would sort them).
	disordered bool
}

func (s *itemStream) addInOrder(e *flist.Entry) {
	it, ok := itemOf(e, s.prefix, s.mode, s.opts, &s.names)
	if !ok {
		return
	}
	if s.n > 0 && compareItems(&s.last, &it) >= 0 {
		s.disordered = true
	}
	linkInOrder(&it, e, s.opts, &s.firstOf)
	s.last = it
	s.n++
	s.yield(&it)
}

// Manifest returns the manifest of everything added, in rsync's order,
// its file digests made with algo (known once the listing is done). A
// name listed twice keeps the directory, as List's dedupe does.
func (b *Builder) Manifest(algo csum.Algo) *Manifest {
	items := make([]Item, 0, b.n)
	for i, c := range b.chunks {
		items = append(items, c...)
		b.chunks[i] = nil
	}
	sorted, grouped, runs := b.sorted, b.grouped, b.runs
	if grouped {
		runs[b.runDir] = b.run
	}
	b.chunks, b.n, b.last, b.runs, b.names, b.firstOf = nil, 0, Item{}, nil, nameArena{}, nil
	if !sorted && grouped && orderByDirs(items, runs) {
		sorted = true
	}
	if !sorted {
		items = sortItems(items)
	}
	return &Manifest{Mode: b.mode, Algo: algo, Items: items}
}

// sortItems puts items in rsync's order in place; of a name listed twice
// it keeps the directory, as List's dedupe does.
func sortItems(items []Item) []Item {
	sort.Sort(itemOrder(items))
	out := items[:0]
	for _, it := range items {
		if n := len(out); n > 0 && out[n-1].Name == it.Name {
			if it.Kind == Dir && out[n-1].Kind != Dir {
				out[n-1] = it
			}
			continue
		}
		out = append(out, it)
	}
	clear(items[len(out):])
	return out
}

// group records it in its directory's run. The item of the root "." is a
// run of its own (under ""); a directory whose entries do not come
// together, strictly in order, ends the grouping: Manifest sorts then.
func (b *Builder) group(it *Item) {
	dir, base := "", it.Name
	if it.Name != "." {
		dir = "."
		if i := strings.LastIndexByte(it.Name, '/'); i >= 0 {
			dir, base = it.Name[:i], it.Name[i+1:]
		}
	}
	if b.n > 0 && dir == b.runDir {
		_, lastBase := path.Split(b.last.Name)
		if flist.CompareSiblings(lastBase, b.last.Kind == Dir, base, it.Kind == Dir) >= 0 {
			b.grouped, b.runs = false, nil
			return
		}
		b.run.end = b.n + 1
		return
	}
	if b.n > 0 {
		b.runs[b.runDir] = b.run
	}
	if _, again := b.runs[dir]; again {
		b.grouped, b.runs = false, nil
		return
	}
	b.runDir, b.run = dir, itemRun{start: b.n, end: b.n + 1}
}

// orderByDirs puts items, added a directory at a time as runs says, in
// rsync's order: the root, then each directory's entries in order, a
// subdirectory's own entries right after it (flist.Compare is that
// order: a directory compares as "name/", so everything below it sorts
// before its next sibling). It reports false, leaving items as they
// were, when that does not reach every item exactly once (entries below
// what is not a listed directory).
func orderByDirs(items []Item, runs map[string]itemRun) bool {
	order := make([]int32, 0, len(items))
	if r, ok := runs[""]; ok {
		for i := r.start; i < r.end; i++ {
			order = append(order, int32(i))
		}
	}
	var stack []itemRun
	if r, ok := runs["."]; ok {
		stack = append(stack, r)
	}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.start == top.end {
			stack = stack[:len(stack)-1]
			continue
		}
		i := top.start
		top.start++
		order = append(order, int32(i))
		if items[i].Kind != Dir {
			continue
		}
		if r, ok := runs[items[i].Name]; ok {
			delete(runs, items[i].Name)
			stack = append(stack, r)
		}
	}
	if len(order) != len(items) {
		return false
	}
	// Move each item to its place, one cycle of the permutation at a
	// time: no second copy of the manifest.
	for k := range order {
		if order[k] < 0 {
			continue
		}
		held := items[k]
		j := k
		for {
			from := int(order[j])
			order[j] = -1
			if from == k {
				items[j] = held
				break
			}
			items[j] = items[from]
			j = from
		}
	}
	return true
}

// compareItems orders items as flist.Compare orders their entries (the
// root "." first; a directory's name compares as "name/").
// CompareItems orders items as a manifest holds them (rsync's order).
func CompareItems(a, b *Item) int { return compareItems(a, b) }

func compareItems(a, b *Item) int {
	ea := flist.Entry{Name: a.Name, Mode: flist.SIFREG}
	eb := flist.Entry{Name: b.Name, Mode: flist.SIFREG}
	if a.Kind == Dir {
		ea.Mode = flist.SIFDIR
	}
	if b.Kind == Dir {
		eb.Mode = flist.SIFDIR
	}
	return flist.Compare(&ea, &eb)
}

// itemOrder sorts items in place by compareItems, comparing through
// pointers (an item is 64 bytes).
type itemOrder []Item

func (o itemOrder) Len() int           { return len(o) }
func (o itemOrder) Less(i, j int) bool { return compareItems(&o[i], &o[j]) < 0 }
func (o itemOrder) Swap(i, j int)      { o[i], o[j] = o[j], o[i] }
