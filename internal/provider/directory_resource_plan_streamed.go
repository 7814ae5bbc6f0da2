package provider

// The plan of a large tree made as a stream: the source walked (or its
// spool read back) and the listing refresh left in the store read
// alongside, in rsync's order, without a manifest of either (issue 15: a
// plan of 300,000 files held both, 114 MB more than one of 1,000). What
// it keeps is what the plan shows and the changed files: pending's first
// paths and its counts, and the updated files' items for the estimate.

import (
	"context"
	"path"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	fwpath "github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// planMerge pairs the source's items, one at a time as the walk hands
// them over, with the destination's, read from a stored listing, and
// makes of each pair what the plan from the two manifests makes of it:
// Pairing.Diff, quickCheckBlind, planEstimateWork, newBaseline and both
// manifests' Hash. What a stream cannot decide as that plan does stops
// it (stop is called, and fallback says why), and the plan is made from
// the manifests: an unreadable entry, a name that is a directory on one
// side and not on the other (Pair pairs them by name, the merge cannot),
// a deletion that protect may spare (unprotected keeps a protected
// path's parent directories), a leftover temporary file to warn of, a
// listing out of order.
type planMerge struct {
	dst   *listingDecoder
	items []tree.Item // the destination's chunk being read
	next  int
	last  tree.Item // the last destination item, for the order check
	seen  bool

	opts     tree.DiffOptions
	metadata bool // the destination is listed by size and time
	chmod    func(*tree.Item)
	protect  bool // protect rules: a deletion needs the plan from manifests
	hash     *tree.Hasher
	dstHash  *tree.Hasher
	stop     func()
	fallback string

	dirs     openDirs
	baseline baselineFold

	pending pendingChanges
	blinds  int      // files only a checksum tells apart (quickCheckBlind)
	blind   []string // the first of them, for the log
	work    estimateWork
	updates []updatedFile // in pending's order: sorted once blind is known
}

// updatedFile is an updated file's pair, kept for the estimate, which
// sorts it only once the whole tree is compared (whether the apply
// compares by checksum depends on every pair: quickCheckBlind).
type updatedFile struct {
	name  string
	s, d  tree.Item
	shown bool
}

func newPlanMerge(dst *listingDecoder, c syncConfig, algo csum.Algo, stop func()) *planMerge {
	return &planMerge{
		dst:      dst,
		opts:     tree.DiffOptions{Delete: c.Delete, OwnerDirPerms: c.Ends.Dst.Remote},
		metadata: dst.hd.Mode == tree.Metadata,
		chmod:    chmodOf(c.Chmod),
		protect:  len(c.Filters.Protect) > 0,
		hash:     tree.NewHasher(tree.Content, algo),
		dstHash:  tree.NewHasher(dst.hd.Mode, 0),
		stop:     stop,
		baseline: baselineFold{metadata: c.Drift == driftMetadata},
		work:     estimateWork{Whole: map[string]fileAmount{}, Src: map[string]*tree.Item{}, Dst: map[string]*tree.Item{}},
	}
}

// peek returns the next destination item, nil at the end.
func (m *planMerge) peek() *tree.Item {
	for m.next == len(m.items) && m.fallback == "" {
		clear(m.items)
		items, more, err := m.dst.chunk(m.items[:0])
		if err != nil {
			m.fail("the stored listing: " + err.Error())
			return nil
		}
		if !more {
			return nil
		}
		m.items, m.next = items, 0
	}
	if m.fallback != "" {
		return nil
	}
	d := &m.items[m.next]
	if m.seen && tree.CompareItems(&m.last, d) >= 0 {
		m.fail("the stored listing is out of order")
		return nil
	}
	return d
}

// take moves past d, the item peek returned, hashing it as
// Manifest.Hash does.
func (m *planMerge) take(d *tree.Item) {
	m.last, m.seen = tree.Item{Name: d.Name, Kind: d.Kind}, true
	m.dstHash.Add(d)
	m.next++
}

func (m *planMerge) fail(why string) {
	if m.fallback == "" {
		m.fallback = why
		m.stop()
	}
}

// add pairs the next source item with its namesake, after the
// destination's items that sort before it (which the source lacks).
func (m *planMerge) add(src *tree.Item) {
	if m.fallback != "" {
		return
	}
	s := *src
	if m.chmod != nil {
		m.chmod(&s)
	}
	m.hash.Add(&s)
	m.baseline.add(&s)
	if s.Unreadable {
		m.fail("an unreadable source entry")
		return
	}
	var d *tree.Item
	for {
		d = m.peek()
		if d == nil {
			break
		}
		c := tree.CompareItems(d, &s)
		if c > 0 {
			d = nil
			break
		}
		m.take(d)
		if c == 0 {
			break
		}
		m.destOnly(d)
		if m.fallback != "" {
			return
		}
	}
	if d != nil && d.Unreadable {
		m.fail("an unreadable destination entry")
		return
	}
	if d != nil && !m.opts.Delete && d.Kind == tree.File && s.Kind != tree.File && rsyncTempName.MatchString(path.Base(d.Name)) {
		// leftoverTemps warns of such a file beside its source file
		// too, which the merge has not seen yet.
		m.fail("a leftover temporary file")
		return
	}
	if m.dirs.add(s.Name, sideSource, d == nil) {
		m.fail("a name that is a directory on one side and not on the other, or twice in a listing")
		return
	}
	switch {
	case s.Ignored:
		// Not copied, and what stands at its name stays (Pairing.Diff).
	case d == nil:
		shown := m.pending.Creates < pendingCap
		name := ""
		if shown {
			name = strings.Clone(tree.DiffPath(&s))
		}
		m.pending.addCreate(name)
		m.work.add(name, &s, nil, true, shown, false)
	default:
		if m.blindPair(&s, d) {
			m.blinds++
			if len(m.blind) < 10 {
				m.blind = append(m.blind, strings.Clone(s.Name))
			}
		}
		if !m.opts.Changed(&s, d, m.metadata) {
			return
		}
		shown := m.pending.Updates < pendingCap
		name := strings.Clone(tree.DiffPath(&s))
		if shown {
			m.pending.Update = append(m.pending.Update, name)
		}
		m.pending.Updates++
		if s.Kind == tree.File {
			s.Name = name
			dc := *d
			dc.Name = name
			m.updates = append(m.updates, updatedFile{name: name, s: s, d: dc, shown: shown})
		}
	}
}

// blindPair is quickCheckBlind's test of one pair: files of the same
// size and time whose content differs.
func (m *planMerge) blindPair(s, d *tree.Item) bool {
	return !m.metadata && s.Kind == tree.File && d.Kind == tree.File && !s.Unreadable && !d.Unreadable &&
		s.Size == d.Size && s.ModTime == d.ModTime && string(s.Digest()) != string(d.Digest())
}

// destOnly weighs a destination item the source lacks (so far: a file
// and a directory of one name sort apart).
func (m *planMerge) destOnly(d *tree.Item) {
	switch {
	case d.Unreadable:
		m.fail("an unreadable destination entry")
	case m.dirs.add(d.Name, sideDest, true):
		m.fail("a name that is a directory on one side and not on the other, or twice in a listing")
	case m.opts.Delete && m.protect:
		m.fail("a destination entry to delete, with protect rules")
	case m.opts.Delete:
		if m.pending.Deletes < pendingCap {
			m.pending.Delete = append(m.pending.Delete, strings.Clone(tree.DiffPath(d)))
		}
		m.pending.Deletes++
	case d.Kind == tree.File && rsyncTempName.MatchString(path.Base(d.Name)):
		m.fail("a leftover temporary file")
	}
}

// finish weighs the destination's items after the source's last.
func (m *planMerge) finish() {
	for d := m.peek(); d != nil && m.fallback == ""; d = m.peek() {
		m.take(d)
		m.destOnly(d)
	}
}

// estimateWork is planEstimateWork's: the updated files sorted now that
// whether the apply compares by checksum is known.
func (m *planMerge) estimateWork(byChecksum bool) estimateWork {
	w := m.work
	for i := range m.updates {
		u := &m.updates[i]
		w.add(u.name, &u.s, &u.d, false, u.shown, byChecksum)
	}
	return w
}

// The two sides of a merge, for openDirs.
const (
	sideSource = 1 << iota
	sideDest
)

// openDirs holds, for each directory on the path to the merge's current
// name, the names seen in it on each side. A file and a directory of one
// name sort apart (the directory compares as "name/"), so that only the
// names of one directory tell when one side has a directory where the
// other has something else. The memory is bounded by the directories on
// the path, as rsync's incremental recursion's is.
type openDirs struct {
	stack []openDir
}

type openDir struct {
	name  string
	names map[string]uint8 // base name -> the sides it was seen on
}

// add records name as seen on side — alone (its namesake not found) or
// paired, on both — and reports whether some entry of its name was seen
// before: a name twice in one listing, or on both sides apart.
func (o *openDirs) add(name string, side uint8, alone bool) bool {
	parent, base := path.Split(name)
	parent = strings.TrimSuffix(parent, "/")
	if parent == "" {
		parent = "." // the root's own name (".") is kept there too
	}
	for len(o.stack) > 0 {
		top := o.stack[len(o.stack)-1].name
		if top == parent || top == "." || strings.HasPrefix(parent, top+"/") {
			break
		}
		o.stack = o.stack[:len(o.stack)-1]
	}
	if len(o.stack) == 0 || o.stack[len(o.stack)-1].name != parent {
		// A popped directory's map is cleared and used again.
		if n := len(o.stack); n < cap(o.stack) && o.stack[:n+1][n].names != nil {
			o.stack = o.stack[:n+1]
			o.stack[n].name = parent
			clear(o.stack[n].names)
		} else {
			o.stack = append(o.stack, openDir{name: parent, names: map[string]uint8{}})
		}
	}
	names := o.stack[len(o.stack)-1].names
	sides := side
	if !alone {
		sides = sideSource | sideDest
	}
	had := names[base]
	names[base] = had | sides
	return had != 0
}

// planStreamed plans c, an update of a local source onto the destination
// whose listing refresh saved (ref), by merging a walk of the source with
// that listing read from the store, and reports true; it reports false,
// having set nothing, when the merge cannot plan it as the manifests
// would (planMerge), and the caller plans from the manifests (the walk
// stops there; a stopped walk keeps no digests it made, so a file hashed
// before the stop is read again). refreshedHere: this is the walk whose
// refresh wrote the listing (see ModifyPlan).
func (r *directoryResource) planStreamed(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, cn *conn, c syncConfig, prior, plan directoryModel, ref []byte, refreshedHere bool) bool {
	if c.Ends.Src.Remote || c.Release != nil || cn.overSFTP() || !c.SourceKnown {
		return false
	}
	f, ok := r.settings.listings.open(ctx, r.destKey(c), ref)
	if !ok {
		return false
	}
	defer f.close()
	dst, derr := newListingDecoder(f.dec, r.destKey(c))
	if derr != nil || dst.hd.Format == 2 {
		return false
	}
	algo := contentAlgo(nil, prior.DestinationHash, prior.SourceHash)
	var err error
	if dst.hd.Format == 3 && dst.hd.Mode == tree.Content {
		// Format 4 names its algorithm at the end: checked below.
		algo = dst.hd.Algo
	}
	walkCtx, stop := context.WithCancel(ctx)
	defer stop()
	m := newPlanMerge(dst, c, algo, stop)
	connected := r.connectAhead(ctx, cn, c, true)
	var warnings []string
	spooled := spoolKey(c.Ends.Src.Path(), c.Filters, algo, c.Chmod)
	if rd, ok := r.settings.sources.done(spooled); ok && rd.spool != nil {
		// Refresh walked the source into a spool: read it back.
		if !r.mergeSpool(ctx, m, spooled, rd.spool) {
			m.fail("the source's spool cannot be read")
		}
	} else {
		r.settings.sources.walking(spooled)
		warnings, err = eachLocal(walkCtx, r.settings.digests, c.Ends.Src.Path(), c.Filters, tree.Content, algo, m.add)
	}
	if err == nil && len(warnings) > 0 {
		m.fail("the source walk warned")
	}
	if err == nil && m.fallback == "" {
		m.finish()
	}
	connected()
	if err == nil && m.fallback == "" && (!f.intact(ctx) || (dst.hd.Mode == tree.Content && dst.algo != algo)) {
		m.fail("the stored listing is not the one refresh wrote, or its digests are another algorithm's")
	}
	if err != nil || m.fallback != "" {
		tflog.Debug(ctx, "planning from manifests", map[string]interface{}{"destination": c.Ends.Dst.Raw, "because": m.fallback, "error": errText(err)})
		return false
	}
	srcHash := m.hash.Sum()
	if !refreshedHere {
		// The apply walk's re-plan: the source must be the one planned.
		resp.Diagnostics.Append(r.checkSourceSincePlan(ctx, req.Private, c, srcHash)...)
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateSourceAtRefresh, nil)...)
	if resp.Diagnostics.HasError() {
		return true
	}
	// The source reading refresh made ahead is not needed.
	r.settings.manifests.drop(r.sourceAheadKey(c))
	pending := &m.pending
	b, hasBaseline := r.priorBaseline(ctx, req.Private)
	drifted := m.drift(b, hasBaseline, prior, srcHash)
	out, work := planComputed(planInput{
		Prior:       computedOf(prior),
		PriorExists: true,
		SourceHash:  srcHash,
		Diff:        pending,
		Resync:      ownershipChanged(prior, plan),
		Drift:       c.Drift,
		Drifted:     drifted,
	})
	if work && tooManyDeletions(&resp.Diagnostics, c, pending.Deletes, pending.Delete) {
		return true
	}
	if summary, detail := driftWarning(drifted, pending.Creates+pending.Updates+pending.Deletes); work && summary != "" {
		resp.Diagnostics.AddAttributeWarning(fwpath.Root("drift"), summary, detail)
	}
	if work {
		listingFrom := listingSaved
		if refreshedHere {
			listingFrom = listingOfRefresh
		}
		est, d := r.plannedEstimateOf(ctx, c, req.Private, listingFrom, srcHash, func() (*transferEstimate, diag.Diagnostics) {
			if !c.Estimate || pending.empty() {
				return nil, nil
			}
			// The paths changed on the server, of those the estimate
			// shows: all of them or none, as the hashes decide.
			var drift []string
			if len(drifted.Paths) > 0 {
				drift = append(append(drift, pending.Create...), pending.Update...)
			}
			// Of the manifests only their modes and algorithms are read
			// (oneBlockEstimates).
			srcOf := &tree.Manifest{Mode: tree.Content, Algo: algo}
			dstOf := &tree.Manifest{Mode: dst.hd.Mode, Algo: dst.algo}
			return r.estimateFrom(ctx, cn, c, m.estimateWork(c.Checksum || m.blinds > 0), srcOf, dstOf, drift)
		})
		resp.Diagnostics.Append(d...)
		out.Pending = pendingValue(pending, est)
		r.keepBaseline(ctx, c, srcHash, m.baseline.baseline(srcHash).encode(), true)
	}
	forceChecksum(ctx, resp, c, work, m.blind, m.blinds)
	if resp.Diagnostics.HasError() {
		return true
	}
	r.setComputed(ctx, resp, out)
	setReleaseComputed(ctx, resp, &c, nil, work, prior)
	tflog.Debug(ctx, "planned from the source and the stored listing as streams", map[string]interface{}{
		"destination": c.Ends.Dst.Raw, "create": pending.Creates, "update": pending.Updates, "delete": pending.Deletes,
	})
	if r.settings.streamed != nil {
		r.settings.streamed("plan")
	}
	return true
}

