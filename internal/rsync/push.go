package rsync

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/delta"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// Item flags (rsync.h ITEM_*) sent by the generator with each file index.
const (
	itemReportAtime      = 1 << 0
	itemReportChange     = 1 << 1
	itemReportSize       = 1 << 2
	itemReportTime       = 1 << 3
	itemReportPerms      = 1 << 4
	itemReportOwner      = 1 << 5
	itemReportGroup      = 1 << 6
	itemReportACL        = 1 << 7
	itemReportXattr      = 1 << 8
	itemReportCrtime     = 1 << 10
	itemBasisTypeFollows = 1 << 11
	itemXnameFollows     = 1 << 12
	itemIsNew            = 1 << 13
	itemLocalChange      = 1 << 14
	itemTransfer         = 1 << 15
)

// maxSigBlocks bounds the block signature a receiver may ask us to hold
// (count × (4 + s2length) bytes): 8 Mi blocks cover a 1 TiB basis at the
// largest block size.
const maxSigBlocks = 1 << 23

// Push sends the local tree named by source to destPath on the remote side
// (rsync -a source host:destPath). source follows rsync's trailing-slash
// rule: "dir/" sends the contents of dir, "dir" sends dir itself (it lands
// as destPath/dir), and a regular file is sent as that file.
func Push(ctx context.Context, t Transport, source, destPath string, opts Options) (*Result, error) {
	opts = withBackupExcluded(opts, destPath)
	rules, err := newRules(opts)
	if err != nil {
		return nil, err
	}
	if opts.EstimateOnly {
		// An estimate lists only the files asked about: one small list.
		return estimate(ctx, t, source, rules, destPath, opts)
	}
	if parallelPossible(opts) {
		pl, err := planParts(source, rules, opts, opts.Parallel)
		if err != nil {
			return nil, err
		}
		if pl != nil {
			return pushParallel(ctx, t, source, rules, destPath, opts, pl)
		}
	}
	if incPossible(opts) {
		return pushInc(ctx, t, source, rules, destPath, opts, nil)
	}
	walk, err := walkSource(source, rules, opts)
	if err != nil {
		return nil, err
	}
	return push(ctx, t, walk, rules, destPath, opts)
}

// walkSource reads the whole source tree into one list, for the protocol
// without incremental recursion.
func walkSource(source string, rules *filter.List, opts Options) (*flist.WalkResult, error) {
	walk, err := flist.WalkWith(source, rules.Excluded, walkOptions(opts))
	if err != nil {
		return nil, err
	}
	if err := applyChmod(walk.Entries, opts.Chmod); err != nil {
		return nil, err
	}
	return walk, nil
}

// PushEntries sends entries made in memory rather than read from a local
// tree — symlinks and directories only, since there is no file data to
// read — to destPath on the remote side, as Push sends a walked tree. An
// entry named "current" pushed into "app/" lands as app/current; the
// remote rsync replaces an existing symlink of another target by creating
// the new one under a temporary name and renaming it over the old
// (generator.c atomic_create, rsync 3.1.0 and later), so a reader never
// finds the name missing.
func PushEntries(ctx context.Context, t Transport, entries []*flist.Entry, destPath string, opts Options) (*Result, error) {
	for _, e := range entries {
		if !e.IsSymlink() && !e.IsDir() {
			return nil, fmt.Errorf("push entries: %s is neither a symlink nor a directory", e.Name)
		}
		if err := flist.CheckName(e.Name); err != nil && e.Name != "." {
			return nil, fmt.Errorf("push entries: %w", err)
		}
	}
	sorted := append([]*flist.Entry(nil), entries...)
	flist.Sort(sorted)
	rules, err := newRules(opts)
	if err != nil {
		return nil, err
	}
	return push(ctx, t, &flist.WalkResult{Entries: sorted}, rules, destPath, opts)
}

// push runs the sender against a remote receiver for a prepared list.
func push(ctx context.Context, t Transport, walk *flist.WalkResult, rules *filter.List, destPath string, opts Options) (*Result, error) {
	args, err := pushArgs(destPath, opts)
	if err != nil {
		return nil, err
	}
	s, err := start(ctx, t, opts, args)
	if err != nil {
		return nil, err
	}
	s.onChange = opts.OnChange
	res, err := s.send(walk, rules, opts)
	return s.endPush(ctx, res, err)
}

