package provider

// A plan with nothing to do, made as a stream: the source walked and the
// listing refresh left in the store read alongside, in rsync's order,
// without a manifest of either (issue 15: a no-change plan of 300,000
// files held both, 114 MB more than one of 1,000).

import (
	"context"
	"path"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// unchangedMerge compares the source, an item at a time as the walk hands
// them over, with the destination's items read from a stored listing. It
// settles only a tree with nothing to do: at the first thing a plan from
// the manifests would act on or warn of, it stops (stop is called, and
// differs says what it was), and the plan is made from the manifests.
type unchangedMerge struct {
	dst   *listingDecoder
	items []tree.Item // the destination's chunk being read
	next  int
	last  tree.Item // the last destination item, for the order check
	seen  bool

	opts     tree.DiffOptions
	metadata bool
	chmod    func(*tree.Item)
	hash     *tree.Hasher
	stop     func()
	differs  string
}

// peek returns the next destination item, nil at the end.
func (m *unchangedMerge) peek() *tree.Item {
	for m.next == len(m.items) && m.differs == "" {
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
	if m.differs != "" {
		return nil
	}
	d := &m.items[m.next]
	if m.seen && tree.CompareItems(&m.last, d) >= 0 {
		m.fail("the stored listing is out of order")
		return nil
	}
	return d
}

func (m *unchangedMerge) take(d *tree.Item) {
	m.last, m.seen = tree.Item{Name: d.Name, Kind: d.Kind}, true
	m.next++
}

func (m *unchangedMerge) fail(why string) {
	if m.differs == "" {
		m.differs = why
		m.stop()
	}
}

// add compares the next source item with its namesake, after the
// destination's items that sort before it (which the source lacks).
func (m *unchangedMerge) add(src *tree.Item) {
	if m.differs != "" {
		return
	}
	s := *src
	if m.chmod != nil {
		m.chmod(&s)
	}
	m.hash.Add(&s)
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
		if m.differs != "" {
			return
		}
	}
	switch {
	case d != nil && d.Unreadable:
		m.fail("an unreadable destination entry")
	case s.Ignored:
		// Not copied, and what stands at its name stays (Pairing.Diff).
	case d == nil:
		m.fail("a source entry the destination lacks")
	case m.opts.Changed(&s, d, m.metadata):
		m.fail("an entry that differs")
	}
}

// destOnly weighs a destination item the source lacks: a deletion (which
// protect may spare: the plan from manifests decides), an unreadable
// entry, or a file named as a killed rsync's temporary file (a warning)
// all need that plan; anything else stays where it is.
func (m *unchangedMerge) destOnly(d *tree.Item) {
	switch {
	case m.opts.Delete:
		m.fail("a destination entry to delete")
	case d.Unreadable:
		m.fail("an unreadable destination entry")
	case d.Kind == tree.File && rsyncTempName.MatchString(path.Base(d.Name)):
		m.fail("a leftover temporary file")
	}
}

// finish weighs the destination's items after the source's last.
func (m *unchangedMerge) finish() {
	for d := m.peek(); d != nil && m.differs == ""; d = m.peek() {
		m.take(d)
		m.destOnly(d)
	}
}

// planUnchangedStreamed plans c, an update of a local source onto the
// destination whose listing refresh saved (ref), by merging a walk of
// the source with that listing read from the store. When they hold
// nothing to do it sets the plan — the same values the plan from
// manifests sets then — and reports true; otherwise it reports false,
// having set nothing, and the caller plans from the manifests (the walk
// stops at the first difference; a stopped walk keeps no digests it made,
// so a file hashed before the stop is read again).
func (r *directoryResource) planUnchangedStreamed(ctx context.Context, resp *resource.ModifyPlanResponse, cn *conn, c syncConfig, prior directoryModel, ref []byte) bool {
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
	m := &unchangedMerge{
		dst:      dst,
		opts:     tree.DiffOptions{Delete: c.Delete, OwnerDirPerms: c.Ends.Dst.Remote},
		metadata: dst.hd.Mode == tree.Metadata,
		chmod:    chmodOf(c.Chmod),
		hash:     tree.NewHasher(tree.Content, algo),
		stop:     stop,
	}
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
	if err == nil && m.differs == "" {
		m.finish()
	}
	if err == nil && m.differs == "" && (!f.intact(ctx) || (dst.hd.Mode == tree.Content && dst.algo != algo)) {
		m.fail("the stored listing is not the one refresh wrote, or its digests are another algorithm's")
	}
	if err != nil || m.differs != "" {
		tflog.Debug(ctx, "planning from manifests", map[string]interface{}{"destination": c.Ends.Dst.Raw, "because": m.differs, "error": errText(err)})
		return false
	}
	srcHash := m.hash.Sum()
	none := tree.Changes{}
	out, work := planComputed(planInput{
		Prior:       computedOf(prior),
		PriorExists: true,
		SourceHash:  srcHash,
		Diff:        pendingIfDiffed(&none),
		Drift:       c.Drift,
	})
	if work {
		return false // the source changed as the destination did: the full plan keeps the baseline
	}
	// No checkSourceSincePlan: this is the walk whose refresh wrote the
	// listing (the caller checks), where the record is of the source
	// walked ahead, and a source edited since is this plan's to show.
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateSourceAtRefresh, nil)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateForceChecksum, nil)...)
	if resp.Diagnostics.HasError() {
		return true
	}
	// The source reading refresh made ahead is not needed.
	r.settings.manifests.drop(r.sourceAheadKey(c))
	r.setComputed(ctx, resp, out)
	setReleaseComputed(ctx, resp, &c, nil, false, prior)
	tflog.Debug(ctx, "planned from the source and the stored listing as streams: nothing to do", map[string]interface{}{"destination": c.Ends.Dst.Raw})
	if r.settings.streamed != nil {
		r.settings.streamed("plan")
	}
	return true
}

// mergeSpool hands the items of the source's spool (spoolSource) to m,
// and reports whether the spool was read whole and intact (a merge that
// stopped early has read what it needed).
func (r *directoryResource) mergeSpool(ctx context.Context, m *unchangedMerge, key string, ref []byte) bool {
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
	for m.differs == "" {
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
