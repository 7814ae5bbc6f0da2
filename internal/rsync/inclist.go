package rsync

// The receiving side of incremental recursion (protocol 30+, the
// CF_INC_RECURSE compat flag): the sender's file list comes one directory
// at a time, each list announced by NDX_FLIST_OFFSET minus the index of the
// directory whose contents it holds, the end announced by NDX_FLIST_EOF
// (flist.c:send_extra_file_list, recv_file_list; rsync.c:read_ndx_and_attrs).
// What is checked here is what keeps a hostile sender from steering us: a
// list only for a directory it described before and only once, names only
// inside that directory, and a bound on what it can make us hold.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// incList is one file list of an incremental transfer.
type incList struct {
	// start is the file index of entries[0]: 1 for the first list, then
	// one past the previous list's last index plus one, the gap being the
	// index rsync gives the list's parent directory (flist.c:flist_new).
	start int32
	// parent is the index of the directory (in incLists.dirs) whose
	// contents this is; -1 for the first list, which holds the top names.
	parent int32
	dir    string // that directory's name ("" for the first list)
	// parentEntry is that directory's entry: what delete-during cleans and
	// whose attributes are set once the list is done. The first list's is
	// its "." when it has one (a source with a trailing slash), else nil.
	parentEntry *flist.Entry
	entries     []*flist.Entry // sorted in rsync order
	ioError     int32          // the sender's io_error bits so far, this list's end included
}

// incDir is what we keep of a directory of the transfer: rsync's dir_flist
// entry. The entry goes once its list arrived and its attributes are set.
type incDir struct {
	entry *flist.Entry
	got   bool // its list arrived (FLAG_GOT_DIR_FLIST)
}

// incLists reads the lists of an incremental transfer and numbers them as
// the sender does.
type incLists struct {
	dec       *flist.Decoder
	protocol  int
	dirs      []incDir
	nextStart int32
	lists     int // lists read
	// held counts the entries of lists read and not yet released; maxHeld
	// bounds it. A sender follows our acknowledgements (it sends about a
	// thousand files ahead, flist.c:send_extra_file_list), so only a
	// hostile one reaches the bound.
	held, maxHeld int
	peak          int // the most held at once: what the transfer's memory followed
	eof           bool
}

// maxIncDirs bounds the directories a transfer may describe: we keep one
// small record per directory for the whole transfer, as rsync keeps its
// dir_flist.
const maxIncDirs = flist.MaxEntries

func newIncLists(dec *flist.Decoder, protocol, maxHeld int) *incLists {
	return &incLists{dec: dec, protocol: protocol, nextStart: 1, maxHeld: maxHeld}
}

// readFirst reads the first list, which follows the filter rules without
// an index (flist.c:send_file_list).
func (l *incLists) readFirst() (*incList, error) { return l.read(-1) }

// readFor reads the list announced by the index ndx (≤ NDX_FLIST_OFFSET).
func (l *incLists) readFor(ndx int32) (*incList, error) {
	if l.lists == 0 {
		return nil, fmt.Errorf("%w: a directory's file list before the first list", wire.ErrMalformed)
	}
	if l.eof {
		return nil, fmt.Errorf("%w: a file list after the end of the file lists", wire.ErrMalformed)
	}
	return l.read(int32(wire.NdxFlistOffset) - ndx)
}

