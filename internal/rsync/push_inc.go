package rsync

// The sender with incremental recursion (protocol 30+, CF_INC_RECURSE):
// the file list goes out a directory at a time, read from disk only when
// it is sent, and each directory's list is dropped when the receiver's
// generator reports it done. What the sender holds is the lists in
// flight (about MIN_FILECNT_LOOKAHEAD entries, or one directory when that
// is larger) and the directories still to send (the siblings along the
// current path), not the tree.
//
// The shape, from rsync 3.x (flist.c:send_file_list, send_extra_file_list,
// send1extra, flist_new; sender.c:send_files; io.c:read_ndx), seen on the
// wire in testdata/captures/inc-push*:
//
//   - The first list is the top entry and, for "dir/", the top directory's
//     own entries; its first index is 1 (flist_new: ndx_start = 1).
//   - Every directory gets a number in the order the lists name them
//     (dir_flist: each list's directories in list order, "." included),
//     and its own list is announced by NDX_FLIST_OFFSET - number. Lists
//     follow the directory tree depth first (a directory's first child,
//     else its next sibling, else its parent's next sibling), one per
//     directory, empty ones included; NDX_FLIST_EOF follows the last.
//   - A list's first index is the previous list's first plus its length
//     plus one: the index before it names the list's directory, which the
//     generator itemizes when it starts on the list.
//   - No uid/gid lists: a name follows the entry that first uses its id.
//     A hard link whose first name went in an earlier list is sent whole.
//   - The generator sends NDX_DONE as it finishes each list; the sender
//     frees the list and answers NDX_DONE, except that the NDX_DONE that
//     finishes the last list also ends phase 0.
//   - The sender keeps MIN_FILECNT_LOOKAHEAD (1000) entries ahead of the
//     generator: before each read of a request it sends lists until that
//     many are in flight.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/delta"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// minFileLookahead and maxFileLookahead are rsync.h's
// MIN_FILECNT_LOOKAHEAD and MAX_FILECNT_LOOKAHEAD: the entries a sender
// keeps ahead of the generator, and how far it goes while it would
// otherwise wait for the generator.
const (
	minFileLookahead = 1000
	maxFileLookahead = 10000
)

// incPossible reports whether a push with opts may offer incremental
// recursion: protocol 30 or later may be spoken. Nothing else we pass the
// server turns it off there (compat.c:set_allow_inc_recurse refuses it
// for --delete-before/--delete-after/--delay-updates/--prune-empty-dirs,
// which we never send); a server that declines gets the one-list push.
func incPossible(opts Options) bool {
	return opts.MaxProtocol == 0 || opts.MaxProtocol >= 30
}

// pushInc is Push offering incremental recursion.
// role, when not nil, makes it one session of a parallel push
// (parallel.go).
func pushInc(ctx context.Context, t Transport, source string, rules *filter.List, destPath string, opts Options, role *partRole) (*Result, error) {
	var chmod *Chmod
	if opts.Chmod != "" {
		c, err := ParseChmod(opts.Chmod)
		if err != nil {
			return nil, err
		}
		chmod = &c
	}
	// The source's top is looked at before connecting, as a whole walk
	// would: a missing source fails without a server started.
	lister, top, err := newLister(source, rules, opts)
	if err != nil {
		return nil, err
	}
	args, err := pushArgs(destPath, opts)
	if err != nil {
		return nil, err
	}
	args[1] += capIncRecurse
	s, err := start(ctx, t, opts, args)
	if err != nil {
		return nil, err
	}
	s.onChange = opts.OnChange
	if !s.incRecurse() {
		if role != nil && role.part > 0 {
			// A part must not fall back to the whole tree in one list;
			// the same server took incremental recursion for session 0.
			return nil, s.fail(ctx, errors.New("the server declined incremental recursion, which it took for session 0"))
		}
		// The server declined (protocol 29 and older, or its options):
		// one list of the whole tree.
		walk, err := walkSource(source, rules, opts)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		res, err := s.send(walk, rules, opts)
		return s.endPush(ctx, res, err)
	}
	s.inc = &incSender{s: s, lister: lister, opts: opts, chmod: chmod, items: itemStrings{}, role: role}
	if role != nil {
		role.topEntry(top)
	}
	res, err := s.inc.run(top, rules)
	return s.endPush(ctx, res, err)
}

