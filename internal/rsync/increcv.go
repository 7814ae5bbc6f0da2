package rsync

// Pull with incremental recursion: the receiver goroutine reads the
// sender's lists as they come, between the files it sends, and queues them
// for the generator, which works through each list (delete-during in its
// directory first, then what differs), and acknowledges it with NDX_DONE
// once every file it asked for from it has arrived. The sender then
// forgets the list and so do we: memory follows the directories in
// flight, not the tree (generator.c:generate_files and
// check_for_finished_files, receiver.c:recv_files, rsync.c:read_ndx_and_attrs).

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// incPull is the state the generator and the receiver share.
type incPull struct {
	lists *incLists // the receiver goroutine's only

	mu    sync.Mutex
	queue []*incPullList // read, not yet taken by the generator
	live  []*incPullList // read, not yet released by the sender: index lookups
	redo  []int32        // files that failed verification once, to ask for again
	eof   bool           // NDX_FLIST_EOF came
	ended bool           // the sender ended phase 0
	wake  chan struct{}  // capacity 1: something changed for the generator
	total int            // entries received, for Stats.FilesTotal
	// uidNames and gidNames are the inline id names received so far,
	// copied when a list adds some: both goroutines map ids with them.
	uidNames, gidNames []flist.IDName
}

// incPullList is a list and what the transfer knows of its files.
type incPullList struct {
	*incList
	requested []atomic.Bool // by entry: we asked for it
	pending   atomic.Int32  // requests not yet answered (in_progress + to_redo)
	redone    map[int32]bool
}

// maxHeldEntries bounds the entries of lists read and not yet done with:
// a sender that follows our acknowledgements stays about a thousand files
// ahead plus one directory; no more than a whole single list may hold.
const maxHeldEntries = flist.MaxEntries

func (p *incPull) notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// find returns the live list holding file index ndx and the entry's
// position in it.
func (p *incPull) find(ndx int32) (*incPullList, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := sort.Search(len(p.live), func(i int) bool { return p.live[i].start > ndx }) - 1
	if i < 0 {
		return nil, 0
	}
	fl := p.live[i]
	if j := int(ndx - fl.start); j >= 0 && j < len(fl.entries) {
		return fl, j
	}
	return nil, 0
}

// requested marks a request for ndx; a first request is one more to wait
// for before the list is done.
func (p *incPull) requested(ndx int32, redo bool) error {
	fl, i := p.find(ndx)
	if fl == nil {
		return fmt.Errorf("request for file index %d, which is in no current list", ndx)
	}
	fl.requested[i].Store(true)
	if !redo {
		fl.pending.Add(1)
	}
	return nil
}

// receiveIncremental is receive for a sender that sends its lists a
// directory at a time.
func (s *session) receiveIncremental(ctx context.Context, localDest string, rules *filter.List, opts Options) (*Result, error) {
	dec := flist.NewDecoder(incCodec(s, opts), s.r)
	lists := newIncLists(dec, s.protocol, maxHeldEntries)
	first, err := lists.readFirst()
	if err != nil {
		return nil, err
	}
	res := &Result{Protocol: s.protocol, Checksum: s.algo.Name(), Compression: s.compress.Name(), IncRecursive: true}
	if len(first.entries) == 0 {
		// The sender exits after an empty first list (main.c:do_server_sender).
		return res, nil
	}
	p := &incPull{lists: lists, wake: make(chan struct{}, 1)}
	fl, err := p.admit(first, opts)
	if err != nil {
		return nil, err
	}
	p.queue, p.live = []*incPullList{fl}, []*incPullList{fl}
	// The first list decides whether a single file lands at a named path:
	// one that is not a directory has no lists after it.
	r := &receiver{s: s, opts: opts, rules: rules, entries: first.entries, redo: make(chan []int32, 1), inc: p}
	if err := r.prepare(localDest); err != nil {
		return nil, err
	}
	r.entries = nil
	s.prog = startProgress(opts, s.log, receiverVerb(s), nil)
	s.prog.grow(first.entries)
	defer s.prog.finish()
	if err := r.run(ctx, r.generateIncremental, r.receiveIncremental); err != nil {
		return nil, err
	}
	s.uidNames, s.gidNames = dec.UIDNames, dec.GIDNames
	s.log.Debug("incremental file lists done", "lists", lists.lists, "entries", p.total, "peak_entries_held", lists.peak)
	p.mu.Lock()
	res.Stats.FilesTotal = p.total
	p.mu.Unlock()
	return r.result(res)
}

// admit prepares a list read by the receiver goroutine for the generator:
// --chmod applied and the names checked before anything of it is written.
func (p *incPull) admit(l *incList, opts Options) (*incPullList, error) {
	if err := applyChmod(l.entries, opts.Chmod); err != nil {
		return nil, err
	}
	if err := checkLocalNames(l.entries); err != nil {
		return nil, err
	}
	p.total += len(l.entries)
	if dec := p.lists.dec; len(dec.UIDNames) != len(p.uidNames) || len(dec.GIDNames) != len(p.gidNames) {
		p.uidNames, p.gidNames = slices.Clone(dec.UIDNames), slices.Clone(dec.GIDNames)
	}
	return &incPullList{incList: l, requested: make([]atomic.Bool, len(l.entries))}, nil
}

