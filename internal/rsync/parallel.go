package rsync

// A parallel push: one tree pushed as several concurrent `rsync --server`
// receivers, each owning a part of the tree, with rsync's semantics kept.
// The stock receiver is one single-threaded process; on a tree of tiny
// files it is the bound of the whole transfer (creating 100,000 files is
// most of the 6 s a push of them takes), and two receivers creating files
// in different directories finish in about half the time, as msrsync and
// parsyncfp find by running several rsyncs side by side.
//
// How the tree is cut (see planParts): the source's top directory (".",
// or the directory itself for a source without a trailing slash) and any
// directory split below it are the "split" directories; the directories
// found in them that are not split are the "units", each owned whole by
// one part. Then:
//
//   - Session 0, the skeleton, runs first and alone. It lists every split
//     directory as a content directory with all its entries, and every
//     unit as a directory without content (XMIT_NO_CONTENT_DIR, what
//     rsync -d sends): the receiver creates it, sets its attributes and
//     deletes nothing in it (generator.c calls delete_in_dir only for
//     FLAG_CONTENT_DIR). So the skeleton makes every creation, deletion
//     and type change in the split directories that one rsync would.
//     It needs no protect rule of its own: one like "P /*/*" would also
//     spare the contents of a destination directory that must go to make
//     room for a file of that name (delete.c:delete_dir_contents obeys
//     the filter rules), where one rsync removes it.
//   - Sessions 1..K then run together (as many at a time as the SSH
//     server takes). Each lists the split directories
//     on the way to its units without content, with only those of their
//     entries, and its units whole, as content directories: the receiver
//     deletes inside its units as one rsync would and nothing beside
//     them. As a second guard each also sends protect rules ("P /*" and
//     "P /dir/*" for a split dir) that spare exactly the split
//     directories' entries, before the user's rules.
//
// The user's rules follow in every session unchanged; every session has
// the same transfer root, so an anchored rule means the same thing in all.
// Each file is still written to a temporary name and renamed by its
// receiver, so a push that fails leaves no half-written file.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// MaxParallel is the most receiver sessions ParallelFor asks for.
const MaxParallel = 4

// maxIdleRetries and idleRetryDelay bound how long a parallel push waits
// for the SSH server to take a part's session when none of its sessions
// is running (see pushParallel): 5 s.
const (
	maxIdleRetries = 50
	idleRetryDelay = 100 * time.Millisecond
)

// maxSplits bounds the directories planParts splits below the top.
const maxSplits = 64

// parallelMinFiles is the smallest tree (entries counted below the
// source) that a push splits: below it the extra sessions' start-up
// costs more than a second receiver saves.
const parallelMinFiles = 2000

// ParallelFor is how many receiver sessions a push of files entries
// should use (Options.Parallel): one for a small push, MaxParallel from
// parallelMinFiles on. On a 2-core machine 2 and 4 sessions finished
// 30,000 tiny files in nearly the same time (see the commit that added
// this), and a receiver's host usually has more cores than that.
func ParallelFor(files int) int {
	if files < parallelMinFiles {
		return 1
	}
	return MaxParallel
}

// parallelPossible reports whether a push with opts may be split; see
// Options.Parallel for why each option keeps it whole.
func parallelPossible(opts Options) bool {
	return opts.Parallel > 1 && !opts.DryRun && !opts.EstimateOnly && !opts.HardLinks &&
		opts.BwLimit == 0 && incPossible(opts)
}

// partPlan is how a tree is cut into parts.
type partPlan struct {
	top   string            // the top directory's list name: "." or the source's base name
	split map[string]bool   // directories cut into units (the top included): the skeleton's content directories
	units [][]string        // per part (index 0 unused): the unit directories it owns
	owner map[string]int    // unit directory -> its part
	chain []map[string]bool // per part: the split directories on the way to its units
}

// partName describes part p for an error: its first units.
func (pl *partPlan) partName(p int) string {
	if p == 0 {
		return "session 0 (the top level)"
	}
	u := pl.units[p]
	names := strings.Join(u[:min(len(u), 3)], ", ")
	if len(u) > 3 {
		names += fmt.Sprintf(" and %d more", len(u)-3)
	}
	return fmt.Sprintf("session %d of %d (%s)", p, len(pl.units)-1, names)
}

// unit is a candidate directory and the entries counted below it.
type unit struct {
	name  string
	count int
}

