package rsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// Listing is a remote tree as the remote rsync describes it.
type Listing struct {
	Entries  []*flist.Entry // sorted in rsync order (none from ListEach)
	Listed   int            // how many entries the sender listed
	IOError  int32          // the sender's io_error bits (1: some files unreadable)
	Protocol int
	Checksum string // the algorithm of Entry.Checksum, when asked for
	// Messages is the server's error text when it could not read
	// everything (IOError set, exit code 23 or 24): which directories it
	// could not open, say. The entries are still the complete list of
	// what it could read.
	Messages string
	// IncRecursive: the server sent the list a directory at a time
	// (incremental recursion); the entries are the same either way.
	IncRecursive bool
}

// List asks the remote rsync for the file list of remotePath without
// moving file data (rsync --list-only run as a sender: main.c,
// flist.c:send_file_list). With opts.Checksum every regular file carries
// the server's whole-file checksum, computed on the server. Filters in
// opts leave paths out, as they would from a transfer.
func List(ctx context.Context, t Transport, remotePath string, opts Options) (*Listing, error) {
	return listWith(ctx, t, remotePath, opts, nil)
}

// ListEach is List handing every entry to each as it arrives instead of
// keeping them: the Listing it returns has no Entries, only Listed, and
// holds nothing per entry, so that a caller that keeps less than an entry
// per file (a manifest) does not hold both at once. Entries come in the
// order the sender sends them — under incremental recursion a directory
// at a time, not in rsync's sort order — and may repeat a name (the
// sender's duplicates, which List drops); each keeps nothing after it
// returns but what it copies. The bound on a hostile sender's list
// (flist.MaxEntries) holds as for List.
func ListEach(ctx context.Context, t Transport, remotePath string, opts Options, each func(*flist.Entry)) (*Listing, error) {
	return listWith(ctx, t, remotePath, opts, func(l FileList) {
		for i, e := range l.Entries {
			each(e)
			l.Entries[i] = nil
		}
	})
}

// FileList is one file list of a listing as ListLists hands it over.
// Under incremental recursion it is the contents of one directory, Dir
// (its name as the listing's entries spell it; "" for the first list,
// which holds the top of the tree), sorted, possibly empty: the lists come
// in the sender's order, which is its directories' depth-first pre-order
// (flist.c:send_extra_file_list follows DIR_FIRST_CHILD, then
// DIR_NEXT_SIBLING, then DIR_PARENT). Otherwise Whole is set and it is the
// whole listing, sorted and without duplicates, in one list.
type FileList struct {
	Dir     string
	Entries []*flist.Entry
	Whole   bool
}

// ListLists is ListEach handing the entries over a file list at a time,
// so that a caller can tell where each directory's contents end (an empty
// directory has a list of its own under incremental recursion) and put
// them in rsync's order as they come, holding only the directories on the
// path to the one being read (tree.ListStream). each may keep the
// entries; nothing here keeps them after it returns.
func ListLists(ctx context.Context, t Transport, remotePath string, opts Options, each func(FileList)) (*Listing, error) {
	return listWith(ctx, t, remotePath, opts, each)
}

func listWith(ctx context.Context, t Transport, remotePath string, opts Options, each func(FileList)) (*Listing, error) {
	rules, err := newRules(opts)
	if err != nil {
		return nil, err
	}
	listOpts := opts
	listOpts.Compress, listOpts.DryRun, listOpts.BwLimit = false, false, 0
	args := []string{"--server", "--sender", serverFlags(listOpts, false) + incOffer(listOpts)}
	args = append(args, serverLongOptions(listOpts, false)...)
	args = append(args, "--list-only", ".", remotePathArg(remotePath))
	s, err := start(ctx, t, listOpts, args)
	var ee *ExitError
	if errors.As(err, &ee) && ee.Code == 1 && strings.Contains(ee.Messages, "--list-only") {
		// openrsync has no --list-only. A sender does the same without it
		// when the receiver asks for nothing (the option only changes what
		// a client prints), so list as a pull that requests no file.
		s, err = start(ctx, t, listOpts, slices.DeleteFunc(args, func(a string) bool { return a == "--list-only" }))
	}
	if err != nil {
		return nil, err
	}
	l, err := s.list(rules, opts, each)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.finish(ctx); err != nil {
		// A sender that could not read some of the tree says so in the
		// list (io_error) and exits 23 (or 24: vanished); what it could
		// read came through whole. The caller decides what the gaps mean.
		// A list without even its root (the path is missing) is a failure.
		var ee *ExitError
		if errors.As(err, &ee) && (ee.Code == 23 || ee.Code == 24) && l.IOError != 0 && l.Listed > 0 {
			l.Messages = ee.Messages
			return l, nil
		}
		return nil, err
	}
	return l, nil
}