// idNames returns the id names received so far.
func (p *incPull) idNames() (uids, gids []flist.IDName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.uidNames, p.gidNames
}

// generateIncremental is generate for incremental lists.
func (r *receiver) generateIncremental(ctx context.Context) error {
	s, p := r.s, r.inc
	var open []*incPullList // worked through, not yet acknowledged, in order
	for {
		p.mu.Lock()
		queue, redo, eof, ended := p.queue, p.redo, p.eof, p.ended
		p.queue, p.redo = nil, nil
		p.mu.Unlock()
		for _, ndx := range redo {
			fl, i := p.find(ndx)
			if fl == nil {
				return fmt.Errorf("redo of file index %d, which is in no current list", ndx)
			}
			if err := r.request(ndx, fl.entries[i], itemTransfer, true); err != nil {
				return err
			}
		}
		for _, fl := range queue {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := r.generateList(fl); err != nil {
				return err
			}
			open = append(open, fl)
		}
		// A list is done when all it asked for has come; the newest waits
		// for the next list or the end of them, since the sender would take
		// its NDX_DONE for the end of the phase (check_for_finished_files).
		for len(open) > 0 && (len(open) > 1 || eof) && open[0].pending.Load() == 0 {
			s.writeNdx(wire.NdxDone)
			if err := r.listDone(open[0]); err != nil {
				return err
			}
			open = open[1:]
		}
		if err := s.out.Flush(); err != nil {
			return err
		}
		if eof && len(open) == 0 {
			break
		}
		if ended {
			return fmt.Errorf("%w: the sender ended the transfer's first phase with file lists unfinished", wire.ErrMalformed)
		}
		select {
		case <-p.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Every list is done, redone files included: the redo phase is empty.
	select {
	case <-r.redo:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.endPhases()
}

// generateList works through one list: its directory's extraneous files
// first (delete-during, generator.c:delete_in_dir), then every entry.
func (r *receiver) generateList(fl *incPullList) error {
	dot := fl.parent < 0 && fl.parentEntry != nil
	if !dot {
		if err := r.deleteInList(fl); err != nil {
			return err
		}
	}
	for i, e := range fl.entries {
		if err := r.generateOne(fl.start+int32(i), e, nil); err != nil {
			return err
		}
		if !fl.requested[i].Load() {
			r.s.prog.fileDone(e) // up to date: done as it is
		}
		if i == 0 && dot {
			// The first list's "." exists now; it is the directory the
			// list fills.
			if err := r.deleteInList(fl); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteInList deletes what the list's directory holds and the list does
// not name, sparing what the rules protect; not after the sender reported
// a read error (generator.c:delete_in_dir "IO error encountered").
func (r *receiver) deleteInList(fl *incPullList) error {
	if !r.opts.Delete || fl.parentEntry == nil || r.single != "" {
		return nil
	}
	if fl.ioError != 0 {
		r.warnOnce("the remote sender could not read some files; deletions are skipped")
		return nil
	}
	path, err := r.localPath(fl.parentEntry)
	if err != nil {
		return err
	}
	// The directory's own entry replaced whatever stood there, in its
	// parent's list; a symlink here now would have us read and delete
	// what it points to.
	if fi, err := os.Lstat(path); err == nil && !fi.IsDir() {
		if r.opts.DryRun {
			return nil // a dry run leaves it, as it leaves the replacement out
		}
		return fmt.Errorf("%w: %s is no longer a directory; refusing to delete in it", errUnsafePath, path)
	}
	keep := make(map[string]bool, len(fl.entries))
	for _, e := range fl.entries {
		keep[e.Name[strings.LastIndexByte(e.Name, '/')+1:]] = true
	}
	return r.deleteExtraneous(fl.parentEntry, path, keep)
}

func (r *receiver) warnOnce(msg string) {
	r.mu.Lock()
	seen := slices.Contains(r.warnings, msg)
	r.mu.Unlock()
	if !seen {
		r.warn(msg)
	}
}

// listDone sets the attributes of the list's directory, whose contents are
// now complete (generator.c:touch_up_dirs for the list's parent).
func (r *receiver) listDone(fl *incPullList) error {
	if r.opts.DryRun || r.single != "" || fl.parentEntry == nil {
		return nil
	}
	path, err := r.localPath(fl.parentEntry)
	if err != nil {
		return err
	}
	return setAttrs(path, fl.parentEntry, r.uid(fl.parentEntry), r.gid(fl.parentEntry), r.chown)
}

// receiveIncremental is receiveFiles for incremental lists: besides files
// the sender sends the next lists, the end of them, and an NDX_DONE for
// each list we finished, the last of which ends phase 0
// (receiver.c:recv_files).
func (r *receiver) receiveIncremental() error {
	s, p := r.s, r.inc
	phase := 0
	for {
		ndx := s.readNdx()
		if err := s.r.Err(); err != nil {
			return fmt.Errorf("read file index: %w", err)
		}
		r.answerNoSend()
		switch {
		case ndx == wire.NdxDone:
			p.mu.Lock()
			if len(p.live) > 0 {
				p.lists.release(p.live[0].incList)
				p.live[0] = nil
				p.live = p.live[1:]
				if len(p.live) > 0 {
					p.mu.Unlock()
					continue
				}
			}
			if phase == 0 {
				p.ended = true
			}
			p.mu.Unlock()
			p.notify()
			phase++
			if phase == 1 {
				r.redo <- nil
			}
			if phase > s.maxPhase() {
				return nil
			}
			continue
		case ndx == wire.NdxFlistEOF:
			p.mu.Lock()
			dup := p.eof
			p.eof = true
			p.mu.Unlock()
			if dup {
				return fmt.Errorf("%w: the end of the file lists, twice", wire.ErrMalformed)
			}
			p.lists.eof = true
			p.notify()
			continue
		case ndx <= wire.NdxFlistOffset:
			if phase > 0 {
				return fmt.Errorf("%w: a file list after the first phase", wire.ErrMalformed)
			}
			l, err := p.lists.readFor(ndx)
			if err != nil {
				return err
			}
			s.prog.grow(l.entries)
			p.mu.Lock()
			fl, err := p.admit(l, r.opts)
			if err == nil {
				p.queue = append(p.queue, fl)
				p.live = append(p.live, fl)
			}
			p.mu.Unlock()
			if err != nil {
				return err
			}
			p.notify()
			continue
		case ndx == wire.NdxDelStats:
			if err := s.readDelStats(); err != nil {
				return err
			}
			continue
		case ndx < 0:
			return fmt.Errorf("%w: the sender sent file index %d", wire.ErrMalformed, ndx)
		}
		if err := r.receiveOne(ndx, phase); err != nil {
			return err
		}
	}
}

// receiveOne handles the sender's answer for file index ndx.
func (r *receiver) receiveOne(ndx int32, phase int) error {
	s, p := r.s, r.inc
	fl, i := p.find(ndx)
	if fl == nil {
		return fmt.Errorf("%w: the sender sent file index %d, which is in no current list", wire.ErrMalformed, ndx)
	}
	iflags := s.r.Shortint()
	if iflags&itemBasisTypeFollows != 0 {
		s.r.Byte()
	}
	if iflags&itemXnameFollows != 0 {
		s.r.Vstring(flist.MaxPathLen)
	}
	if err := s.r.Err(); err != nil {
		return fmt.Errorf("read attributes of file %d: %w", ndx, err)
	}
	e := fl.entries[i]
	if !fl.requested[i].Load() {
		if iflags&itemTransfer != 0 {
			return fmt.Errorf("%w: the sender sent data for %q, which we did not ask for", wire.ErrMalformed, e.Name)
		}
		return nil // an itemization echo we did not ask for: nothing to do
	}
	if iflags&itemTransfer == 0 || r.opts.DryRun {
		r.answered(fl)
		return nil
	}
	if !e.IsRegular() {
		return fmt.Errorf("%w: the sender sent data for %q, which is not a file", wire.ErrMalformed, e.Name)
	}
	ok, err := r.receiveFile(e)
	if err != nil {
		return err
	}
	p.mu.Lock()
	first := !fl.redone[ndx]
	again := !ok && first && phase == 0
	if again {
		if fl.redone == nil {
			fl.redone = map[int32]bool{}
		}
		fl.redone[ndx] = true
		p.redo = append(p.redo, ndx)
	}
	p.mu.Unlock()
	if first {
		r.mu.Lock()
		r.stats.FilesTransferred++
		r.mu.Unlock()
		s.prog.fileDone(e)
	}
	if again {
		// Asked for again with full-length sums; the list stays open until
		// that answer is in (generator.c: to_redo).
		s.log.Warn("file failed verification, asking again", "path", e.Name)
		p.notify()
		return nil
	}
	if !ok {
		r.fail(fmt.Sprintf("%s failed verification -- update discarded", e.Name))
	}
	r.answered(fl)
	return nil
}

// answered counts one request of fl as done.
func (r *receiver) answered(fl *incPullList) {
	if fl.pending.Add(-1) < 0 {
		fl.pending.Store(0)
	}
	r.inc.notify()
}

// answerNoSend takes the files the sender could not open (MSG_NO_SEND,
// sender.c:send_files) as answered: no data comes for them.
func (r *receiver) answerNoSend() {
	s := r.s
	s.mu.Lock()
	ndxs := s.noSend
	s.noSend = nil
	s.mu.Unlock()
	for _, ndx := range ndxs {
		if fl, i := r.inc.find(ndx); fl != nil && fl.requested[i].Load() {
			r.answered(fl)
		}
	}
}