// drift is attributeDrift of the merge's diff against a prior baseline
// without fingerprints (largeTree): the hashes decide for the whole diff.
func (m *planMerge) drift(b baseline, hasBaseline bool, prior directoryModel, srcHash string) driftResult {
	return attributeDrift(driftInput{
		Diff:            m.pending.changes(),
		Total:           m.pending.Creates + m.pending.Updates + m.pending.Deletes,
		SrcHash:         srcHash,
		DstHash:         m.dstHash.SumAs(m.dst.algo),
		Baseline:        b,
		HasBaseline:     hasBaseline,
		PriorSourceHash: prior.SourceHash,
	})
}

// mergeSpool hands the items of the source's spool (spoolSource) to m,
// and reports whether the spool was read whole and intact (a merge that
// stopped early has read what it needed).
func (r *directoryResource) mergeSpool(ctx context.Context, m *planMerge, key string, ref []byte) bool {
	f, ok := r.settings.listings.open(ctx, key, ref)
	if !ok {
		return false
	}
	defer f.close()
	d, err := newListingDecoder(f.dec, key)
	if err != nil || d.hd.Format != listingFormat {
		return false
	}
	var items []tree.Item
	for m.fallback == "" {
		clear(items)
		var more bool
		if items, more, err = d.chunk(items[:0]); err != nil {
			return false
		}
		if !more {
			return f.intact(ctx)
		}
		for i := range items {
			m.add(&items[i])
		}
	}
	return true
}