// pushArgs is the command line of the receiving server
// (options.c:server_options).
func pushArgs(destPath string, opts Options) ([]string, error) {
	if len(opts.LinkDest) > MaxLinkDest {
		return nil, fmt.Errorf("%d link-dest directories; rsync accepts at most %d", len(opts.LinkDest), MaxLinkDest)
	}
	args := []string{"--server", serverFlags(opts, true)}
	args = append(args, serverLongOptions(opts, true)...)
	if opts.Delete {
		args = append(args, "--delete")
	}
	// --chown is --usermap/--groupmap for the receiver (options.c).
	if opts.Owner != "" {
		args = append(args, "--usermap=*:"+opts.Owner)
	}
	if opts.Group != "" {
		args = append(args, "--groupmap=*:"+opts.Group)
	}
	// The receiver hard-links a new file that is unchanged in one of
	// these (generator.c try_dests_reg); the client passes them on the
	// server's command line (options.c server_options).
	for _, d := range opts.LinkDest {
		args = append(args, "--link-dest="+d)
	}
	return append(args, ".", remotePathArg(destPath)), nil
}

// endPush ends a push's session after the sender's work returned res, err.
func (s *session) endPush(ctx context.Context, res *Result, err error) (*Result, error) {
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	res.Stats.BytesSent = s.out.Written()
	res.Sessions = 1
	if err := s.finish(ctx); err != nil {
		// rsync's exit 24: source files vanished during the run. Everything
		// else arrived; like rsync, report it without failing.
		var ee *ExitError
		if errors.As(err, &ee) && ee.Code == 24 {
			res.Warnings = append(res.Warnings, "some source files vanished before they could be transferred: "+ee.Messages)
			return res, nil
		}
		return nil, err
	}
	return res, nil
}

// serverFlags is the short-option word for the server
// (options.c:server_options): -a's letters, then n/c, then e + capabilities.
// A receiving server also gets -S and -b (a sending one does not use them).
func serverFlags(opts Options, receiver bool) string {
	f := "-"
	if opts.DryRun {
		f += "n"
	}
	f += "log"
	if !opts.NoDevices {
		f += "D" // --devices; --specials rides on it (serverLongOptions)
	}
	f += "tpr"
	if opts.HardLinks {
		f += "H"
	}
	if receiver && opts.Sparse {
		f += "S"
	}
	if receiver && opts.BackupDir != "" {
		f += "b"
	}
	if opts.Checksum {
		f += "c"
	}
	if opts.Compress {
		f += "z"
	}
	return f + "e" + capabilities
}

// serverLongOptions are the long options that complete serverFlags
// (options.c:server_options): the half of -D that the letter does not
// say, and the backup directory for a receiving server.
func serverLongOptions(opts Options, receiver bool) []string {
	var args []string
	switch {
	case !opts.NoDevices && opts.NoSpecials:
		args = append(args, "--no-specials")
	case opts.NoDevices && !opts.NoSpecials:
		args = append(args, "--specials")
	}
	if receiver && opts.BackupDir != "" {
		args = append(args, "--backup-dir="+opts.BackupDir)
	}
	return args
}

// send is the sender role (sender.c:send_files after flist.c:send_file_list).
func (s *session) send(walk *flist.WalkResult, rules *filter.List, opts Options) (*Result, error) {
	if s.protocol < 29 {
		// The walk is in the order of 29+; file indexes are positions in
		// the protocol's own order (flist.c:f_name_cmp).
		flist.SortProto(walk.Entries, s.protocol)
	}
	// A receiver that deletes wants our filter rules first
	// (exclude.c:send_filter_list).
	if opts.Delete {
		if err := writeFilterRules(s.w, rules, false); err != nil {
			return nil, err
		}
	}
	if err := s.sendFileList(walk, opts); err != nil {
		return nil, err
	}
	res, err := s.sendFiles(walk, opts)
	if err != nil {
		return nil, err
	}
	return s.goodbye(res, walk.Entries)
}