// sentList is one file list in flight.
type sentList struct {
	start   int32        // index of its first entry
	dir     *flist.Entry // the directory it lists (index start-1); nil for a first list without "."
	entries []sentEntry  // what is kept of them (push_inc_sent.go)
	sums    [][]byte     // their -c checksums, when they have any
	files   int          // regular files, for progress
	bytes   int64        // and their sizes
	sent    int64        // bytes of its files read for sending, for progress
	sentN   int
}

// sentDir is a directory whose list is still to be sent: a copy of its
// entry (its list's array is freed before it) and its number.
type sentDir struct {
	ent flist.Entry
	ndx int32
}

// incFrame is the directories found in one list, in list order, and how
// many of them have been sent.
type incFrame struct {
	dirs []sentDir
	pos  int
}

// incSender is the sender's state with incremental recursion.
type incSender struct {
	s      *session
	lister *flist.Lister
	opts   Options
	chmod  *Chmod
	enc    *flist.Encoder
	items  itemStrings
	res    *Result
	role   *partRole // a parallel push's session; nil for a whole push

	lists     []*sentList // in index order; the first is the oldest not done
	inFlight  int         // entries in lists
	stack     []incFrame  // directories to send, depth first
	nextDir   int32       // the next directory's number (dir_flist->used)
	nextStart int32       // the next list's first index
	eof       bool        // NDX_FLIST_EOF sent
	ioError   int32       // io_error bits sent so far

	prog *progress
}

// run is sender.c:send_files with incremental recursion, after
// flist.c:send_file_list.
func (x *incSender) run(top *flist.Entry, rules *filter.List) (*Result, error) {
	s := x.s
	x.prog = startProgress(x.opts, s.log, "push", nil)
	defer x.prog.finish()
	if err := x.begin(top, rules); err != nil {
		return nil, err
	}
	if s.compress != delta.CompressNone {
		ctw, err := delta.NewCompressedTokenWriter(s.w, s.compress, x.opts.CompressLevel)
		if err != nil {
			return nil, err
		}
		s.tokens = ctw
	} else {
		s.tokens = &plainTokens{delta.TokenWriter{W: s.w}}
	}
	if err := x.requests(); err != nil {
		return nil, err
	}
	return x.goodbye()
}

// begin sends what goes before the first request: the filter rules for a
// deleting receiver (exclude.c:send_filter_list) and the first list.
func (x *incSender) begin(top *flist.Entry, rules *filter.List) error {
	s := x.s
	x.res = &Result{Protocol: s.protocol, Checksum: s.algo.Name(), Compression: s.compress.Name(), IncRecursive: true}
	if x.opts.Delete {
		if err := writeFilterRules(s.w, rules, false); err != nil {
			return err
		}
	}
	codec := listCodec(s, x.opts)
	codec.IncRecurse = true
	x.enc = flist.NewEncoder(codec, s.w)
	return x.sendFirst(top)
}

// sendFirst sends the first list (flist.c:send_file_list): the top entry
// and, when the source's contents are sent ("dir/"), the top directory's
// entries.
func (x *incSender) sendFirst(top *flist.Entry) error {
	entries := []*flist.Entry{top}
	var dir *flist.Entry
	if top.IsDir() && top.Name == "." {
		children, err := x.readDir(top)
		if err != nil {
			return err
		}
		entries = append(entries, children...)
		// "." is directory number 0 and the first list's directory: the
		// generator itemizes it as index 0 (flist.c:send_file_list leaves
		// parent_ndx 0 when the list starts with ".").
		dir = top
	}
	if err := x.sendList(dir, entries, 1); err != nil {
		return err
	}
	switch {
	case x.done():
		return x.sendEOF()
	case len(entries) == 1:
		// One entry: one more list at once, so that the receiver can tell a
		// one-file transfer (flist.c:send_file_list).
		return x.sendExtra(1)
	}
	return nil
}