func (l *incLists) read(dirNdx int32) (*incList, error) {
	fl := &incList{start: l.nextStart, parent: dirNdx}
	if dirNdx >= 0 {
		if int(dirNdx) >= len(l.dirs) {
			return nil, fmt.Errorf("%w: the sender sent a file list for directory index %d, but described only %d directories", wire.ErrMalformed, dirNdx, len(l.dirs))
		}
		d := &l.dirs[dirNdx]
		if d.got {
			return nil, fmt.Errorf("%w: the sender sent a second file list for directory index %d", wire.ErrMalformed, dirNdx)
		}
		if d.entry == nil {
			return nil, fmt.Errorf("%w: the sender sent a file list for directory index %d, which is no directory of the transfer", wire.ErrMalformed, dirNdx)
		}
		d.got = true
		fl.dir, fl.parentEntry = d.entry.Name, d.entry
	}
	l.dec.NewList()
	for {
		e, err := l.dec.Next()
		if err != nil {
			return nil, fmt.Errorf("read file list %d: %w", l.lists, err)
		}
		if e == nil {
			break
		}
		// Every name lies directly in the list's directory
		// (flist.c:recv_file_list "ABORTING due to invalid path from
		// sender"): a list cannot add to another directory, so each name
		// arrives once and deletions stay where they belong.
		parent := ""
		if i := strings.LastIndexByte(e.Name, '/'); i >= 0 {
			parent = e.Name[:i]
		}
		if parent != fl.dir || (e.Name == "." && dirNdx >= 0) {
			return nil, fmt.Errorf("%w: %q in the file list of %q", errUnsafePath, e.Name, displayDir(fl.dir))
		}
		if l.held+len(fl.entries) >= l.maxHeld {
			return nil, fmt.Errorf("%w: the sender sent more than %d file-list entries ahead of the transfer", wire.ErrMalformed, l.maxHeld)
		}
		fl.entries = append(fl.entries, e)
	}
	l.lists++
	fl.ioError = l.dec.IOError
	sortSiblings(fl.entries, fl.dir, l.protocol)
	for i, e := range fl.entries {
		if i > 0 && fl.entries[i-1].Name == e.Name {
			return nil, fmt.Errorf("%w: %q twice in the file list of %q", wire.ErrMalformed, e.Name, displayDir(fl.dir))
		}
	}
	// The list's directories join the directory table in sorted order
	// (flist.c:recv_file_list sorts each new stretch of dir_flist).
	for _, e := range fl.entries {
		if !e.IsDir() {
			continue
		}
		if len(l.dirs) >= maxIncDirs {
			return nil, fmt.Errorf("%w: the sender described more than %d directories", wire.ErrMalformed, maxIncDirs)
		}
		l.dirs = append(l.dirs, incDir{entry: e})
	}
	if dirNdx >= 0 {
		// The entry was needed to check this list; the list carries it on.
		l.dirs[dirNdx].entry = nil
	} else if len(fl.entries) > 0 && fl.entries[0].Name == "." && fl.entries[0].IsDir() {
		// The first list holds the contents of its "." (flist.c:
		// recv_file_list keeps parent_ndx 0 then): no list comes for it.
		fl.parentEntry = fl.entries[0]
		l.dirs[0] = incDir{got: true}
	}
	// One index past the list is its parent's in the next list's
	// numbering (flist.c:flist_new: ndx_start = prev start + used + 1).
	next := int64(l.nextStart) + int64(len(fl.entries)) + 1
	if next > 1<<31-1-int64(-wire.NdxFlistOffset) {
		return nil, fmt.Errorf("%w: file indexes beyond 2^31", wire.ErrMalformed)
	}
	l.nextStart = int32(next)
	l.held += len(fl.entries)
	l.peak = max(l.peak, l.held)
	return fl, nil
}

// release forgets a list the sender is done with.
func (l *incLists) release(fl *incList) { l.held -= len(fl.entries) }

func displayDir(d string) string {
	if d == "" {
		return "."
	}
	return d
}

// incOffer is what a receiving role (Pull, List) appends to serverFlags'
// -e argument: the offer of incremental recursion, unless the options
// turn it off. With -H we keep one list: a later name of a hard-link set
// may point into an earlier directory's list, which this receiver does
// not keep.
func incOffer(opts Options) string {
	if opts.NoIncRecursive || opts.HardLinks {
		return ""
	}
	return capIncRecurse
}

// incCodec is the list encoding of an incremental transfer.
func incCodec(s *session, opts Options) flist.Codec {
	c := listCodec(s, opts)
	c.IncRecurse = true
	return c
}