// sendFileList writes the file list, its end marker and the id lists
// (flist.c:send_file_list, uidlist.c:send_id_lists).
func (s *session) sendFileList(walk *flist.WalkResult, opts Options) error {
	entries := walk.Entries
	codec := listCodec(s, opts)
	if opts.Checksum {
		codec.ChecksumLen = s.algo.Len()
		for _, e := range entries {
			if e.IsRegular() {
				sum, err := fileChecksum(walk.LocalPath(e), s.algo)
				if err != nil {
					walk.Warnings = append(walk.Warnings, err.Error())
					if errors.Is(err, fs.ErrNotExist) {
						walk.IOError |= flist.IOErrVanished
					} else {
						walk.IOError |= flist.IOErrGeneral
					}
				}
				e.Checksum = sum
			}
		}
	}
	for _, w := range walk.Warnings {
		s.log.Warn("source", "warning", w)
	}
	for _, w := range walk.Skipped {
		s.log.Info("source", "skipped", w)
	}
	enc := flist.NewEncoder(codec, s.w)
	for i, e := range entries {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("send file list entry %d (%s): %w", i, e.Name, err)
		}
	}
	if err := enc.End(walk.IOError); err != nil {
		return fmt.Errorf("send end of file list: %w", err)
	}
	uids, gids := flist.IDNames(entries)
	u0, g0 := flist.ID0Names()
	if err := flist.WriteIDListProto(s.w, uids, s.protocol, s.id0Names(), u0); err != nil {
		return fmt.Errorf("send uid list: %w", err)
	}
	if err := flist.WriteIDListProto(s.w, gids, s.protocol, s.id0Names(), g0); err != nil {
		return fmt.Errorf("send gid list: %w", err)
	}
	if s.protocol < 30 {
		s.w.Int32(walk.IOError) // flist.c:send_file_list "send the io_error flag"
	}
	return s.w.Err()
}

// sendFiles answers the generator's requests until its third NDX_DONE
// and writes the sender's final NDX_DONE (sender.c:send_files).
func (s *session) sendFiles(walk *flist.WalkResult, opts Options) (*Result, error) {
	entries := walk.Entries
	res := &Result{Protocol: s.protocol, Checksum: s.algo.Name(), Compression: s.compress.Name()}
	if s.compress != delta.CompressNone {
		ctw, err := delta.NewCompressedTokenWriter(s.w, s.compress, opts.CompressLevel)
		if err != nil {
			return nil, err
		}
		s.tokens = ctw
	} else {
		s.tokens = &plainTokens{delta.TokenWriter{W: s.w}}
	}
	res.Stats.FilesTotal = len(entries)
	s.prog = startProgress(opts, s.log, "push", entries)
	defer s.prog.finish()
	defer s.files.Close()
	phase := 0
	maxPhase := s.maxPhase()
	for {
		ndx := s.readNdx()
		if err := s.r.Err(); err != nil {
			return nil, fmt.Errorf("read file request: %w", err)
		}
		switch {
		case ndx == wire.NdxDone:
			if phase == 0 {
				s.prog.doneBefore(len(entries))
			}
			phase++
			s.writeNdx(wire.NdxDone)
			if phase > maxPhase {
				return res, s.w.Err()
			}
			continue
		case ndx == wire.NdxDelStats:
			if err := s.readDelStats(); err != nil {
				return nil, err
			}
			continue
		case s.protocol < 30 && int(ndx) == len(entries):
			// A protocol-29 keepalive: the list's length with ITEM_IS_NEW
			// (rsync.c:read_ndx_and_attrs); below 29 there are none.
			if s.itemFlags() && s.r.Shortint() == itemIsNew && s.r.Err() == nil {
				continue
			}
			return nil, fmt.Errorf("%w: the receiver asked for file index %d of %d", wire.ErrMalformed, ndx, len(entries))
		case ndx < 0 || int(ndx) >= len(entries):
			return nil, fmt.Errorf("%w: the receiver asked for file index %d of %d", wire.ErrMalformed, ndx, len(entries))
		}
		e := walk.Entries[ndx]
		if err := s.answer(res, e, walk.LocalPath(e), ndx, phase, opts.DryRun); err != nil {
			return nil, err
		}
	}
}