// sendList prepares and sends one list whose first index is start, and
// queues its directories.
func (x *incSender) sendList(dir *flist.Entry, entries []*flist.Entry, start int32) error {
	s := x.s
	l := &sentList{start: start, dir: dir}
	for _, e := range entries {
		if x.chmod != nil && !e.IsSymlink() && e.Mode != 0 {
			e.Mode = x.chmod.Apply(e.Mode, e.IsDir())
		}
		if e.IsRegular() {
			l.files++
			l.bytes += e.Size
			if x.opts.Checksum {
				sum, err := fileChecksum(x.lister.LocalPath(e), s.algo)
				if err != nil {
					s.log.Warn("source", "warning", err.Error())
					if errors.Is(err, fs.ErrNotExist) {
						x.lister.AddIOError(flist.IOErrVanished)
					} else {
						x.lister.AddIOError(flist.IOErrGeneral)
					}
				}
				e.Checksum = sum
			}
		}
	}
	warnings, skipped, ioError := x.lister.Problems()
	for _, w := range warnings {
		s.log.Warn("source", "warning", w)
	}
	for _, w := range skipped {
		s.log.Info("source", "skipped", w)
	}
	x.enc.StartList(start)
	for _, e := range entries {
		if err := x.enc.Encode(e); err != nil {
			return fmt.Errorf("send file list entry %s: %w", e.Name, err)
		}
	}
	// A list's end carries io_error when it changed while the list was
	// made (flist.c:send_extra_file_list, write_end_of_flist); we always
	// offer 'f', so the safe form is understood.
	var endErr int32
	if ioError != x.ioError {
		endErr = ioError
		x.ioError = ioError
		if s.protocol == 30 {
			// flist.c:send_extra_file_list tells a protocol-30 peer
			// this way too.
			var p [4]byte
			binary.LittleEndian.PutUint32(p[:], uint32(ioError))
			if err := s.out.WriteMsg(wire.MsgIOError, p[:]); err != nil {
				return err
			}
		}
	}
	if err := x.enc.End(endErr); err != nil {
		return fmt.Errorf("send end of file list: %w", err)
	}
	l.entries, l.sums = packEntries(entries)
	x.lists = append(x.lists, l)
	x.inFlight += len(entries)
	x.nextStart = start + int32(len(entries)) + 1
	x.res.Stats.FilesTotal += len(entries)
	x.prog.addTotal(l.files, l.bytes)

	var dirs []sentDir
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n := x.nextDir
		x.nextDir++
		if e.Name == "." {
			continue // numbered, but its entries are in the first list
		}
		d := sentDir{ent: *e, ndx: n}
		d.ent.Name = strings.Clone(e.Name) // not the list's shared name string
		dirs = append(dirs, d)
	}
	if len(dirs) > 0 {
		x.stack = append(x.stack, incFrame{dirs: dirs})
	}
	return s.w.Err()
}

// done reports whether no directory is left to send, popping the frames
// that are used up.
func (x *incSender) done() bool {
	for len(x.stack) > 0 {
		f := &x.stack[len(x.stack)-1]
		if f.pos < len(f.dirs) {
			return false
		}
		x.stack[len(x.stack)-1] = incFrame{}
		x.stack = x.stack[:len(x.stack)-1]
	}
	return true
}

func (x *incSender) sendEOF() error {
	x.s.writeNdx(wire.NdxFlistEOF)
	x.eof = true
	return x.s.w.Err()
}

// ahead is how many entries the lists after the oldest live one hold:
// what rsync's sender counts as file_total - file_old_total. The oldest
// list is left out, as rsync leaves out the first list (flist.c:
// send_file_list adds it to file_old_total) and, once that is freed, the
// one the generator is working in (sender.c:send_files): the generator
// reports a list done only once a later list or the end of lists has
// come (generator.c:check_for_finished_files stops at cur_flist ==
// first_flist), so a sender that counted it could wait on a generator
// that waits on it — a first list of more than the lookahead hung.
func (x *incSender) ahead() int {
	if len(x.lists) == 0 {
		return 0
	}
	return x.inFlight - len(x.lists[0].entries)
}

// sendExtra sends directory lists until atLeast entries are ahead (see
// ahead) or none is left (flist.c:send_extra_file_list).
func (x *incSender) sendExtra(atLeast int) error {
	for !x.eof && x.ahead() < atLeast {
		if x.done() {
			return x.sendEOF()
		}
		f := &x.stack[len(x.stack)-1]
		d := &f.dirs[f.pos]
		f.pos++
		dir := new(flist.Entry)
		*dir = d.ent
		x.s.writeNdx(wire.NdxFlistOffset - d.ndx)
		entries, err := x.readDir(dir)
		if err != nil {
			return err
		}
		if err := x.sendList(dir, entries, x.nextStart); err != nil {
			return err
		}
		if x.done() {
			return x.sendEOF()
		}
	}
	return nil
}

