package tree

import (
	"errors"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// ErrListOrder ends a ListStream whose lists did not come in the order
// the stock rsync sends them (or named an entry twice): the items handed
// over so far are not the start of the manifest, and the caller reads the
// listing into a manifest instead (Builder), which sorts whatever comes.
var ErrListOrder = errors.New("the listing's file lists are not in the sender's directory order")

// ListStream hands over a listing's items in rsync's order (a manifest's)
// as its file lists arrive (rsync.ListLists), holding only what cannot be
// handed over yet: the rest of each directory on the path to the one
// whose list comes next. A Builder holds the whole listing instead
// (issue 15: a 300,000-file refresh held its manifest until the plan).
//
// Under incremental recursion the sender sends the top of the tree, then
// one list per directory, each sorted, in its directories' depth-first
// pre-order (flist.c:send_extra_file_list) — the order of the directories
// in the manifest. So when a directory's entry is reached in the output,
// the next list is its contents: they are handed over next, up to and
// including its first subdirectory, whose list comes next, and so on. A
// directory whose list does not come when expected is taken to be empty
// (rsync sends empty lists for empty directories, but nothing here relies
// on it). Every item is checked to sort after the one before it, so a
// sender that breaks this order ends the stream with ErrListOrder rather
// than make a manifest out of order.
type ListStream struct {
	prefix string
	mode   Mode
	opts   Options
	names  nameArena
	yield  func(*Item)
	// frames: for each directory on the path, what is left of its list.
	frames []listFrame
	// waiting: the output stopped at directory awaited, whose list comes
	// next.
	waiting  bool
	awaited  string
	started  bool
	last     Item
	n        int
	err      error
	maxFrame int
}

type listFrame struct {
	items []Item
	next  int
}

// NewListStream starts the items of a listing below prefix (see
// FromEntries), handing each to yield, which must not keep the pointer.
func NewListStream(prefix string, mode Mode, opts Options, yield func(*Item)) *ListStream {
	return &ListStream{prefix: prefix, mode: mode, opts: opts, yield: yield}
}

// AddList takes the next file list: dir and entries as rsync.FileList
// has them (whole: the listing in one sorted list). It keeps nothing of
// the entries but their items, and clears the slice as it goes.
func (s *ListStream) AddList(dir string, entries []*flist.Entry, whole bool) {
	if s.err != nil {
		return
	}
	items := make([]Item, 0, len(entries))
	for i, e := range entries {
		if it, ok := itemOf(e, s.prefix, s.mode, s.opts, &s.names); ok {
			items = append(items, it)
		}
		entries[i] = nil // a whole listing's entries go as they are converted
	}

	switch {
	case whole:
		// A single list is sorted in the protocol's order, which before
		// protocol 29 is not the manifest's: sort it then (it is all
		// here anyway).
		if !strictlyOrdered(items) {
			items = sortItems(items)
		}
		if s.twins(items) {
			return
		}
		for i := range items {
			s.emitItem(&items[i])
		}
		return
	case s.twins(items):
		return
	case !s.started:
		// The first list holds the root "." (the source directory's own
		// entry, or the top entry that is the root below prefix) and,
		// with a trailing slash, the root's contents: no list of its own
		// comes for it then (flist.c:recv_file_list).
		s.started = true
		rest := items[:0:0]
		root := false
		for i := range items {
			if items[i].Name == "." && !root {
				root = true
				s.emitItem(&items[i])
				continue
			}
			rest = append(rest, items[i])
		}
		if root && len(rest) == 0 {
			s.waiting, s.awaited = true, "."
			return
		}
		s.push(rest)
		s.emit()
		return
	}
	name, ok := relName(dir, s.prefix)
	if !ok {
		s.err = ErrListOrder
		return
	}
	for !s.waiting || s.awaited != name {
		if !s.waiting && len(s.frames) == 0 {
			s.err = ErrListOrder // not a directory still to come
			return
		}
		s.waiting = false // the awaited directory had no list: empty
		s.emit()
		if s.err != nil {
			return
		}
	}
	s.waiting = false
	s.push(items)
	s.emit()
}

// twins ends the stream when ordered items hold a file and a directory
// of one name (only a hostile sender's): they sort apart, so the order
// check does not see them, and a manifest pairs such names by map
// (tree.Pair), which a stream cannot.
func (s *ListStream) twins(items []Item) bool {
	if hasTwins(items) {
		s.err = ErrListOrder
		return true
	}
	return false
}

// Close hands over what is left (directories whose lists never came are
// empty) and reports whether the lists were in order.
func (s *ListStream) Close() error {
	for s.err == nil && (s.waiting || len(s.frames) > 0) {
		s.waiting = false
		s.emit()
	}
	s.frames = nil
	return s.err
}

// Held is the most items held at once, for tests of the bound.
func (s *ListStream) Held() int { return s.maxFrame }

func (s *ListStream) push(items []Item) {
	if len(items) == 0 {
		return
	}
	s.frames = append(s.frames, listFrame{items: items})
	held := 0
	for _, f := range s.frames {
		held += len(f.items) - f.next
	}
	s.maxFrame = max(s.maxFrame, held)
}

// emit hands items over until a directory's contents are needed that
// have not come yet, or until nothing is left.
func (s *ListStream) emit() {
	for len(s.frames) > 0 && s.err == nil {
		f := &s.frames[len(s.frames)-1]
		if f.next == len(f.items) {
			s.frames[len(s.frames)-1] = listFrame{}
			s.frames = s.frames[:len(s.frames)-1]
			continue
		}
		it := &f.items[f.next]
		f.next++
		s.emitItem(it)
		if it.Kind == Dir {
			s.waiting, s.awaited = true, it.Name
			return
		}
	}
}

func (s *ListStream) emitItem(it *Item) {
	if s.err != nil {
		return
	}
	if s.n > 0 && compareItems(&s.last, it) >= 0 {
		s.err = ErrListOrder
		return
	}
	s.yield(it)
	s.last = Item{Name: it.Name, Kind: it.Kind}
	s.n++
}