// answer handles one generator request for entry e, read from local
// (sender.c:send_files loop body).
func (s *session) answer(res *Result, e *flist.Entry, local string, ndx int32, phase int, dryRun bool) error {
	// Below 29 a request is a transfer with no flags (rsync.c:
	// read_ndx_and_attrs: ITEM_TRANSFER|ITEM_MISSING_DATA).
	iflags := uint16(itemTransfer)
	if s.itemFlags() {
		iflags = s.r.Shortint()
	}
	var basisType byte
	var xname string
	if iflags&itemBasisTypeFollows != 0 {
		basisType = s.r.Byte()
	}
	if iflags&itemXnameFollows != 0 {
		xname = s.r.Vstring(flist.MaxPathLen)
	}
	if err := s.r.Err(); err != nil {
		return fmt.Errorf("read request for file %d: %w", ndx, err)
	}
	echo := func() {
		s.writeNdx(ndx)
		if !s.itemFlags() {
			return // sender.c:write_ndx_and_attrs
		}
		s.w.Shortint(iflags)
		if iflags&itemBasisTypeFollows != 0 {
			s.w.Byte(basisType)
		}
		if iflags&itemXnameFollows != 0 {
			s.w.Vstring(xname)
		}
	}
	if phase == 0 {
		if s.inc != nil {
			// The entry goes when its list does: its change is made now.
			s.inc.noteChange(e, iflags)
		} else {
			s.sent = append(s.sent, sentItem{ndx: ndx, iflags: iflags})
			s.prog.doneBefore(int(ndx))
		}
	}
	if iflags&itemTransfer == 0 || dryRun {
		echo()
		if iflags&itemTransfer != 0 && phase == 0 {
			res.Stats.FilesTransferred++
		}
		return s.w.Err()
	}
	if !e.IsRegular() {
		return fmt.Errorf("%w: the receiver asked for the data of %q, which is not a regular file", wire.ErrMalformed, e.Name)
	}
	if s.estimate {
		if phase == 0 {
			res.Stats.FilesTransferred++
		}
		return s.estimateFile(res, local, ndx, e, echo)
	}
	sig, err := s.readSignature(ndx)
	if err != nil {
		return err
	}
	if phase == 0 {
		res.Stats.FilesTransferred++
	}

	f, err := s.files.Open(local)
	if err != nil {
		// rsync's sender reports the file as not sent and carries on
		// (sender.c: MSG_NO_SEND, io_error |= IOERR_GENERAL).
		s.log.Warn("cannot open source file", "path", local, "error", err)
		res.Warnings = append(res.Warnings, fmt.Sprintf("cannot open %s: %v", local, err))
		if !s.muxOut() {
			// Below 30 the sender just sends nothing for it (sender.c);
			// the receiver is not waiting for a particular file.
			return nil
		}
		if werr := s.sendNoSend(ndx); werr != nil {
			return werr
		}
		// Tell the receiver how bad it is (sender.c, io.c: MSG_IO_ERROR).
		bits := int32(flist.IOErrGeneral)
		if errors.Is(err, fs.ErrNotExist) {
			bits = flist.IOErrVanished
		}
		var p [4]byte
		binary.LittleEndian.PutUint32(p[:], uint32(bits))
		return s.out.WriteMsg(wire.MsgIOError, p[:])
	}
	defer f.Close()
	f.ExpectSize(e.Size)
	echo()
	writeSumHead(s.w, sig.Head)
	if s.whole == nil {
		s.whole = s.algo.NewTransfer(s.seed, s.protocol)
	}
	whole := s.whole
	whole.Reset()
	s.tokens.StartFile()
	var data io.Reader = f
	switch {
	case phase == 0 && s.inc != nil:
		data = s.inc.reading(ndx, e, f)
	case phase == 0:
		data = s.prog.reading(int(ndx), f)
	}
	st, err := s.matcher.Match(sig, s.strong(), data, whole, s.tokens)
	if err != nil {
		return fmt.Errorf("send %s: %w", e.Name, err)
	}
	if err := s.tokens.End(); err != nil {
		return err
	}
	s.w.Raw(whole.Sum(nil))
	res.Stats.LiteralBytes += st.Literal
	res.Stats.MatchedBytes += st.Matched
	if s.log.IsTrace() { // the arguments alone cost an allocation per file
		s.log.Trace("sent file", "path", e.Name, "literal", st.Literal, "matched", st.Matched)
	}
	return s.w.Err()
}

// sentItem is a file the receiver asked about in the first phase. A push
// reports its changes from these, built once at the end at their exact
// size: appending a 48-byte Change per file as requests came regrew the
// list many times over (17 MB allocated for 100,000 files), and its last
// copies were live beside the file list at the push's peak.
type sentItem struct {
	ndx    int32
	iflags uint16
}

