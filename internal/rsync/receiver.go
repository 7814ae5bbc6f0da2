package rsync

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/delta"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// Pull copies remoteSource from the remote side into the local path
// localDest (rsync -a host:remoteSource localDest), with rsync's
// trailing-slash rule on remoteSource applied by the remote sender.
func Pull(ctx context.Context, t Transport, remoteSource, localDest string, opts Options) (*Result, error) {
	opts = withBackupExcluded(opts, localDest)
	rules, err := newRules(opts)
	if err != nil {
		return nil, err
	}
	args := []string{"--server", "--sender", serverFlags(opts, false) + incOffer(opts)}
	args = append(args, serverLongOptions(opts, false)...)
	args = append(args, ".", remotePathArg(remoteSource))
	s, err := start(ctx, t, opts, args)
	if err != nil {
		return nil, err
	}
	res, err := s.receive(ctx, localDest, rules, opts)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.finish(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// receiver is the state of the receiving side: the generator (which
// decides what to ask for and sends block signatures) and the receiver
// proper (which rebuilds files from the sender's tokens), as in
// generator.c and receiver.c. They run in two goroutines because requests
// and data flow at the same time (NOTES §10 "Deadlock advice").
type receiver struct {
	s       *session
	opts    Options
	rules   *filter.List
	entries []*flist.Entry
	dest    localDest
	single  string // when the list is one file written at a named path
	chown   bool
	ownerID *int // --chown overrides
	groupID *int

	requested []atomic.Bool // ndx we asked for: the sender may send nothing else

	// Buffers reused across files: the generator's basis reader, the
	// receiver's output buffer and whole-file hash.
	basisReader *bufio.Reader
	out         *bufio.Writer
	whole       hash.Hash
	redo        chan []int32

	mu        sync.Mutex
	changes   []Change
	stats     Stats
	failed    []string       // files that failed verification twice, or could not be written
	failedNdx map[int32]bool // and their indexes: no hard link is made to them
	warnings  []string       // what was skipped and why

	// -H: each later name of a hard-link set, by index, and the index of
	// the set's first entry, which is transferred (receiver_fidelity.go).
	linkTo map[int32]int32
	// --backup-dir: where replaced and deleted files are kept; "" = none.
	backupRoot string

	inc *incPull // the lists of an incremental transfer; nil without one (increcv.go)
}

func (s *session) receive(ctx context.Context, localDest string, rules *filter.List, opts Options) (*Result, error) {
	if err := writeFilterRules(s.w, rules, true); err != nil {
		return nil, err
	}
	if s.incRecurse() {
		return s.receiveIncremental(ctx, localDest, rules, opts)
	}
	entries, ioErr, err := s.recvFileList(opts, opts.Checksum)
	if err != nil {
		return nil, err
	}
	if err := applyChmod(entries, opts.Chmod); err != nil {
		return nil, err
	}
	// The whole list is checked before anything is written: a name this
	// machine cannot hold fails the sync with nothing half-written.
	if err := checkLocalNames(entries); err != nil {
		return nil, err
	}
	if ioErr != 0 {
		s.log.Warn("the remote sender could not read some files; deletions are skipped", "io_error", ioErr)
	}
	res := &Result{Protocol: s.protocol, Checksum: s.algo.Name(), Compression: s.compress.Name()}
	res.Stats.FilesTotal = len(entries)
	if len(entries) == 0 {
		return res, nil
	}
	r := &receiver{s: s, opts: opts, rules: rules, entries: entries, requested: make([]atomic.Bool, len(entries)), redo: make(chan []int32, 1)}
	if ioErr != 0 {
		r.opts.Delete = false // generator.c: "IO error encountered -- skipping file deletion"
	}
	if err := r.prepare(localDest); err != nil {
		return nil, err
	}
	r.prepareLinks()
	s.prog = startProgress(opts, s.log, receiverVerb(s), entries)
	defer s.prog.finish()
	if err := r.run(ctx, r.generate, r.receiveFiles); err != nil {
		return nil, err
	}
	if err := r.linkFollowers(); err != nil {
		return nil, err
	}
	if err := r.finishDirs(); err != nil {
		return nil, err
	}
	return r.result(res)
}

// receiverVerb names a receiving transfer in progress lines.
func receiverVerb(s *session) string {
	if _, local := s.proc.(*localProcess); local {
		return "copy"
	}
	return "pull"
}

// run runs the generator (generate, on its own goroutine) beside the
// receiver (receive, on this one) until both are done, then the final
// goodbye (main.c:do_recv forks them; we run them as goroutines).
func (r *receiver) run(ctx context.Context, generate func(context.Context) error, receive func() error) error {
	s := r.s
	genErr := make(chan error, 1)
	genCtx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	go func() {
		err := generate(genCtx)
		if err != nil {
			// Stop the sender: closing its input ends the transfer, which
			// unblocks the receiver below; the generator's error is the cause.
			_ = s.proc.Stdin().Close()
		}
		genErr <- err
	}()
	if err := receive(); err != nil {
		stopGen()
		_ = s.proc.Stdin().Close() // unblock a generator stuck writing
		if gerr := <-genErr; gerr != nil && !errors.Is(gerr, context.Canceled) {
			return gerr
		}
		return err
	}
	if err := <-genErr; err != nil {
		return err
	}
	return s.receiverGoodbye()
}

// result fills res with what the transfer did: changes in path order,
// counts, warnings; files that failed make it an error.
func (r *receiver) result(res *Result) (*Result, error) {
	s := r.s
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Changes = r.changes
	slices.SortStableFunc(res.Changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	res.Stats.FilesTransferred = r.stats.FilesTransferred
	res.Stats.LiteralBytes, res.Stats.MatchedBytes = r.stats.LiteralBytes, r.stats.MatchedBytes
	res.Stats.Deleted = r.stats.Deleted
	res.Stats.BytesSent, res.Stats.BytesReceived = s.out.Written(), s.r.Count()
	res.Warnings = append(res.Warnings, s.warnings...)
	res.Warnings = append(res.Warnings, r.warnings...)
	if len(r.failed) > 0 {
		return res, fmt.Errorf("some files could not be transferred: %s", strings.Join(r.failed, "; "))
	}
	return res, nil
}

// prepare looks up the --chown names, the destination and the backup
// directory: what every receiver needs before its first file.
func (r *receiver) prepare(localDest string) error {
	opts := r.opts
	r.chown = os.Geteuid() == 0 || opts.Group != ""
	if opts.Owner != "" {
		id, ok := lookupUser(opts.Owner)
		if !ok {
			return fmt.Errorf("owner %q: no such local user", opts.Owner)
		}
		r.ownerID = &id
	}
	if opts.Group != "" {
		id, ok := lookupGroup(opts.Group)
		if !ok {
			return fmt.Errorf("group %q: no such local group", opts.Group)
		}
		r.groupID = &id
	}
	if err := r.prepareDest(localDest); err != nil {
		return err
	}
	r.prepareBackup()
	return nil
}

// prepareDest decides where the list lands: a single non-directory entry
// may be written to a file path; otherwise localDest is a directory, created
// if missing (only its last component, as rsync does).
func (r *receiver) prepareDest(localDest string) error {
	if localDest == "" {
		return errors.New("the local destination path is empty")
	}
	if len(r.entries) == 1 && !r.entries[0].IsDir() && !strings.HasSuffix(localDest, "/") {
		if fi, err := os.Stat(localDest); err != nil || !fi.IsDir() {
			r.single = localDest
			return nil //nolint:nilerr // a destination that is not there (yet) is written as the file itself
		}
	}
	r.dest.root = strings.TrimSuffix(localDest, "/")
	r.dest.dryRun = r.opts.DryRun
	if r.dest.root == "" || r.dest.root == filepath.VolumeName(r.dest.root) {
		// "/" stays the root; on Windows "C:/" stays the drive's root,
		// not "C:", the drive's current directory.
		r.dest.root += "/"
	}
	fi, err := os.Lstat(r.dest.root)
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		// The root itself may be a symlink to a directory: rsync follows
		// it in every direction (the user named it; rsync changes into
		// it), and so do we, by resolving it once here, so that the root's
		// own permissions and times go to the directory, never the link,
		// and the link is never replaced. Only links below the root are
		// never written through (localDest.path).
		if target, rerr := filepath.EvalSymlinks(r.dest.root); rerr == nil {
			if rfi, serr := os.Stat(target); serr == nil && rfi.IsDir() {
				r.dest.root, fi = target, rfi
			}
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if r.opts.DryRun {
			return nil
		}
		if err := os.Mkdir(r.dest.root, 0o755); err != nil {
			return fmt.Errorf("create destination directory: %w", err)
		}
	case err != nil:
		return fmt.Errorf("destination %s: %w", r.dest.root, err)
	case !fi.IsDir():
		// A *PathError, like every failure of this machine's file system,
		// so that callers can tell a local failure from a remote one.
		return &fs.PathError{Op: "use as the destination directory", Path: r.dest.root, Err: syscall.ENOTDIR}
	}
	return nil
}

// localPath maps a list entry to its local path.
func (r *receiver) localPath(e *flist.Entry) (string, error) {
	if r.single != "" {
		return r.single, nil
	}
	return r.dest.path(e.Name)
}

func (r *receiver) record(c Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	if c.Kind == ChangeDelete {
		r.stats.Deleted++
	}
	r.mu.Unlock()
}

func (r *receiver) fail(msg string) {
	r.mu.Lock()
	r.failed = append(r.failed, msg)
	r.mu.Unlock()
}

// generate walks the list in order and asks for what differs
// (generator.c:generate_files, recv_generator).
func (r *receiver) generate(ctx context.Context) error {
	s := r.s
	children := r.childNames()
	for i, e := range r.entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.generateOne(int32(i), e, children); err != nil {
			return err
		}
		if !r.requested[i].Load() {
			s.prog.entryDone(i) // up to date: done as it is
		}
	}
	s.writeNdx(wire.NdxDone)
	if err := s.out.Flush(); err != nil {
		return err
	}
	var redo []int32
	select {
	case redo = <-r.redo:
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, ndx := range redo {
		if err := r.request(ndx, r.entries[ndx], itemTransfer, true); err != nil {
			return err
		}
	}
	return s.endPhases()
}

// endPhases is the generator's end (generator.c:generate_files): NDX_DONE
// for the redo phase, and from 29 the delay-updates phase, then at
// protocol ≥ 31 the goodbye's; flushed.
func (s *session) endPhases() error {
	for range s.maxPhase() {
		s.writeNdx(wire.NdxDone)
	}
	if s.protocol >= 31 {
		s.writeNdx(wire.NdxDone)
	}
	if err := s.out.Flush(); err != nil {
		return err
	}
	return s.w.Err()
}

// childNames lists, for each directory in the list, the names it should
// contain: what --delete keeps.
func (r *receiver) childNames() map[string]map[string]bool {
	m := map[string]map[string]bool{}
	for _, e := range r.entries {
		if e.Name == "." {
			continue
		}
		dir, base := ".", e.Name
		if i := strings.LastIndexByte(e.Name, '/'); i >= 0 {
			dir, base = e.Name[:i], e.Name[i+1:]
		}
		if m[dir] == nil {
			m[dir] = map[string]bool{}
		}
		m[dir][base] = true
	}
	return m
}

func (r *receiver) generateOne(ndx int32, e *flist.Entry, children map[string]map[string]bool) error {
	if r.isLink(ndx) {
		return nil // linked to its set's first name at the end (linkFollowers)
	}
	path, err := r.localPath(e)
	if err != nil {
		return err
	}
	fi, statErr := os.Lstat(path)
	exists := statErr == nil
	if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", path, statErr)
	}
	switch {
	case e.IsDir():
		if exists && !fi.IsDir() {
			if err := r.removeForReplace(path, e, fi); err != nil {
				return err
			}
			exists = false
		}
		if !exists {
			r.record(itemizedChange(e, itemIsNew|itemLocalChange, false, nil))
			if !r.opts.DryRun {
				if err := os.Mkdir(path, 0o700); err != nil {
					return fmt.Errorf("create directory %s: %w", path, err)
				}
			}
		} else if flags := attrFlags(fi, e, r.s.protocol); flags != 0 {
			r.record(itemizedChange(e, flags|itemLocalChange, false, nil))
		}
		if r.opts.Delete && (exists || !r.opts.DryRun) && r.inc == nil {
			// Incremental lists delete when the directory's own list
			// arrives (generateList).
			return r.deleteExtraneous(e, path, children[e.Name])
		}
		return nil
	case e.IsSymlink():
		if exists && fi.Mode()&fs.ModeSymlink != 0 {
			if target, err := flist.ReadLink(path); err == nil && target == e.LinkTarget {
				return nil
			}
		}
		if exists {
			if err := r.removeForReplace(path, e, fi); err != nil {
				return err
			}
		}
		flags := uint16(itemLocalChange | itemReportChange)
		if !exists {
			flags |= itemIsNew
		}
		r.record(itemizedChange(e, flags, false, nil))
		if r.opts.DryRun {
			return nil
		}
		if err := createSymlink(e.LinkTarget, path); err != nil {
			return fmt.Errorf("create symlink %s: %w", path, err)
		}
		return setAttrs(path, e, r.uid(e), r.gid(e), r.chown)
	case e.IsRegular():
		return r.generateFile(ndx, e, path, fi, exists)
	case e.IsDevice() || e.IsSpecial():
		return r.generateSpecial(e, path, fi, exists)
	default:
		r.warn(fmt.Sprintf("skipping %q: unknown file type %o", e.Name, e.Type()))
		return nil
	}
}

func (r *receiver) generateFile(ndx int32, e *flist.Entry, path string, fi fs.FileInfo, exists bool) error {
	if exists && !fi.Mode().IsRegular() {
		if err := r.removeForReplace(path, e, fi); err != nil {
			return err
		}
		exists = false
	}
	if !exists {
		if linked, err := r.linkFromDest(e, path); err != nil || linked {
			return err
		}
		return r.request(ndx, e, itemTransfer|itemIsNew, false)
	}
	var flags uint16
	if fi.Size() != e.Size {
		flags |= itemReportSize
	}
	if !sameMtime(fi, e, r.s.protocol) {
		flags |= itemReportTime
	}
	changed := flags != 0
	if r.opts.Checksum {
		changed = fi.Size() != e.Size
		if !changed {
			sum, err := fileChecksum(path, r.s.algo)
			if err != nil {
				return err
			}
			changed = !bytes.Equal(sum, e.Checksum)
		}
		if changed {
			flags |= itemReportChange
		}
	}
	if changed {
		return r.request(ndx, e, itemTransfer|flags, false)
	}
	// Same content: bring the metadata in line (generator.c:set_file_attrs).
	if af := attrFlags(fi, e, r.s.protocol); af != 0 {
		r.record(itemizedChange(e, af|itemLocalChange, false, nil))
		if !r.opts.DryRun {
			return setAttrs(path, e, r.uid(e), r.gid(e), r.chown)
		}
	}
	return nil
}

// request asks the sender for a file, with the block signature of the
// local basis (generator.c:generate_and_send_sums).
func (r *receiver) request(ndx int32, e *flist.Entry, iflags uint16, redo bool) error {
	s := r.s
	if !redo {
		r.record(itemizedChange(e, iflags, false, nil))
	}
	if r.inc != nil {
		if err := r.inc.requested(ndx, redo); err != nil {
			return err
		}
	} else {
		r.requested[ndx].Store(true)
	}
	s.writeNdx(ndx)
	if s.itemFlags() { // below 29 a request is its index (generator.c:recv_generator)
		s.w.Shortint(iflags)
	}
	if r.opts.DryRun {
		return s.w.Err()
	}
	path, err := r.localPath(e)
	if err != nil {
		return err
	}
	// WholeFile: an empty sum head, no basis, and the sender sends the
	// file whole (generator.c: whole_file → write_sum_head(f_out, NULL)).
	var head delta.SumHead
	var sig *delta.Signature
	if !r.opts.WholeFile {
		if head, sig, err = r.basisSignature(path, redo); err != nil {
			return err
		}
	}
	writeSumHead(s.w, head)
	if sig != nil {
		for i := range sig.Sum1 {
			s.w.Int32(int32(sig.Sum1[i]))
			s.w.Raw(sig.Strong(int32(i)))
		}
	}
	return s.w.Err()
}

// basisSignature is the block signature of the file at path, the basis
// the sender's delta builds on; an empty head when there is no regular,
// non-empty file there.
func (r *receiver) basisSignature(path string, redo bool) (delta.SumHead, *delta.Signature, error) {
	s := r.s
	f, err := os.Open(path)
	if err != nil {
		return delta.SumHead{}, nil, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return delta.SumHead{}, nil, nil
	}
	head := delta.NewSumHeadMax(fi.Size(), s.algo.Len(), redo, s.maxBlock())
	if r.basisReader == nil {
		r.basisReader = bufio.NewReaderSize(f, 256<<10)
	}
	r.basisReader.Reset(f)
	sig, err := delta.MakeSignature(r.basisReader, head, s.strong())
	if err != nil {
		return delta.SumHead{}, nil, fmt.Errorf("block signature of %s: %w", path, err)
	}
	return head, sig, nil
}

// attrFlags reports the metadata differences rsync itemizes for an entry
// whose content is current.
func attrFlags(fi fs.FileInfo, e *flist.Entry, protocol int) uint16 {
	var f uint16
	if !e.IsSymlink() {
		if flist.UnixMode(fi.Mode())&0o7777 != e.Perm() {
			f |= itemReportPerms
		}
		if !e.IsDir() && !sameMtime(fi, e, protocol) {
			f |= itemReportTime
		}
	}
	return f
}

// removeForReplace deletes what stands where an entry of another type
// must go. A non-empty directory goes only with delete, like rsync
// without --force.
func (r *receiver) removeForReplace(path string, e *flist.Entry, fi fs.FileInfo) error {
	if r.opts.DryRun {
		return nil
	}
	if fi.IsDir() {
		if err := os.Remove(path); err != nil {
			if !r.opts.Delete {
				return fmt.Errorf("cannot replace non-empty directory %s with a %s; enable delete to allow it", path, kindOf(e))
			}
			if err := r.backupTree(e.Name, path); err != nil {
				return err
			}
			if err := os.RemoveAll(path); err != nil {
				return fmt.Errorf("remove %s: %w", path, err)
			}
		}
		return nil
	}
	if err := r.backupAt(path); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// backupAt backs up the non-directory at the local path below the
// destination root (no backup for a single-file destination's own name
// beyond its base name).
func (r *receiver) backupAt(path string) error {
	if r.backupRoot == "" {
		return nil
	}
	rel := filepath.Base(path)
	if r.single == "" {
		var err error
		if rel, err = filepath.Rel(r.dest.root, path); err != nil {
			return err
		}
	}
	return r.backup(filepath.ToSlash(rel), path)
}

func kindOf(e *flist.Entry) string {
	switch {
	case e.IsDir():
		return "directory"
	case e.IsSymlink():
		return "symlink"
	}
	return "file"
}

// deleteExtraneous removes local entries of dir that the list does not
// name, sparing what the filter rules exclude (generator.c:delete_in_dir).
func (r *receiver) deleteExtraneous(e *flist.Entry, dir string, keep map[string]bool) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && r.opts.DryRun {
			return nil
		}
		return fmt.Errorf("read directory %s for deletions: %w", dir, err)
	}
	prefix := ""
	if e.Name != "." {
		prefix = e.Name + "/"
	}
	for _, de := range des {
		if keep[de.Name()] {
			continue
		}
		rel := prefix + de.Name()
		if r.rules.Protected(rel, de.IsDir()) {
			continue
		}
		p := dir + "/" + de.Name()
		if de.IsDir() && r.keepsProtected(p, rel) {
			// rsync deletes the directory's contents but what the rules
			// spare, and keeps the directory ("cannot delete non-empty
			// directory").
			if err := r.deleteContents(p, rel); err != nil {
				return err
			}
			continue
		}
		name := rel
		if de.IsDir() {
			name += "/"
		}
		r.record(Change{Path: name, Kind: ChangeDelete, Itemize: "*deleting"})
		if r.opts.DryRun {
			continue
		}
		if err := r.backupDeleted(rel, p, de.IsDir()); err != nil {
			return err
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("delete %s: %w", rel, err)
		}
	}
	return nil
}

// keepsProtected reports whether the directory p (transfer name rel) holds,
// at any depth, something the filter rules spare from deletion.
func (r *receiver) keepsProtected(p, rel string) bool {
	des, err := os.ReadDir(p)
	if err != nil {
		return false // RemoveAll will say what is wrong
	}
	for _, de := range des {
		crel := rel + "/" + de.Name()
		if r.rules.Protected(crel, de.IsDir()) || (de.IsDir() && r.keepsProtected(p+"/"+de.Name(), crel)) {
			return true
		}
	}
	return false
}

// deleteContents deletes what the directory p (transfer name rel) holds
// except what the filter rules spare, as deleteExtraneous does one level
// up, recording each deletion.
func (r *receiver) deleteContents(p, rel string) error {
	des, err := os.ReadDir(p)
	if err != nil {
		return fmt.Errorf("read directory %s for deletions: %w", rel, err)
	}
	for _, de := range des {
		crel := rel + "/" + de.Name()
		if r.rules.Protected(crel, de.IsDir()) {
			continue
		}
		cp := p + "/" + de.Name()
		if de.IsDir() && r.keepsProtected(cp, crel) {
			if err := r.deleteContents(cp, crel); err != nil {
				return err
			}
			continue
		}
		name := crel
		if de.IsDir() {
			name += "/"
		}
		r.record(Change{Path: name, Kind: ChangeDelete, Itemize: "*deleting"})
		if r.opts.DryRun {
			continue
		}
		if err := r.backupDeleted(crel, cp, de.IsDir()); err != nil {
			return err
		}
		if err := os.RemoveAll(cp); err != nil {
			return fmt.Errorf("delete %s: %w", crel, err)
		}
	}
	return nil
}

// receiveFiles is the receiver proper (receiver.c:recv_files): it reads
// the sender's answers until the sender's final NDX_DONE.
func (r *receiver) receiveFiles() error {
	s := r.s
	phase := 0
	var redo []int32
	for {
		ndx := s.readNdx()
		if err := s.r.Err(); err != nil {
			return fmt.Errorf("read file index: %w", err)
		}
		if ndx == wire.NdxDone {
			phase++
			if phase == 1 {
				r.redo <- redo // the generator sends these, then ends its phases
			}
			if phase > s.maxPhase() { // the sender's last NDX_DONE
				return nil
			}
			continue
		}
		if s.protocol < 30 && int(ndx) == len(r.entries) && s.itemFlags() {
			// A protocol-29 keepalive (rsync.c:read_ndx_and_attrs).
			if s.r.Shortint() == itemIsNew && s.r.Err() == nil {
				continue
			}
		}
		if ndx < 0 || int(ndx) >= len(r.entries) {
			return fmt.Errorf("%w: the sender sent file index %d of %d", wire.ErrMalformed, ndx, len(r.entries))
		}
		iflags := uint16(itemTransfer) // below 29 only transfers are sent
		if s.itemFlags() {
			iflags = s.r.Shortint()
		}
		if iflags&itemBasisTypeFollows != 0 {
			s.r.Byte()
		}
		if iflags&itemXnameFollows != 0 {
			s.r.Vstring(flist.MaxPathLen)
		}
		if err := s.r.Err(); err != nil {
			return fmt.Errorf("read attributes of file %d: %w", ndx, err)
		}
		if iflags&itemTransfer == 0 || r.opts.DryRun {
			continue
		}
		e := r.entries[ndx]
		if !r.requested[ndx].Load() || !e.IsRegular() {
			return fmt.Errorf("%w: the sender sent data for %q, which we did not ask for", wire.ErrMalformed, e.Name)
		}
		ok, err := r.receiveFile(e)
		if err != nil {
			return err
		}
		if phase == 0 {
			r.mu.Lock()
			r.stats.FilesTransferred++
			r.mu.Unlock()
			s.prog.entryDone(int(ndx))
		}
		if !ok {
			if phase == 0 {
				redo = append(redo, ndx)
			} else {
				r.fail(fmt.Sprintf("%s failed verification -- update discarded", e.Name))
				r.mu.Lock()
				if r.failedNdx == nil {
					r.failedNdx = map[int32]bool{}
				}
				r.failedNdx[ndx] = true
				r.mu.Unlock()
			}
		}
	}
}

// receiveFile rebuilds one file into a temporary file beside it and, when
// the whole-file checksum matches, renames it into place
// (receiver.c:receive_data, finish_transfer). ok is false on a checksum
// mismatch (the caller asks again).
func (r *receiver) receiveFile(e *flist.Entry) (ok bool, err error) {
	s := r.s
	head := delta.SumHead{Count: s.r.Int32(), BlockLen: s.r.Int32(), S2Len: s.r.Int32(), Remainder: s.r.Int32()}
	if err := s.r.Err(); err != nil {
		return false, fmt.Errorf("read sum head of %s: %w", e.Name, err)
	}
	if err := head.Validate(s.algo.Len(), maxSigBlocks); err != nil {
		return false, fmt.Errorf("%w: sum head of %s: %w", wire.ErrMalformed, e.Name, err)
	}
	path, err := r.localPath(e)
	if err != nil {
		return false, err
	}
	var basis io.ReaderAt = bytes.NewReader(nil)
	if head.Count > 0 {
		f, err := os.Open(path)
		if err != nil {
			return false, fmt.Errorf("open basis %s: %w", path, err)
		}
		defer f.Close()
		basis = f
	}
	tmp, err := tempFile(path)
	if err != nil {
		return false, fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmpName := tmp.Name()
	published := false
	defer func() {
		if !published {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if r.whole == nil {
		r.whole = s.algo.NewTransfer(s.seed, s.protocol)
		r.out = bufio.NewWriterSize(nil, 256<<10)
	}
	whole := r.whole
	whole.Reset()
	bw := r.out
	var sparse *sparseWriter
	if r.opts.Sparse {
		sparse = &sparseWriter{f: tmp}
		bw.Reset(io.MultiWriter(sparse, whole))
	} else {
		bw.Reset(io.MultiWriter(tmp, whole))
	}
	var st delta.MatchStats
	if s.compress != delta.CompressNone {
		st, err = r.s.compressedTokens().Apply(s.r, basis, head, bw)
	} else {
		st, err = delta.Apply(s.r, basis, head, bw)
	}
	if err != nil {
		return false, fmt.Errorf("receive %s: %w", e.Name, err)
	}
	if err := bw.Flush(); err != nil {
		return false, fmt.Errorf("write %s: %w", tmpName, err)
	}
	if sparse != nil {
		if err := sparse.finish(); err != nil {
			return false, fmt.Errorf("write %s: %w", tmpName, err)
		}
	}
	want := make([]byte, s.algo.Len())
	s.r.Full(want)
	if err := s.r.Err(); err != nil {
		return false, fmt.Errorf("read checksum of %s: %w", e.Name, err)
	}
	r.mu.Lock()
	r.stats.LiteralBytes += st.Literal
	r.stats.MatchedBytes += st.Matched
	r.mu.Unlock()
	if !bytes.Equal(whole.Sum(nil), want) {
		s.log.Warn("file failed verification, asking again", "path", e.Name)
		return false, nil
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("write %s: %w", tmpName, err)
	}
	if err := setAttrs(tmpName, e, r.uid(e), r.gid(e), r.chown); err != nil {
		return false, err
	}
	if fi, err := os.Lstat(path); err == nil && !fi.IsDir() {
		if err := r.backup(e.Name, path); err != nil {
			return false, err
		}
	}
	if err := os.Rename(tmpName, path); err != nil {
		return false, fmt.Errorf("rename %s into place: %w", path, err)
	}
	published = true
	return true, nil
}

// finishDirs sets directory permissions and times last, deepest first,
// since writing their contents changed them (generator.c:touch_up_dirs).
func (r *receiver) finishDirs() error {
	if r.opts.DryRun || r.single != "" {
		return nil
	}
	for i := len(r.entries) - 1; i >= 0; i-- {
		e := r.entries[i]
		if !e.IsDir() {
			continue
		}
		path, err := r.localPath(e)
		if err != nil {
			return err
		}
		if err := setAttrs(path, e, r.uid(e), r.gid(e), r.chown); err != nil {
			return err
		}
	}
	return nil
}

// uid maps the sender's uid to a local one by name, falling back to the
// number (uidlist.c:match_uid); gid likewise.
func (r *receiver) uid(e *flist.Entry) int {
	if r.ownerID != nil {
		return *r.ownerID
	}
	if os.Geteuid() != 0 {
		return -1 // only root can give files away: keep the owner
	}
	names := r.s.uidNames
	if r.inc != nil {
		names, _ = r.inc.idNames()
	}
	return mapID(e.UID, names, lookupUser)
}

func (r *receiver) gid(e *flist.Entry) int {
	if r.groupID != nil {
		return *r.groupID
	}
	names := r.s.gidNames
	if r.inc != nil {
		_, names = r.inc.idNames()
	}
	return mapID(e.GID, names, lookupGroup)
}

func mapID(id uint32, names []flist.IDName, lookup func(string) (int, bool)) int {
	for _, n := range names {
		if n.ID == id && n.Name != "" {
			if local, ok := lookup(n.Name); ok {
				return local
			}
		}
	}
	return int(id)
}

func lookupUser(name string) (int, bool) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, false
	}
	id, err := strconv.Atoi(u.Uid)
	return id, err == nil
}

func lookupGroup(name string) (int, bool) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, false
	}
	id, err := strconv.Atoi(g.Gid)
	return id, err == nil
}
