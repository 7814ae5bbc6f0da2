package tree

import (
	"sort"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// Builder makes a manifest from file-list entries handed over one at a
// time in any order (rsync.ListEach: a listing as it arrives), keeping
// only the items: a 300,000-entry listing no longer sits in memory as
// entries and as a manifest at once. Hard links are not resolved (a set's
// first name is only known in sorted order): with HardLinks use
// FromEntriesWith on the whole list.
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
	n      int
	last   Item
	sorted bool // items so far are in rsync order, without duplicates
}

const builderChunk = 4096

// NewBuilder starts a manifest of entries below prefix (see FromEntries).
func NewBuilder(prefix string, mode Mode, opts Options) *Builder {
	return &Builder{prefix: prefix, mode: mode, opts: opts, sorted: true}
}

// Add converts e; the builder keeps nothing of e but its strings and its
// checksum.
func (b *Builder) Add(e *flist.Entry) {
	it, ok := itemOf(e, b.prefix, b.mode, b.opts)
	if !ok {
		return
	}
	if b.n > 0 && b.sorted && compareItems(&b.last, &it) >= 0 {
		b.sorted = false
	}
	if k := len(b.chunks); k == 0 || len(b.chunks[k-1]) == builderChunk {
		b.chunks = append(b.chunks, make([]Item, 0, builderChunk))
	}
	k := len(b.chunks) - 1
	b.chunks[k] = append(b.chunks[k], it)
	b.last = it
	b.n++
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
	b.chunks, b.n, b.last = nil, 0, Item{}
	if !b.sorted {
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
		items = out
	}
	return &Manifest{Mode: b.mode, Algo: algo, Items: items}
}

// compareItems orders items as flist.Compare orders their entries (the
// root "." first; a directory's name compares as "name/").
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
// pointers (an item is 104 bytes).
type itemOrder []Item

func (o itemOrder) Len() int           { return len(o) }
func (o itemOrder) Less(i, j int) bool { return compareItems(&o[i], &o[j]) < 0 }
func (o itemOrder) Swap(i, j int)      { o[i], o[j] = o[j], o[i] }