// list runs the receiving side of a listing: filters out, list in, then
// the phase handshake of a transfer with no requests.
func (s *session) list(rules *filter.List, opts Options, each func(FileList)) (*Listing, error) {
	checksum := opts.Checksum
	if err := writeFilterRules(s.w, rules, true); err != nil {
		return nil, err
	}
	var entries []*flist.Entry
	var listed int
	var ioErr int32
	var err error
	if s.incRecurse() {
		// The lists come a directory at a time and phase 0 ends as they
		// are acknowledged (listIncremental).
		entries, listed, ioErr, err = s.listIncremental(opts, each)
	} else {
		entries, ioErr, err = s.recvFileList(opts, checksum)
		listed = len(entries)
		if each != nil {
			// One list: it is whole before anything else is read.
			each(FileList{Entries: entries, Whole: true})
			entries = nil
		}
	}
	if err != nil {
		return nil, err
	}
	l := &Listing{Entries: entries, Listed: listed, IOError: ioErr, Protocol: s.protocol, Checksum: s.algo.Name(), IncRecursive: s.incRecurse()}
	if listed == 0 {
		// An empty list means the server sender exits right away
		// (main.c:do_server_sender); finish collects its status.
		return l, nil
	}
	// No requests: end every phase at once, then read the sender's
	// stats and take part in the goodbye (NOTES §0 "Checksummed listing").
	if !s.incRecurse() {
		s.writeNdx(wire.NdxDone)
		if err := s.expectDone("end of phase 0"); err != nil {
			return nil, err
		}
	}
	for range s.maxPhase() {
		s.writeNdx(wire.NdxDone)
	}
	if s.protocol >= 31 {
		s.writeNdx(wire.NdxDone)
	}
	if s.maxPhase() > 1 {
		if err := s.expectDone("end of phase 1"); err != nil {
			return nil, err
		}
	}
	if err := s.expectDone("end of transfer"); err != nil {
		return nil, err
	}
	if err := s.receiverGoodbye(); err != nil {
		return nil, err
	}
	return l, nil
}

// receiverGoodbye ends a transfer from a server sender: its stats, then at
// protocol ≥ 31 its NDX_DONE, then ours (main.c:client_run / do_recv).
func (s *session) receiverGoodbye() error {
	if _, err := s.readStats(); err != nil {
		return err
	}
	if s.protocol >= 31 {
		if err := s.expectDone("goodbye"); err != nil {
			return err
		}
	}
	s.writeNdx(wire.NdxDone)
	return s.w.Err()
}

// recvFileList reads the sender's file list and id lists
// (flist.c:recv_file_list, uidlist.c:recv_id_list), sorts it and drops
// duplicates (flist.c:flist_sort_and_clean). Every name was checked by the
// decoder.
func (s *session) recvFileList(opts Options, checksum bool) ([]*flist.Entry, int32, error) {
	codec := listCodec(s, opts)
	codec.ChecksumLen = 0
	if checksum {
		codec.ChecksumLen = s.algo.Len()
	}
	dec := flist.NewDecoder(codec, s.r)
	var entries []*flist.Entry
	for {
		e, err := dec.Next()
		if err != nil {
			return nil, 0, fmt.Errorf("read file list: %w", err)
		}
		if e == nil {
			break
		}
		entries = append(entries, e)
	}
	uids, err := flist.ReadIDListProto(s.r, s.protocol, s.id0Names(), len(entries)+1)
	if err != nil {
		return nil, 0, fmt.Errorf("read uid list: %w", err)
	}
	gids, err := flist.ReadIDListProto(s.r, s.protocol, s.id0Names(), len(entries)+1)
	if err != nil {
		return nil, 0, fmt.Errorf("read gid list: %w", err)
	}
	ioError := dec.IOError
	if s.protocol < 30 {
		// flist.c:recv_file_list "Recv the io_error flag"
		ioError |= s.r.Int32()
		if err := s.r.Err(); err != nil {
			return nil, 0, fmt.Errorf("read io_error: %w", err)
		}
	}
	s.uidNames, s.gidNames = uids, gids
	flist.SortProto(entries, s.protocol)
	entries = dedupe(entries)
	return entries, ioError, nil
}

// dedupe removes duplicate names from a sorted list, keeping a directory
// over a non-directory and otherwise the first (flist.c:flist_sort_and_clean).
func dedupe(entries []*flist.Entry) []*flist.Entry {
	out := entries[:0]
	for _, e := range entries {
		if n := len(out); n > 0 && out[n-1].Name == e.Name {
			if e.IsDir() && !out[n-1].IsDir() {
				out[n-1] = e
			}
			continue
		}
		out = append(out, e)
	}
	return out
}

func (s *session) expectDone(what string) error {
	for {
		ndx := s.readNdx()
		if err := s.r.Err(); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		switch ndx {
		case wire.NdxDone:
			return nil
		case wire.NdxDelStats:
			if err := s.readDelStats(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: expected the %s, got file index %d", wire.ErrMalformed, what, ndx)
		}
	}
}

// senderStats are the totals a server sender reports (main.c:write_stats
// / handle_stats order).
type senderStats struct {
	Read, Written, TotalSize, FlistBuildMs, FlistXferMs int64
}

func (s *session) readStats() (senderStats, error) {
	// main.c:report writes varlong30s: longints below protocol 30.
	st := senderStats{
		Read:      s.r.Varlong30(3, s.protocol),
		Written:   s.r.Varlong30(3, s.protocol),
		TotalSize: s.r.Varlong30(3, s.protocol),
	}
	if s.protocol >= 29 {
		st.FlistBuildMs = s.r.Varlong30(3, s.protocol)
		st.FlistXferMs = s.r.Varlong30(3, s.protocol)
	}
	if err := s.r.Err(); err != nil {
		return st, fmt.Errorf("read transfer stats: %w", err)
	}
	return st, nil
}
