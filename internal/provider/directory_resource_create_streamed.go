package provider

// A create onto an empty destination, planned from the source read as a
// stream (issue 15: streaming plans).

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// createPlan is what the plan of a create onto an empty destination needs
// of the source: everything it shows or keeps, none of it per file beyond
// what pending lists. Against an empty destination every item the sync
// copies is created, so nothing needs the source's manifest, which on a
// 300,000-file tree is 25 MB held through the plan and, with the garbage
// collector's headroom, about twice that in the process's peak.
type createPlan struct {
	hash     string
	pending  *pendingChanges
	work     estimateWork
	baseline []byte // encoded, for the apply to keep
	specials sourceSpecials
}

// createFold makes a createPlan an item at a time, from items in the
// manifest's order: the items of a walk (DigestCache.Each), or of a
// manifest another resource read. For each item it does what the plan of
// the manifest does — withChmod, Manifest.Hash, Pairing.Diff against
// nothing, planEstimateWork, newBaseline, sftpSpecials — so that both
// plan the same values.
type createFold struct {
	chmod    func(*tree.Item)
	metadata bool
	hash     *tree.Hasher
	pending  pendingChanges
	work     estimateWork
	items    int
	prints   []uint64 // nil once there are more than baselineMaxItems items
	specials sourceSpecials
}

func newCreateFold(algo csum.Algo, chmod string, metadata bool) *createFold {
	return &createFold{
		chmod:    chmodOf(chmod),
		metadata: metadata,
		hash:     tree.NewHasher(tree.Content, algo),
		work:     estimateWork{Whole: map[string]fileAmount{}, Src: map[string]*tree.Item{}, Dst: map[string]*tree.Item{}},
	}
}

// add folds in the next source item; it is not kept or changed.
func (f *createFold) add(src *tree.Item) {
	it := *src
	if f.chmod != nil {
		f.chmod(&it)
	}
	f.items++
	f.hash.Add(&it)
	f.specials.add(&it)
	if f.items <= baselineMaxItems {
		f.prints = append(f.prints, fingerprint(&it, f.metadata))
	} else {
		f.prints = nil
	}
	if it.Ignored {
		return // not copied (Pairing.Diff)
	}
	shown := f.pending.Creates < pendingCap
	path := ""
	if shown {
		path = strings.Clone(tree.DiffPath(&it))
	}
	f.work.add(path, &it, nil, true, shown, false)
	f.pending.addCreate(path)
}

// plan is the createPlan of what was added.
func (f *createFold) plan() *createPlan {
	p := &createPlan{hash: f.hash.Sum(), pending: &f.pending, work: f.work, specials: f.specials}
	b := baseline{Hash: p.hash, Metadata: f.metadata}
	if f.items <= baselineMaxItems {
		b = baselineOfPrints(p.hash, f.metadata, f.prints)
	}
	p.baseline = b.encode()
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
		fold := newCreateFold(algo, chmod, metadata)
		if m, ok := s.manifest(walkKey); ok {
			for i := range m.Items {
				fold.add(&m.Items[i])
			}
			return sourceReading{plan: fold.plan()}, nil, nil
		}
		warnings, err := eachLocal(ctx, digests, p, f, tree.Content, algo, fold.add)
		if errors.Is(err, tree.ErrWalkOrder) {
			// Not a manifest's order (never seen): fold over the manifest.
			var m *tree.Manifest
			if m, warnings, err = hashLocal(ctx, digests, p, f, tree.Content, algo); err == nil {
				fold = newCreateFold(algo, chmod, metadata)
				for i := range m.Items {
					fold.add(&m.Items[i])
				}
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
	inc, exc := f.engineFilters()
	rules, err := filter.New(inc, exc)
	if err != nil {
		return nil, err
	}
	warnings, skipped, err := digests.Each(ctx, p, rules, mode, algo, f.Fidelity.treeOptions(), yield)
	return append(warnings, skipped...), err
}

// streamsCreate reports whether ModifyPlan plans c's create from the
// source as a stream (planCreateStreamed): the destination is known to
// be empty (the probe reached it and found nothing), the source is local,
// and it is not a release (whose plan has its own steps).
func streamsCreate(c syncConfig, priorExists, emptyDest bool) bool {
	return !priorExists && emptyDest && !c.Ends.Src.Remote && c.Release == nil
}

// planCreateStreamed is ModifyPlan's end for a create onto an empty
// destination (streamsCreate): what the plan of the source's manifest
// against an empty one decides, from a createPlan.
func (r *directoryResource) planCreateStreamed(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, cn *conn, c syncConfig, prior directoryModel) {
	algo := contentAlgo(nil, prior.DestinationHash, prior.SourceHash)
	plan, warnings, err := r.settings.sources.planCreate(ctx, r.settings.digests, c.Ends.Src.Path(), c.Filters, algo, c.Chmod, c.Drift == driftMetadata)
	resp.Diagnostics.Append(r.sourceReadDiags(c, warnings, err)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cn.overSFTP() {
		resp.Diagnostics.Append(plan.specials.diags()...)
	}
	resp.Diagnostics.Append(r.checkSourceSincePlan(ctx, req.Private, c, plan.hash)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateSourceAtRefresh, nil)...)
	if resp.Diagnostics.HasError() {
		return
	}
	out, work := planComputed(planInput{
		Prior:      computedOf(prior),
		SourceHash: plan.hash,
		Diff:       plan.pending,
		Drift:      c.Drift,
	})
	if work {
		var est *transferEstimate
		if c.Estimate && !plan.pending.empty() && !cn.overSFTP() {
			var d diag.Diagnostics
			est, d = r.estimateFrom(ctx, cn, c, plan.work, nil, nil, nil)
			resp.Diagnostics.Append(d...)
		}
		out.Pending = pendingValue(plan.pending, est)
		r.settings.baselines.put(r.destKey(c), plan.baseline)
		tflog.Info(ctx, "rsync_directory has changes to sync", map[string]interface{}{
			"destination": c.Ends.Dst.Raw, "source_hash": plan.hash, "diff_known": true,
		})
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateForceChecksum, nil)...)
	r.setComputed(ctx, resp, out)
	setReleaseComputed(ctx, resp, &c, nil, work, prior)
}