// planParts decides whether and how a push of source is split into at
// most n parts; nil means one session. It reads the source's top and
// counts the entries below each directory in it by names alone (no stat
// of a file, user filters not applied: a count for balance, not a list).
func planParts(source string, rules *filter.List, opts Options, n int) (*partPlan, error) {
	lister, top, err := newLister(source, rules, opts)
	if err != nil {
		return nil, err
	}
	if !top.IsDir() {
		return nil, nil // a single file
	}
	minFiles := parallelMinFiles
	if opts.parallelMin > 0 {
		minFiles = opts.parallelMin
	}
	pl := &partPlan{top: top.Name, split: map[string]bool{top.Name: true}}
	units, files, err := childUnits(lister, top.Name)
	if err != nil {
		return nil, err
	}
	total := files
	for _, u := range units {
		total += u.count
	}
	if total < minFiles {
		return nil, nil
	}
	// A web root often holds one huge directory (assets/) beside a few
	// small ones, and a generated tree a few equal ones (3 directories
	// for 2 parts): a part per top directory would leave one receiver
	// with most of the work. So a unit that holds more than a quarter
	// of a part's share is split into its own directories (its files
	// then go to the skeleton), unless it has fewer than two directories
	// or most of its entries are its own files; with units at most a
	// quarter of a share, dealing them largest first balances the parts
	// to within about that. Each split directory is listed by the
	// skeleton and by the parts that own something in it, hence a bound.
	threshold := total / (4 * n)
	tried := map[string]bool{}
	for splits := 0; splits < maxSplits; {
		slices.SortFunc(units, func(a, b unit) int { return b.count - a.count })
		i := slices.IndexFunc(units, func(u unit) bool { return u.count > threshold && !tried[u.name] })
		if i < 0 {
			break
		}
		big := units[i]
		tried[big.name] = true
		sub, direct, err := childUnits(lister, big.name)
		if err != nil {
			return nil, err
		}
		if len(sub) < 2 || direct > big.count/2 {
			continue
		}
		pl.split[big.name] = true
		units = append(slices.Delete(units, i, i+1), sub...)
		splits++
	}
	parts := min(n, len(units))
	if parts < 2 {
		return nil, nil
	}
	// Largest first, each to the part with the fewest entries so far.
	slices.SortFunc(units, func(a, b unit) int { return b.count - a.count })
	load := make([]int, parts+1)
	pl.units = make([][]string, parts+1)
	pl.owner = map[string]int{}
	pl.chain = make([]map[string]bool, parts+1)
	for _, u := range units {
		p := 1
		for q := 2; q <= parts; q++ {
			if load[q] < load[p] {
				p = q
			}
		}
		load[p] += u.count + 1
		pl.units[p] = append(pl.units[p], u.name)
		pl.owner[u.name] = p
		if pl.chain[p] == nil {
			pl.chain[p] = map[string]bool{}
		}
		for d := parentName(u.name); ; d = parentName(d) {
			pl.chain[p][d] = true
			if d == pl.top || d == "." {
				break
			}
		}
	}
	for _, u := range pl.units {
		sort.Strings(u)
	}
	return pl, nil
}

// parentName is the list name of name's directory ("." at the top).
func parentName(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return "."
}

// childUnits lists dir's directories with the entries counted below each,
// and how many other entries dir holds.
func childUnits(lister *flist.Lister, dir string) ([]unit, int, error) {
	entries, err := lister.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	var units []unit
	files := 0
	for _, e := range entries {
		if !e.IsDir() {
			files++
			continue
		}
		units = append(units, unit{name: e.Name, count: countBelow(lister.LocalPath(e))})
	}
	return units, files, nil
}

// partRole is what one session of a parallel push sends: part 0 is the
// skeleton. One per session, used by its sender's goroutine only.
type partRole struct {
	plan *partPlan
	part int
	dups int // entries listed that the skeleton lists too
}

// lookahead is how far ahead of its generator a session's sender goes
// while it would otherwise wait (maxFileLookahead for a whole push). A
// part keeps to MIN_FILECNT_LOOKAHEAD: with several senders the receivers
// are rarely all idle at once, and K senders at the full lookahead hold K
// times the lists. 4 parts of 30,000 tiny files peaked at 19.7 MB at the
// full lookahead, 16.2 MB at a quarter of it each, 15.3 MB at this (one
// session: 13.5 MB), with the same walls within the noise.
func (r *partRole) lookahead() int {
	if r == nil || r.part == 0 {
		return maxFileLookahead
	}
	return minFileLookahead
}

// topEntry marks the source's top entry for this session.
func (r *partRole) topEntry(top *flist.Entry) {
	if r.part > 0 {
		top.NoContent = true
		r.dups++
	}
}

// readDir is the entries this session lists in dir (see the file
// comment): nil for a unit in the skeleton, which sends it an empty list
// as rsync's sender does for a directory without content
// (flist.c:send1extra); the way to its units for a part.
func (r *partRole) readDir(lister *flist.Lister, dir *flist.Entry) ([]*flist.Entry, error) {
	pl := r.plan
	if dir.NoContent && !pl.split[dir.Name] {
		return nil, nil
	}
	entries, err := lister.ReadDir(dir.Name)
	if err != nil || !pl.split[dir.Name] {
		return entries, err
	}
	if r.part == 0 {
		for _, e := range entries {
			if e.IsDir() && !pl.split[e.Name] {
				e.NoContent = true
			}
		}
		return entries, nil
	}
	kept := entries[:0]
	for _, e := range entries {
		switch {
		case !e.IsDir():
		case pl.chain[r.part][e.Name]:
			e.NoContent = true
			kept = append(kept, e)
			r.dups++
		case pl.owner[e.Name] == r.part:
			kept = append(kept, e)
			r.dups++
		}
	}
	return kept, nil
}

