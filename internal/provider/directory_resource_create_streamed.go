package provider

// A create onto an empty destination, planned from the source read as a
// stream (issue 15: streaming plans).

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// createPlan is what the plan of a create onto an empty destination needs
// of the source: everything it shows or keeps, none of it per file beyond
// what pending lists. Against a destination that holds nothing but,
// perhaps, its root directory, every item the sync copies but the root is
// created, so nothing needs the source's manifest, which on a
// 300,000-file tree is 25 MB held through the plan and, with the garbage
// collector's headroom, about twice that in the process's peak.
//
// The root (".") is left to forDest, which knows the destination's: a
// createPlan is shared by every resource of the walk that plans the same
// source the same way (sourceWalks.planCreate).
type createPlan struct {
	hash string
	// root is the source's root (".": a directory, or the file or symlink
	// a source without a trailing slash names), chmod applied; nil when
	// it is not copied (Ignored). rootSeen: the source has a root at all.
	root     *tree.Item
	rootSeen bool
	// creates and work hold the items but the root: pendingCap paths and
	// the amounts of those among them that are files, and the full counts
	// and sums.
	creates  *pendingChanges
	work     estimateWork
	baseline []byte // encoded, for the apply to keep
	specials sourceSpecials
}

// forDest is the plan's pending and estimate work against a destination
// that holds only root (nil: nothing at all), compared as o says (dstMeta:
// the destination is listed by size and time), as Pairing.Diff and
// planEstimateWork make them of the two manifests.
// The destination's root must pair with the source's (pairsWith).
func (p *createPlan) forDest(root *tree.Item, o tree.DiffOptions, dstMeta bool) (*pendingChanges, estimateWork) {
	if p.root == nil {
		return p.creates, p.work // none, or Ignored: left as it is
	}
	work := p.work
	if p.root.Kind == tree.File {
		// Created, or replacing the destination's directory: sent whole.
		work.Whole = maps.Clone(work.Whole) // shared with the other resources
		work.add(".", p.root, root, root == nil, true, false)
	}
	if root != nil {
		out := *p.creates
		if o.Changed(p.root, root, dstMeta) {
			out.Update, out.Updates = []string{"."}, 1
		}
		return &out, work
	}
	// The root is created first: the paths pending shows are the root's
	// and all but the last of the others'.
	out := *p.creates
	out.Create = append([]string{"."}, p.creates.Create[:min(len(p.creates.Create), pendingCap-1)]...)
	out.Creates++
	if len(p.creates.Create) == pendingCap {
		if _, ok := work.Whole[p.creates.Create[pendingCap-1]]; ok {
			work.Whole = maps.Clone(work.Whole) // shared with the other resources
			delete(work.Whole, p.creates.Create[pendingCap-1])
		}
	}
	return &out, work
}

// pairsWith reports whether forDest can plan against a destination that
// holds only root: not when the source has no root to pair it with, which
// the manifests' plan would list as a deletion.
func (p *createPlan) pairsWith(root *tree.Item) bool {
	return root == nil || p.rootSeen
}

// createFold makes a createPlan an item at a time, from items in the
// manifest's order: the items of a walk (DigestCache.Each), or of a
// manifest another resource read. For each item it does what the plan of
// the manifest does — withChmod, Manifest.Hash, Pairing.Diff against
// nothing, planEstimateWork, newBaseline, sftpSpecials — so that both
// plan the same values.
type createFold struct {
	chmod    func(*tree.Item)
	hash     *tree.Hasher
	baseline baselineFold
	creates  pendingChanges
	// p is the plan as far as it is made: plan adds the hash and the
	// baseline.
	p createPlan
}

func newCreateFold(algo csum.Algo, chmod string, metadata bool) *createFold {
	f := &createFold{chmod: chmodOf(chmod), hash: tree.NewHasher(tree.Content, algo), baseline: baselineFold{metadata: metadata}}
	f.p.creates = &f.creates
	f.p.work = estimateWork{Whole: map[string]fileAmount{}, Src: map[string]*tree.Item{}, Dst: map[string]*tree.Item{}}
	return f
}

// foldManifest is the createPlan of a manifest's items.
func foldManifest(m *tree.Manifest, algo csum.Algo, chmod string, metadata bool) *createPlan {
	f := newCreateFold(algo, chmod, metadata)
	for i := range m.Items {
		f.add(&m.Items[i])
	}
	return f.plan()
}

// add folds in the next source item; it is not kept or changed.
func (f *createFold) add(src *tree.Item) {
	it := *src
	if f.chmod != nil {
		f.chmod(&it)
	}
	first := f.baseline.items == 0
	f.hash.Add(&it)
	f.p.specials.add(&it)
	f.baseline.add(&it)
	if first && it.Name == "." {
		f.p.rootSeen = true
		if !it.Ignored {
			root := it
			root.Name = "."  // not the walk's name block, which this would keep
			f.p.root = &root // created or compared: forDest decides
		}
		return
	}
	if it.Ignored {
		return // not copied (Pairing.Diff)
	}
	shown := f.creates.Creates < pendingCap
	path := ""
	if shown {
		path = strings.Clone(tree.DiffPath(&it))
	}
	f.p.work.add(path, &it, nil, true, shown, false)
	f.creates.addCreate(path)
}

// plan is the createPlan of what was added.
func (f *createFold) plan() *createPlan {
	p := &f.p
	p.hash = f.hash.Sum()
	p.baseline = f.baseline.baseline(p.hash).encode()
	return p
}