// listIncremental reads every list of an incremental listing and ends
// phase 0 as a receiver that asks for nothing does: it acknowledges each
// list with NDX_DONE once the next one (or the end of the lists) has
// arrived, and reads the sender's NDX_DONE for each, the last of which
// ends the phase (generator.c:generate_files, check_for_finished_files;
// sender.c:send_files). The listing holds the whole tree, sorted as a
// single list is, so callers see no difference.
func (s *session) listIncremental(opts Options, each func(FileList)) ([]*flist.Entry, int, int32, error) {
	dec := flist.NewDecoder(incCodec(s, opts), s.r)
	// Nothing is released: the bound is on the whole listing, whether
	// kept here or by each's caller.
	inc := newIncLists(dec, s.protocol, flist.MaxEntries)
	first, err := inc.readFirst()
	if err != nil {
		return nil, 0, 0, err
	}
	if len(first.entries) == 0 {
		// The sender exits after an empty first list
		// (main.c:do_server_sender); finish collects its status.
		return nil, 0, dec.IOError, nil
	}
	var all []*flist.Entry
	listed := 0
	take := func(fl *incList) {
		listed += len(fl.entries)
		if each == nil {
			all = append(all, fl.entries...)
			return
		}
		each(FileList{Dir: fl.dir, Entries: fl.entries})
		fl.entries = nil
	}
	take(first)
	received, acked, echoed := 1, 0, 0
	for {
		for acked < received-1 || (inc.eof && acked < received) {
			s.writeNdx(wire.NdxDone)
			acked++
		}
		if err := s.w.Err(); err != nil {
			return nil, 0, 0, fmt.Errorf("acknowledge file lists: %w", err)
		}
		if inc.eof && echoed == received {
			break
		}
		ndx := s.readNdx()
		if err := s.r.Err(); err != nil {
			return nil, 0, 0, fmt.Errorf("read file lists: %w", err)
		}
		switch {
		case ndx == wire.NdxFlistEOF:
			if inc.eof {
				return nil, 0, 0, fmt.Errorf("%w: the end of the file lists, twice", wire.ErrMalformed)
			}
			inc.eof = true
		case ndx <= wire.NdxFlistOffset:
			fl, err := inc.readFor(ndx)
			if err != nil {
				return nil, 0, 0, err
			}
			take(fl)
			received++
		case ndx == wire.NdxDone:
			if echoed++; echoed > acked {
				return nil, 0, 0, fmt.Errorf("%w: the sender ended a file list we had not finished", wire.ErrMalformed)
			}
		case ndx == wire.NdxDelStats:
			if err := s.readDelStats(); err != nil {
				return nil, 0, 0, err
			}
		default:
			return nil, 0, 0, fmt.Errorf("%w: file index %d in a listing, which asks for no file", wire.ErrMalformed, ndx)
		}
	}
	s.uidNames, s.gidNames = dec.UIDNames, dec.GIDNames
	if each != nil {
		return nil, listed, dec.IOError, nil
	}
	flist.SortProto(all, s.protocol)
	return dedupe(all), listed, dec.IOError, nil
}

// sortSiblings sorts one incremental list, whose entries all lie directly
// in dir (checked as they were read), in the protocol's order, as rsync's
// receiver sorts each list it reads (flist.c:recv_file_list,
// flist_sort_and_clean). Siblings compare by their last component alone
// (flist.CompareSiblings), which is what the whole-path order comes to for
// them: a million-file listing spent most of its sorting walking the
// shared path.
func sortSiblings(entries []*flist.Entry, dir string, protocol int) {
	if protocol < 29 {
		flist.SortProto(entries, protocol)
		return
	}
	cut := 0
	if dir != "" {
		cut = len(dir) + 1
	}
	slices.SortStableFunc(entries, func(a, b *flist.Entry) int {
		return flist.CompareSiblings(a.Name[cut:], a.IsDir(), b.Name[cut:], b.IsDir())
	})
}
