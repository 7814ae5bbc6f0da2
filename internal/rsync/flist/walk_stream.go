package flist

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Stream is a walk of the local source src as WalkWith makes it, that
// hands each entry to a function in list order (rsync's sort order, the
// order of WalkWith's Entries) instead of keeping the list: what it holds
// is the directories being handed over and a bounded number read ahead of
// them, not the tree (issue 15: a plan of a million-file source held the
// walked list, 120 bytes a file, beside the manifest made of it). NewStream
// stats the source, so its Root is known before the first entry; Run
// walks.
type Stream struct {
	top  topEntry
	src  string
	skip Skipper
	opts WalkOptions
}

// NewStream stats the source src (the top entry of WalkWith).
func NewStream(src string, skip Skipper, opts WalkOptions) (*Stream, error) {
	top, err := walkTop(src)
	if err != nil {
		return nil, err
	}
	return &Stream{top: top, src: src, skip: skip, opts: opts}, nil
}

// Root is what an entry's name is appended to for its local path
// (WalkResult.Root).
func (st *Stream) Root() string { return st.top.Root }

// Run hands each entry to fn, with id what its lstat said of its
// identity. fn may keep e: a directory's entries share one array, alive
// while any of them is referenced. With HardLinks the names of one inode
// carry one HlinkGroup label, as the Lister gives them (the first name in
// the list is the first one labelled). An error from fn, or ctx ending,
// stops the walk and is returned. The result holds what WalkWith's does
// but the entries.
func (st *Stream) Run(ctx context.Context, fn func(e *Entry, id FileID) error) (*WalkResult, error) {
	res := &WalkResult{Root: st.top.Root}
	top := st.top.Entry
	if err := fn(&top, st.top.ID); err != nil {
		return nil, err
	}
	if !top.IsDir() {
		return res, nil
	}
	prefix := ""
	if top.Name != "." {
		prefix = top.Name + "/"
	}
	s := newStreamer(&walker{skip: st.skip, opts: st.opts, ids: true, res: res}, runtime.GOMAXPROCS(0))
	defer s.stop()
	// Queued but in no queue: the emitter reads it.
	root := &streamDir{local: strings.TrimSuffix(filepath.Clean(st.src), "/"), prefix: prefix, state: dirQueued}
	if err := s.emit(ctx, root, fn); err != nil {
		return nil, err
	}
	return res, nil
}

// streamer reads directories ahead of the emitter on a few goroutines —
// on a page-cached tree a walk is one lstat(2) per entry, and syscalls
// are what it waits on — in nearly the order the emitter will want them:
// the subdirectories of the directory being emitted go to the front of
// the queue, so the next ones read are those that come next depth first.
// A directory read ahead holds a token until the emitter takes it, which
// bounds what is read but not yet handed over. The emitter reads a
// directory itself when no reader has started it, so it never waits for
// a token and the walk cannot stall.
type streamer struct {
	w      *walker
	tokens chan struct{} // one per directory read ahead and not yet taken
	quit   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	more    *sync.Cond // the queue grew, or the walk stopped
	queue   []*streamDir
	stopped bool

	// inodes labels the hard-linked files (-H), as Lister.inodes does.
	inodes inodeLabels
}

// streamDir is a directory to read: queued, being read ahead, or taken
// by the emitter.
type streamDir struct {
	local, prefix string
	state         int // dirQueued, dirReading, dirTaken; under streamer.mu
	done          chan struct{}
	ents          []Entry
	ids           []FileID
}

const (
	dirQueued = iota
	dirReading
	dirTaken
)

// streamAhead is how many directories per reader may wait read ahead.
const streamAhead = 4

func newStreamer(w *walker, readers int) *streamer {
	s := &streamer{w: w, tokens: make(chan struct{}, streamAhead*readers), quit: make(chan struct{})}
	s.more = sync.NewCond(&s.mu)
	for range readers {
		s.wg.Add(1)
		go s.reader()
	}
	return s
}

// reader reads queued directories ahead while it may hold a token.
func (s *streamer) reader() {
	defer s.wg.Done()
	for {
		select {
		case s.tokens <- struct{}{}:
		case <-s.quit:
			return
		}
		s.mu.Lock()
		var d *streamDir
		for d == nil && !s.stopped {
			for n := len(s.queue); n > 0 && d == nil; n = len(s.queue) {
				top := s.queue[n-1]
				s.queue[n-1] = nil
				s.queue = s.queue[:n-1]
				if top.state == dirQueued {
					d = top
				}
			}
			if d == nil && !s.stopped {
				s.more.Wait()
			}
		}
		if d == nil {
			s.mu.Unlock()
			<-s.tokens
			return
		}
		d.state = dirReading
		s.mu.Unlock()
		d.ents, d.ids = s.w.read(d.local, d.prefix)
		close(d.done)
	}
}

// stop ends the readers; a read under way is finished first.
func (s *streamer) stop() {
	s.mu.Lock()
	s.stopped = true
	s.more.Broadcast()
	s.mu.Unlock()
	close(s.quit)
	s.wg.Wait()
}

// take returns d's entries: read ahead (its token given back), or read
// now when no reader has started it.
func (s *streamer) take(d *streamDir) ([]Entry, []FileID) {
	s.mu.Lock()
	if d.state == dirQueued {
		d.state = dirTaken
		s.mu.Unlock()
		return s.w.read(d.local, d.prefix)
	}
	s.mu.Unlock()
	<-d.done // being read ahead, or read
	<-s.tokens
	ents, ids := d.ents, d.ids
	d.ents, d.ids = nil, nil
	return ents, ids
}

// queueFront puts subs (nil where an entry is no directory) at the front
// of the queue, the first of them first.
func (s *streamer) queueFront(subs []*streamDir) {
	s.mu.Lock()
	for i := len(subs) - 1; i >= 0; i-- {
		if subs[i] != nil {
			s.queue = append(s.queue, subs[i])
		}
	}
	s.more.Broadcast()
	s.mu.Unlock()
}

// emit hands d's entries to fn, each subdirectory's contents right after
// it (flist.c:f_name_cmp's order, as walkNode.appendTo).
func (s *streamer) emit(ctx context.Context, d *streamDir, fn func(*Entry, FileID) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ents, ids := s.take(d)
	s.w.mu.Lock()
	err := s.w.err
	if len(s.w.links) > 0 {
		s.label(ents)
	}
	s.w.mu.Unlock()
	if err != nil {
		return err
	}
	var subs []*streamDir
	for i := range ents {
		if !ents[i].IsDir() {
			continue
		}
		if subs == nil {
			subs = make([]*streamDir, len(ents))
		}
		subs[i] = &streamDir{local: d.local + "/" + ents[i].Name[len(d.prefix):], prefix: ents[i].Name + "/", done: make(chan struct{})}
	}
	if subs != nil {
		s.queueFront(subs)
	}
	for i := range ents {
		if err := fn(&ents[i], ids[i]); err != nil {
			return err
		}
		if subs != nil && subs[i] != nil {
			if err := s.emit(ctx, subs[i], fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// label gives the hard-linked entries of ents their inode's label and
// forgets them in walker.links (the readers' record); under w.mu.
func (s *streamer) label(ents []Entry) {
	for i := range ents {
		id, ok := s.w.links[&ents[i]]
		if !ok {
			continue
		}
		delete(s.w.links, &ents[i])
		ents[i].HlinkGroup = s.inodes.of(id)
	}
}