// tokenSink is the token stream of the session: plain or compressed.
type tokenSink interface {
	delta.Sink
	StartFile()
	End() error
}

type plainTokens struct{ delta.TokenWriter }

func (plainTokens) StartFile() {}

func (s *session) sendNoSend(ndx int32) error {
	var p [4]byte
	binary.LittleEndian.PutUint32(p[:], uint32(ndx))
	return s.out.WriteMsg(wire.MsgNoSend, p[:])
}

// readSignature reads a sum head and its block sums (io.c:read_sum_head,
// sender.c:receive_sums), validating both before allocating.
func (s *session) readSignature(ndx int32) (*delta.Signature, error) {
	h := delta.SumHead{Count: s.r.Int32(), BlockLen: s.r.Int32(), S2Len: s.r.Int32(), Remainder: s.r.Int32()}
	if err := s.r.Err(); err != nil {
		return nil, fmt.Errorf("read sum head of file %d: %w", ndx, err)
	}
	if err := h.Validate(s.algo.Len(), maxSigBlocks); err != nil {
		return nil, fmt.Errorf("%w: sum head of file %d: %w", wire.ErrMalformed, ndx, err)
	}
	sig := &delta.Signature{Head: h, Sum1: make([]uint32, h.Count), Sum2: make([]byte, int(h.Count)*int(h.S2Len))}
	for i := int32(0); i < h.Count; i++ {
		sig.Sum1[i] = uint32(s.r.Int32())
		s.r.Full(sig.Sum2[int(i)*int(h.S2Len) : int(i+1)*int(h.S2Len)])
	}
	if err := s.r.Err(); err != nil {
		return nil, fmt.Errorf("read block sums of file %d: %w", ndx, err)
	}
	return sig, nil
}

func writeSumHead(w *wire.Writer, h delta.SumHead) {
	w.Int32(h.Count)
	w.Int32(h.BlockLen)
	w.Int32(h.S2Len)
	w.Int32(h.Remainder)
}

func (s *session) writeNdx(ndx int32) {
	var buf [8]byte
	s.w.Raw(s.ndxOut.AppendNdxProto(buf[:0], ndx, s.protocol))
}

// readDelStats reads the deletion counters that follow NDX_DEL_STATS
// (main.c:read_del_stats).
func (s *session) readDelStats() error {
	for i := 0; i < 5; i++ {
		s.r.Varint()
	}
	if err := s.r.Err(); err != nil {
		return fmt.Errorf("read deletion stats: %w", err)
	}
	return nil
}

// goodbye is the end of a transfer where we are the sender
// (main.c:read_final_goodbye): at protocol ≥ 31 the receiver sends NDX_DONE
// (after optional NDX_DEL_STATS), we answer NDX_DONE, and it confirms.
func (s *session) goodbye(res *Result, entries []*flist.Entry) (*Result, error) {
	if err := s.readGoodbye(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if n := len(s.sent) + len(s.deleted); n > 0 && s.onChange == nil {
		res.Changes = make([]Change, 0, n)
	}
	items := itemStrings{}
	for _, it := range s.sent {
		s.addChange(res, itemizedChange(entries[it.ndx], it.iflags, true, items))
	}
	s.sent = nil
	s.mu.Unlock()
	return s.closeResult(res)
}

// readGoodbye is the sender's side of main.c:read_final_goodbye: the
// receiver's NDX_DONE and, at protocol ≥ 31, our NDX_DONE and its reply.
func (s *session) readGoodbye() error {
	if err := s.expectDone("goodbye"); err != nil {
		return err
	}
	if s.protocol >= 31 {
		s.writeNdx(wire.NdxDone)
		if err := s.expectDone("final goodbye"); err != nil {
			return err
		}
	}
	return nil
}

// closeResult adds what the server reported on the side — deletions,
// warnings — and the bytes received to a push's result.
func (s *session) closeResult(res *Result) (*Result, error) {
	s.mu.Lock()
	for _, d := range s.deleted {
		s.addChange(res, Change{Path: d, Kind: ChangeDelete, Itemize: "*deleting"})
	}
	res.Stats.Deleted = len(s.deleted)
	res.Warnings = append(res.Warnings, s.warnings...)
	s.mu.Unlock()
	res.Stats.BytesReceived = s.r.Count()
	return res, s.w.Err()
}