// readDir is the entries of dir's list: all of them, or what this
// session of a parallel push sends.
func (x *incSender) readDir(dir *flist.Entry) ([]*flist.Entry, error) {
	if x.role == nil {
		return x.lister.ReadDir(dir.Name)
	}
	return x.role.readDir(x.lister, dir)
}

// entry finds the entry of a requested index among the lists in flight;
// a list's index before its first names its directory.
func (x *incSender) entry(ndx int32) (*flist.Entry, error) {
	for _, l := range x.lists {
		switch {
		case ndx < l.start-1:
		case ndx == l.start-1 && l.dir != nil:
			return l.dir, nil
		case ndx >= l.start && int(ndx-l.start) < len(l.entries):
			return l.entry(int(ndx - l.start)), nil
		}
	}
	return nil, fmt.Errorf("%w: the receiver asked for file index %d, which is in no file list in flight", wire.ErrMalformed, ndx)
}

// requests answers the generator until its last phase ends
// (sender.c:send_files).
func (x *incSender) requests() error {
	s := x.s
	defer s.files.Close()
	phase := 0
	maxPhase := s.maxPhase()
	for {
		if err := x.sendExtra(minFileLookahead); err != nil {
			return err
		}
		// Nothing from the generator is waiting: rather than wait for it
		// with lists still unsent, send them, up to the larger lookahead
		// (io.c:perform_io sends extra lists while its poll finds no
		// input). Without this the generator idled between lists a round
		// trip at a time: a 1% edit over a 20 ms round trip took twice as
		// long as with one list.
		if s.in == nil || s.in.Buffered() == 0 {
			if err := x.sendExtra(x.role.lookahead()); err != nil {
				return err
			}
		}
		ndx := s.readNdx()
		if err := s.r.Err(); err != nil {
			return fmt.Errorf("read file request: %w", err)
		}
		switch {
		case ndx == wire.NdxDone:
			if len(x.lists) > 0 {
				x.free()
				if len(x.lists) > 0 {
					s.writeNdx(wire.NdxDone)
					continue
				}
			}
			phase++
			s.writeNdx(wire.NdxDone)
			if phase > maxPhase {
				return s.w.Err()
			}
			continue
		case ndx == wire.NdxDelStats:
			if err := s.readDelStats(); err != nil {
				return err
			}
			continue
		case ndx < 0:
			return fmt.Errorf("%w: the receiver sent file index %d", wire.ErrMalformed, ndx)
		}
		e, err := x.entry(ndx)
		if err != nil {
			return err
		}
		if err := s.answer(x.res, e, x.lister.LocalPath(e), ndx, phase, x.opts.DryRun); err != nil {
			return err
		}
	}
}

// free drops the oldest list, which the generator is done with
// (sender.c:send_files, flist_free).
func (x *incSender) free() {
	l := x.lists[0]
	x.prog.listDone(l.files-l.sentN, l.bytes-l.sent)
	x.lists[0] = nil
	x.lists = x.lists[1:]
	x.inFlight -= len(l.entries)
	if len(x.lists) == 0 {
		x.lists = nil // let the backing array go
	}
	if x.opts.incProbe != nil {
		x.opts.incProbe(x.inFlight)
	}
}

// noteChange records a first-phase request as the push's change.
func (x *incSender) noteChange(e *flist.Entry, iflags uint16) {
	c := itemizedChange(e, iflags, true, x.items)
	if c.Path == e.Name {
		// Not the list's shared name string, which would keep the whole
		// directory's names alive.
		c.Path = strings.Clone(c.Path)
	}
	x.s.addChange(x.res, c)
}

// addChange hands a change to Options.OnChange or keeps it in res.
func (s *session) addChange(res *Result, c Change) {
	if s.onChange != nil {
		s.onChange(c)
		return
	}
	res.Changes = append(res.Changes, c)
}

// reading counts the data of entry ndx as it is read, for progress.
func (x *incSender) reading(ndx int32, e *flist.Entry, r io.Reader) io.Reader {
	if x.prog == nil {
		return r
	}
	for _, l := range x.lists {
		if ndx >= l.start && int(ndx-l.start) < len(l.entries) {
			l.sentN++
			l.sent += e.Size
			break
		}
	}
	return x.prog.readingAny(r)
}

// goodbye ends the transfer (main.c:read_final_goodbye), as session.goodbye;
// the sent files' changes went out as they were reported.
func (x *incSender) goodbye() (*Result, error) {
	if err := x.s.readGoodbye(); err != nil {
		return nil, err
	}
	return x.s.closeResult(x.res)
}
