package rsync

// The estimate: what a push would send, learned from the server's own
// block signatures without sending any file data or changing anything on
// the server.
//
// The stock server has a mode for this: `--only-write-batch=FILE` ("like
// --write-batch but w/o updating destination"). On the server
// (am_server) it sets dry_run for everything that would write
// (main.c:main, "if (write_batch < 0) dry_run = 1" — after
// options.c:parse_arguments has already left do_xfers on), so its
// generator still computes and sends real block signatures for every file
// it wants (generator.c:recv_generator reaches generate_and_send_sums
// because do_xfers is set), while its receiver, in receiver.c:recv_files,
// takes the sender's echo of ndx and iflags, logs it and moves on
// ("if (write_batch < 0) { log_item(...); if (!am_server)
// discard_receive_data(...); continue; }"): it reads no sum head, no
// tokens, no file checksum, and opens no file. The stock client's sender
// in that mode (sender.c:send_files, f_xfer = batch_fd) writes the echo to
// the server and the sum head, tokens and checksum to its local batch file
// only. We do the same with the batch file left out: echo to the server,
// match against the signature locally, count.
//
// Seen on the wire with rsync 3.5.0 and 3.2.7 as server (captures
// l-push-onlywritebatch and l2-…-srv327, decoded by
// TestCaptureOnlyWriteBatch; 3.2.7 as client too, by hand): the stock
// client's stream after the file list holds only the echoes and the
// NDX_DONEs; the server's holds the requests with their block sums. The server offers only md5 in this mode ("When writing a
// batch file, we always negotiate an old-style choice",
// compat.c:get_default_nno_list), which our client accepts like any other
// choice. The mode exists unchanged from 3.0.0 (receiver.c at v3.0.9,
// v3.1.3, v3.2.0, v3.2.7, v3.4.1, v3.5.0).
//
// Only the files asked about are listed (with the directories above them),
// and -I (--ignore-times) makes the generator request every one of them:
// the server reads those files and no others.

import (
	"context"
	"fmt"
	"path"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// FileEstimate is what pushing one file would send, by the server's block
// signatures of its current copy.
type FileEstimate struct {
	// Path is the file's name in the file list (relative to the transfer
	// root, prefixed with the source directory's name when the source has
	// no trailing slash).
	Path string
	// Size is the local file's size.
	Size int64
	// Literal is the file data a push would send; Matched the data the
	// server would copy from its current copy.
	Literal int64
	Matched int64
	// Basis is false when the server has no usable copy (missing, empty,
	// not a regular file): all of the file is literal.
	Basis bool
}

// estimateArgs is the server command line of an estimate
// (options.c:server_options with --only-write-batch and -I): the same
// letters as a push, so that the file list is encoded alike, without
// --delete, --log-format, -c or -z.
func estimateArgs(destPath string) []string {
	return []string{"--server", "-logDtprIe" + capabilities, "--only-write-batch=X", ".", remotePathArg(destPath)}
}

// estimateSet is what an estimate lists: the regular files named in want,
// every directory above them and the root. The generator insists that
// each file's parent directory be in the list (generator.c:recv_generator,
// "ABORTING due to invalid path from sender").
type estimateSet struct {
	files, dirs map[string]bool
}

func newEstimateSet(want []string) estimateSet {
	set := estimateSet{files: make(map[string]bool, len(want)), dirs: map[string]bool{}}
	for _, p := range want {
		set.files[p] = true
		for d := path.Dir(p); d != "." && d != "/" && !set.dirs[d]; d = path.Dir(d) {
			set.dirs[d] = true
		}
	}
	return set
}

// skip is the walk's skipper: the walk reads only the directories on the
// way to the files asked about and stats only what is listed, so the cost
// follows the changed set, not the tree.
func (set estimateSet) skip(name string, isDir bool) bool {
	if isDir {
		return !set.dirs[name]
	}
	return !set.files[name]
}

// subset keeps of a walk the entries the estimate lists (a name that is a
// directory here but a file in want, or the reverse, is left out).
func (set estimateSet) subset(walk *flist.WalkResult) []*flist.Entry {
	out := make([]*flist.Entry, 0, len(set.files)+len(set.dirs)+1)
	for i, e := range walk.Entries {
		switch {
		case i == 0 && e.IsDir():
			out = append(out, e) // the transfer root
		case e.IsRegular() && set.files[e.Name]:
			out = append(out, e)
		case e.IsDir() && set.dirs[e.Name]:
			out = append(out, e)
		}
	}
	return out
}

// estimateFile answers one transfer request of an estimate: the echo
// only, as sender.c:send_files writes to f_out when f_xfer is the batch
// file, and the matcher run against the server's signature with nothing
// sent.
func (s *session) estimateFile(res *Result, local string, ndx int32, e *flist.Entry, echo func()) error {
	sig, err := s.readSignature(ndx)
	if err != nil {
		return err
	}
	echo()
	est := FileEstimate{Path: e.Name, Size: e.Size, Basis: sig.Head.Count > 0}
	f, err := s.files.Open(local)
	if err != nil {
		// The push would not send it either (MSG_NO_SEND); count it whole
		// and say why.
		res.Warnings = append(res.Warnings, fmt.Sprintf("cannot open %s: %v", local, err))
		est.Literal = e.Size
		res.Estimates = append(res.Estimates, est)
		return s.w.Err()
	}
	defer f.Close()
	f.ExpectSize(e.Size)
	st, err := s.matcher.Match(sig, s.strong(), f, nil, discardTokens{})
	if err != nil {
		return fmt.Errorf("estimate %s: %w", e.Name, err)
	}
	est.Literal, est.Matched = st.Literal, st.Matched
	res.Estimates = append(res.Estimates, est)
	res.Stats.LiteralBytes += st.Literal
	res.Stats.MatchedBytes += st.Matched
	return s.w.Err()
}

// discardTokens is the token sink of an estimate: the tokens are counted
// by the matcher and go nowhere.
type discardTokens struct{}

func (discardTokens) Literal([]byte) error      { return nil }
func (discardTokens) Match(int32, []byte) error { return nil }

// estimate runs an EstimateOnly push of the files of source named in
// opts.EstimatePaths.
func estimate(ctx context.Context, t Transport, source string, rules *filter.List, destPath string, opts Options) (*Result, error) {
	set := newEstimateSet(opts.EstimatePaths)
	walk, err := flist.Walk(source, func(name string, isDir bool) bool {
		return set.skip(name, isDir) || rules.Excluded(name, isDir)
	})
	if err != nil {
		return nil, err
	}
	walk.Entries = set.subset(walk)
	opts.Delete, opts.Checksum, opts.Compress, opts.DryRun = false, false, false, false
	s, err := start(ctx, t, opts, estimateArgs(destPath))
	if err != nil {
		return nil, err
	}
	s.estimate = true
	res, err := s.send(walk, rules, opts)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	res.Stats.BytesSent = s.out.Written()
	res.Changes = nil // what the server logged, not what a push would change
	if err := s.finish(ctx); err != nil {
		return nil, err
	}
	return res, nil
}