// planCreate plans a create onto an empty destination from the local
// source p (content hashed with algo, chmod applied, metadata: the
// destination's drift_detection), shared with the other resources of this
// walk that plan the same: folded over the manifest of p when another
// resource has read one, else over a walk of p of its own, of which no
// manifest is made.
func (s *sourceWalks) planCreate(ctx context.Context, digests *tree.DigestCache, p string, f filterSet, algo csum.Algo, chmod string, metadata bool) (*createPlan, []string, error) {
	if s != nil {
		s.mu.Lock()
		s.users[sourceKey(p, f)]++
		s.mu.Unlock()
	}
	walkKey := sourceWalkKey(p, f, algo)
	key := walkKey + "\x00create\x00" + chmod + "\x00" + strconv.FormatBool(metadata)
	r, warnings, err := s.get(ctx, key, func(ctx context.Context) (sourceReading, []string, error) {
		if m, ok := s.manifest(walkKey); ok {
			return sourceReading{plan: foldManifest(m, algo, chmod, metadata)}, nil, nil
		}
		fold := newCreateFold(algo, chmod, metadata)
		warnings, err := eachLocal(ctx, digests, p, f, tree.Content, algo, fold.add)
		if errors.Is(err, tree.ErrWalkOrder) {
			// Not a manifest's order (never seen): fold over the manifest.
			var m *tree.Manifest
			if m, warnings, err = hashLocal(ctx, digests, p, f, tree.Content, algo); err == nil {
				return sourceReading{plan: foldManifest(m, algo, chmod, metadata)}, warnings, nil
			}
		}
		if err != nil {
			return sourceReading{}, warnings, err
		}
		return sourceReading{plan: fold.plan()}, warnings, nil
	})
	return r.plan, warnings, err
}

// eachLocal is hashLocal as a stream: each item of the local tree p, in
// order, to yield (tree.DigestCache.Each).
func eachLocal(ctx context.Context, digests *tree.DigestCache, p string, f filterSet, mode tree.Mode, algo csum.Algo, yield func(*tree.Item)) ([]string, error) {
	rules, err := f.localRules()
	if err != nil {
		return nil, err
	}
	warnings, skipped, err := digests.Each(ctx, p, rules, mode, algo, f.Fidelity.treeOptions(), yield)
	return append(warnings, skipped...), err
}

// streamsCreate reports whether ModifyPlan may plan c's create from the
// source as a stream (planCreateStreamed): the source is local, and it is
// not a release (whose plan has its own steps). The destination must then
// hold nothing but its root: known empty from the probe, or listed first.
func streamsCreate(c syncConfig, priorExists bool) bool {
	return !priorExists && !c.Ends.Src.Remote && c.Release == nil
}

// onlyRoot reports whether a destination listing holds nothing but its
// root directory, readable, and returns that (nil: not even a root).
func onlyRoot(dest *tree.Manifest) (*tree.Item, bool) {
	switch {
	case len(dest.Items) == 0:
		return nil, true
	case len(dest.Items) == 1 && dest.Items[0].Name == "." && dest.Items[0].Kind == tree.Dir && !dest.Items[0].Unreadable:
		return &dest.Items[0], true
	}
	return nil, false
}

// foldedSource is what foldSource made of the source; done: it was made.
type foldedSource struct {
	plan     *createPlan
	warnings []string
	err      error
	done     bool
}

// foldSource reads c's local source for the plan of a create onto an
// empty destination (sourceWalks.planCreate), its content hashed with
// algo.
func (r *directoryResource) foldSource(ctx context.Context, c syncConfig, algo csum.Algo) foldedSource {
	plan, warnings, err := r.settings.sources.planCreate(ctx, r.settings.digests, c.Ends.Src.Path(), c.Filters, algo, c.Chmod, c.Drift == driftMetadata)
	return foldedSource{plan: plan, warnings: warnings, err: err, done: true}
}

// planCreateStreamed is ModifyPlan's end for a create onto a destination
// that holds nothing but root (nil: nothing; listed in dstMode): what the
// plan of the source's manifest against the destination's decides, from
// the source folded (foldSource).
//
// It reports false, having planned nothing, when the source cannot be
// planned so (createPlan.pairsWith): the caller plans from the manifests.
func (r *directoryResource) planCreateStreamed(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, cn *conn, c syncConfig, prior directoryModel, f foldedSource, root *tree.Item, dstMode tree.Mode) bool {
	plan, warnings, err := f.plan, f.warnings, f.err
	if err == nil && !plan.pairsWith(root) {
		return false
	}
	resp.Diagnostics.Append(r.sourceReadDiags(c, warnings, err)...)
	if resp.Diagnostics.HasError() {
		return true
	}
	if cn.overSFTP() {
		resp.Diagnostics.Append(plan.specials.diags()...)
	}
	resp.Diagnostics.Append(r.checkSourceSincePlan(ctx, req.Private, c, plan.hash)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateSourceAtRefresh, nil)...)
	if resp.Diagnostics.HasError() {
		return true
	}
	pending, work := plan.forDest(root, tree.DiffOptions{Delete: c.Delete, OwnerDirPerms: c.Ends.Dst.Remote}, dstMode == tree.Metadata)
	out, work2 := planComputed(planInput{
		Prior:      computedOf(prior),
		SourceHash: plan.hash,
		Diff:       pending,
		Drift:      c.Drift,
	})
	if work2 {
		var est *transferEstimate
		if c.Estimate && !pending.empty() && !cn.overSFTP() {
			var d diag.Diagnostics
			est, d = r.estimateFrom(ctx, cn, c, work, nil, nil, nil)
			resp.Diagnostics.Append(d...)
		}
		out.Pending = pendingValue(pending, est)
		r.keepBaseline(ctx, c, plan.hash, plan.baseline, true)
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateForceChecksum, nil)...)
	r.setComputed(ctx, resp, out)
	setReleaseComputed(ctx, resp, &c, nil, work2, prior)
	return true
}