// protectRules are a part's extra receiver rules: each split directory's
// entries, exactly (see the file comment).
func (r *partRole) protectRules() []string {
	var out []string
	for d := range r.plan.split {
		if d == "." {
			out = append(out, "/*")
		} else {
			out = append(out, "/"+filter.EscapeLiteral(d)+"/*")
		}
	}
	sort.Strings(out)
	return out
}

// pushParallel runs a push as the skeleton and then the parts together,
// and returns one result for them all.
func pushParallel(ctx context.Context, t Transport, source string, rules *filter.List, destPath string, opts Options, pl *partPlan) (*Result, error) {
	if opts.OnChange != nil {
		// The parts report from their own goroutines: one at a time, so
		// that a caller need not care.
		var mu sync.Mutex
		report := opts.OnChange
		opts.OnChange = func(c Change) {
			mu.Lock()
			defer mu.Unlock()
			report(c)
		}
	}
	logger := func(p int) Options {
		o := opts
		if o.Logger != nil {
			o.Logger = o.Logger.With("session", p)
		}
		return o
	}
	res, err := pushInc(ctx, t, source, rules, destPath, logger(0), &partRole{plan: pl})
	if err != nil {
		return nil, fmt.Errorf("parallel push, %s: %w", pl.partName(0), err)
	}
	if !res.IncRecursive {
		// The server declined incremental recursion (protocol 29 and
		// older cannot mark a directory without content): the skeleton
		// sent the whole tree in one list, as one rsync would.
		res.Sessions = 1
		return res, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := len(pl.units) - 1
	results := make([]*Result, parts+1)
	roles := make([]*partRole, parts+1)
	partRules := make([]*filter.List, parts+1)
	queue := make([]int, 0, parts)
	for p := 1; p <= parts; p++ {
		roles[p] = &partRole{plan: pl, part: p}
		partRules[p] = rules.Clone()
		if err := partRules[p].PrependProtectExact(roles[p].protectRules()); err != nil {
			return nil, err
		}
		queue = append(queue, p)
	}
	type partDone struct {
		p   int
		res *Result
		err error
	}
	done := make(chan partDone)
	// An SSH server may allow fewer sessions at once than there are parts
	// (sshd's MaxSessions, 10 by default; some set 1): a part it refuses
	// waits for one to end, and the parts then run as many at a time as
	// it took. With none running, a refusal is retried for a while: a
	// session just closed may not have been counted out yet.
	limit, running, idleRetries := parts, 0, 0
	var firstErr error
	for {
		for firstErr == nil && len(queue) > 0 && running < limit {
			p := queue[0]
			queue = queue[1:]
			running++
			go func() {
				r, err := pushInc(ctx, t, source, partRules[p], destPath, logger(p), roles[p])
				if err == nil && !r.IncRecursive {
					err = errors.New("the server declined incremental recursion, which it took for session 0")
				}
				done <- partDone{p: p, res: r, err: err}
			}()
		}
		if running == 0 {
			break
		}
		d := <-done
		running--
		var refused *startError
		switch {
		case firstErr != nil:
			// Stopped by the first failure.
		case d.err == nil:
			results[d.p] = d.res
		case errors.As(d.err, &refused) && ctx.Err() == nil && idleRetries < maxIdleRetries:
			queue = append([]int{d.p}, queue...)
			limit = max(running, 1)
			if running == 0 {
				idleRetries++
				select {
				case <-time.After(idleRetryDelay):
				case <-ctx.Done():
				}
			}
		default:
			// The first failure stops the others; theirs follow from it.
			firstErr = fmt.Errorf("parallel push, %s: %w", pl.partName(d.p), d.err)
			cancel()
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("parallel push: %w", ctx.Err())
	}
	if firstErr != nil {
		return nil, firstErr
	}
	res.Sessions = parts + 1
	for p := 1; p <= parts; p++ {
		mergeResult(res, results[p], roles[p].dups)
	}
	return res, nil
}

// mergeResult adds a part's result to the push's; dups of its entries were
// in the skeleton's list too.
func mergeResult(res, part *Result, dups int) {
	res.Changes = append(res.Changes, part.Changes...)
	s, o := &res.Stats, part.Stats
	s.FilesTotal += o.FilesTotal - dups
	s.FilesTransferred += o.FilesTransferred
	s.BytesSent += o.BytesSent
	s.BytesReceived += o.BytesReceived
	s.LiteralBytes += o.LiteralBytes
	s.MatchedBytes += o.MatchedBytes
	s.Deleted += o.Deleted
	for _, w := range part.Warnings {
		// Every session reads the split directories: a problem there is
		// reported by each.
		if !slices.Contains(res.Warnings, w) {
			res.Warnings = append(res.Warnings, w)
		}
	}
}
