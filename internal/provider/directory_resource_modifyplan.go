package provider

// ModifyPlan: what `terraform plan` shows for rsync_directory — the hashes,
// the pending lists and the guards checked before anything is written.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// ModifyPlan computes source_hash, diffs the source against the
// destination that refresh read (the cached manifest; read again if this
// process has none), and plans pending, destination_hash and last_sync:
// known and equal to the prior state when there is nothing to do.
func (r *directoryResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan directoryModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	priorExists := !req.State.Raw.IsNull()
	var prior directoryModel
	if priorExists {
		resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	if !plan.Destination.IsUnknown() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), plan.Destination)...)
	}
	if !configKnown(plan) {
		// Known only at apply: so is everything computed from it.
		r.setComputed(ctx, resp, computedValues{
			SourceHash:      types.StringUnknown(),
			DestinationHash: types.StringUnknown(),
			Pending:         types.ObjectUnknown(pendingAttrTypes),
			Drift:           types.ObjectUnknown(driftAttrTypes),
			LastSync:        types.ObjectUnknown(lastSyncAttrTypes),
		})
		setReleaseComputed(ctx, resp, nil, nil, false, prior)
		return
	}
	c, diags := syncConfigOf(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !c.Ends.Src.Remote {
		resp.Diagnostics.Append(sourceDiagnostics(c.Ends.Src.Path())...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	resp.Diagnostics.Append(r.checkOverlap(c)...)
	resp.Diagnostics.Append(r.checkSSH(ctx, c)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cn := r.newConn(c)
	defer cn.close()
	resp.Diagnostics.Append(r.releaseStateForPlan(ctx, cn, &c, prior, priorExists)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(r.checkServerFeatures(ctx, cn, c)...)
	if resp.Diagnostics.HasError() {
		return
	}

	listingChanged := false
	var dest *tree.Manifest
	var listingFrom estimateListing // where dest came from, for the estimate's reuse
	listDest := false
	emptyDest := false
	var storedListing []byte // the reference to refresh's listing in the store
	if priorExists {
		pc, d := syncConfigOf(ctx, prior)
		if !d.HasError() {
			listingChanged = r.destKey(pc) != r.destKey(c)
		}
		if c.Drift != driftNone && (c.Release == nil || c.Release.Current != "") {
			if m, ok := r.settings.manifests.get(r.destKey(c)); ok {
				dest, listingFrom = m, listingOfRefresh
				tflog.Debug(ctx, "using the destination listing from refresh", map[string]interface{}{"destination": c.Ends.Dst.Raw})
			} else if ref, _ := req.Private.GetKey(ctx, privateListing); len(ref) > 0 {
				// The listing refresh saved: the apply walk's re-plan plans
				// from the listing the first plan used (listing_store.go),
				// and so does the plan walk's when refresh streamed it.
				// Read below, after the plan from streams is tried.
				storedListing = ref
			} else {
				listDest = true
			}
		}
	} else if c.Drift != driftNone {
		// A create: look at what is there, when the host answers.
		probe, d := r.probeCreate(ctx, cn, c)
		resp.Diagnostics.Append(d...)
		if resp.Diagnostics.HasError() {
			return
		}
		switch {
		case probe.Exists:
			listDest = true
		case probe.Reached:
			emptyDest = true // nothing there yet: every entry is created
		}
	}
	if _, remote := c.Ends.remote(); remote && (priorExists || cn.t != nil) {
		// Over SFTP: say so, and refuse what SFTP cannot do.
		resp.Diagnostics.Append(r.planTransport(ctx, cn, c)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	// refreshedHere: this is the walk whose refresh wrote the stored
	// listing (the plan walk), not the apply walk's re-plan.
	refreshedHere := storedListing != nil && r.settings.listings.wroteHere(storedListing)
	if storedListing != nil {
		// A large tree is planned as streams, in the plan walk and in the
		// apply walk's re-plan (which only resources with changes have).
		if !listingChanged && r.largeTree(ctx, req.Private) &&
			r.planStreamed(ctx, req, resp, cn, c, prior, plan, storedListing, refreshedHere) {
			return
		}
		if m, ok := r.settings.listings.load(ctx, r.destKey(c), storedListing); ok {
			tflog.Debug(ctx, "using the destination listing refresh saved", map[string]interface{}{"destination": c.Ends.Dst.Raw})
			dest, listingFrom = m, listingSaved
			if refreshedHere {
				listingFrom = listingOfRefresh
			}
		} else {
			listDest = true
		}
	}
	algo := contentAlgo(dest, prior.DestinationHash, prior.SourceHash)
	// A create onto an empty destination plans from the source as a
	// stream. One that exists is listed while the source is folded (a
	// local source: the two share no connection state); if it holds
	// anything but its root, the fold is not used and the source is walked
	// again below into a manifest, its digests from the cache the fold
	// just wrote.
	streamed := streamsCreate(c, priorExists) && (emptyDest || listDest)
	var root *tree.Item
	dstMode := manifestMode(c.Drift)
	var folded foldedSource
	if streamed && listDest {
		var destDiags diag.Diagnostics
		listed := make(chan struct{})
		go func() {
			defer close(listed)
			dest, destDiags = r.destManifest(ctx, cn, c, algo)
		}()
		folded = r.foldSource(ctx, c, algo)
		<-listed
		resp.Diagnostics.Append(destDiags...)
		if resp.Diagnostics.HasError() {
			return
		}
		listDest, dstMode = false, dest.Mode
		if a := contentAlgo(dest, prior.DestinationHash, prior.SourceHash); a != algo {
			algo, folded = a, foldedSource{} // the server's digests: folded again below
		}
		root, streamed = onlyRoot(dest)
	}
	if streamed {
		if !folded.done {
			folded = r.foldSource(ctx, c, algo)
		}
		if r.planCreateStreamed(ctx, req, resp, cn, c, prior, folded, root, dstMode) {
			return
		}
	}
	var src *tree.Manifest
	if listDest {
		// No listing from refresh (planned with -refresh=false, or a saved
		// plan applied elsewhere): list the destination while the source
		// is hashed, with the algorithm the prior hashes name; at most one
		// side is remote, so the two share no connection state.
		var destDiags diag.Diagnostics
		listed := make(chan struct{})
		go func() {
			defer close(listed)
			dest, destDiags = r.destManifest(ctx, cn, c, algo)
		}()
		src, diags = r.sourceManifest(ctx, cn, c, algo, true)
		<-listed
		resp.Diagnostics.Append(destDiags...)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() {
			return
		}
		diags = nil
		if c.Ends.Dst.Remote && dest.Mode == tree.Content && dest.Algo != src.Algo {
			// The server chose other digests than the prior hashes named.
			src, diags = r.sourceManifest(ctx, cn, c, dest.Algo, true)
		}
	} else {
		connected := r.connectAhead(ctx, cn, c, dest != nil)
		src, diags = r.sourceManifest(ctx, cn, c, algo, true)
		connected()
	}
	resp.Diagnostics.Append(diags...)
	if src != nil && cn.overSFTP() {
		resp.Diagnostics.Append(sftpSpecials(src)...)
	}
	var srcHash string // hashed once: every decision below compares it
	if src != nil {
		srcHash = src.Hash()
	}
	if !refreshedHere {
		// Not in the walk whose refresh streamed its listing: there the
		// record is of the source walked ahead, and a source edited
		// since is this plan's to show, not a stale plan.
		resp.Diagnostics.Append(r.checkSourceSincePlan(ctx, req.Private, c, srcHash)...)
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateSourceAtRefresh, nil)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if emptyDest {
		dest = &tree.Manifest{Mode: manifestMode(c.Drift), Algo: src.Algo}
	}
	if dest != nil && !c.Ends.Dst.Remote && dest.Mode == tree.Content && dest.Algo != src.Algo {
		// A pulled source's digests are its server's: hash the local
		// destination the same way.
		dest, diags = r.destManifest(ctx, cn, c, src.Algo)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	resp.Diagnostics.Append(unreadableWarning(c, dest)...)
	var diff *tree.Changes
	var pairs *tree.Pairing // src and dest by name, for every comparison below
	if dest != nil {
		pairs = tree.Pair(src, dest)
		// A remote destination is written by the stock rsync, which keeps
		// u+rwx on its directories when it does not run as root; whether
		// it does is not known here, so such a directory counts as the
		// same whoever the receiver is (the one thing a root receiver's
		// plan then misses: u+rwx added by hand to such a directory). Our
		// own receiver sets the source's mode.
		d := pairs.Diff(tree.DiffOptions{Delete: c.Delete, OwnerDirPerms: c.Ends.Dst.Remote})
		d.Delete, diags = unprotected(d.Delete, c)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() {
			return
		}
		diff = &d
	}
	if tmps := leftoverTemps(pairs); len(tmps) > 0 && !c.Delete {
		resp.Diagnostics.AddAttributeWarning(path.Root("destination"), "Temporary files of an interrupted rsync",
			fmt.Sprintf("The destination holds what look like temporary files of an rsync that was killed in the middle "+
				"of a file, before it could remove them (rsync writes .NAME.XXXXXX beside NAME and renames it when "+
				"complete): %s. They are not part of the source, and with delete = false nothing removes them: "+
				"delete them on the server, or apply once with delete = true.", firstPaths(tmps, 10)))
	}
	var drifted driftResult
	if diff != nil && priorExists {
		b, ok := r.priorBaseline(ctx, req.Private)
		drifted = attributeDrift(driftInput{Diff: *diff, Src: src, SrcHash: srcHash, Dst: dest, Baseline: b, HasBaseline: ok, PriorSourceHash: prior.SourceHash})
	}
	var rp *releasePlan
	if c.Release != nil {
		resp.Diagnostics.Append(sharedInSource(c)...)
		if resp.Diagnostics.HasError() {
			return
		}
		p := planRelease(c, priorExists, srcHash)
		rp = &p
		resp.Diagnostics.Append(r.checkPruneLimit(ctx, cn, c, p.Prune, "so the plan stops here")...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	out, work := planComputed(planInput{
		Prior:          computedOf(prior),
		PriorExists:    priorExists,
		SourceHash:     srcHash,
		Diff:           pendingIfDiffed(diff),
		ListingChanged: listingChanged,
		Resync:         priorExists && (ownershipChanged(prior, plan) || (rp != nil && rp.Work)),
		Drift:          c.Drift,
		Drifted:        drifted,
	})
	if work && diff != nil && tooManyDeletions(&resp.Diagnostics, c, len(diff.Delete), diff.Delete) {
		return
	}
	if summary, detail := driftWarning(drifted, countChanges(diff)); work && summary != "" {
		resp.Diagnostics.AddAttributeWarning(path.Root("drift"), summary, detail)
	}
	// Files rsync's quick check cannot see (same size and time, other
	// content) need a checksum sync, or the apply would leave them and the
	// plan would never settle. The apply learns it from private state.
	blind := quickCheckBlind(pairs)
	if work && diff != nil && cn.overSFTP() {
		// Whole files: what the apply sends is the changed files' sizes,
		// which pending already lists; there are no block checksums to ask.
		out.Pending = pendingValue(pendingOf(*diff), nil)
	} else if work && diff != nil {
		est, d := r.plannedEstimate(ctx, cn, c, req.Private, listingFrom, estimateInput{
			Diff: diff, Pairs: pairs, SrcHash: srcHash, Drift: drifted.Paths,
			ByChecksum: c.Checksum || len(blind) > 0,
		})
		resp.Diagnostics.Append(d...)
		out.Pending = pendingValue(pendingOf(*diff), est)
	}
	if work {
		r.keepBaseline(ctx, c, srcHash, newBaseline(src, srcHash, c.Drift == driftMetadata).encode(), diff != nil)
	}
	forceChecksum(ctx, resp, c, work, blind[:min(len(blind), 10)], len(blind))
	r.setComputed(ctx, resp, out)
	setReleaseComputed(ctx, resp, &c, rp, work, prior)
}

// tooManyDeletions adds the plan's refusal to diags when c's sync would
// delete n paths (paths: the first of them), more than max_delete
// allows, and reports whether it did.
func tooManyDeletions(diags *diag.Diagnostics, c syncConfig, n int, paths []string) bool {
	if !c.Delete || c.MaxDelete == nil || int64(n) <= *c.MaxDelete {
		return false
	}
	diags.AddAttributeError(path.Root("max_delete"), "Too many deletions",
		strings.Replace(maxDeleteError(n, *c.MaxDelete, paths[:min(len(paths), 10)]), "so nothing was changed", "so the plan stops here", 1))
	return true
}

// keepBaseline hands the apply what it will leave (encoded, the baseline
// of the source hashing to srcHash), for the next plan to tell drift
// apart; the apply keeps it only if it succeeds.
func (r *directoryResource) keepBaseline(ctx context.Context, c syncConfig, srcHash string, encoded []byte, diffKnown bool) {
	r.settings.baselines.put(r.destKey(c), encoded)
	tflog.Info(ctx, "rsync_directory has changes to sync", map[string]interface{}{
		"destination": c.Ends.Dst.Raw, "source_hash": srcHash, "diff_known": diffKnown,
	})
}

// forceChecksum tells the apply, in private state, to compare by checksum
// when a plan with work found files rsync's quick check cannot see (the
// first of them, of total): same size and time, other content.
func forceChecksum(ctx context.Context, resp *resource.ModifyPlanResponse, c syncConfig, work bool, first []string, total int) {
	var force []byte
	if work && total > 0 && !c.Checksum {
		tflog.Info(ctx, "some files differ only in content; the apply compares by checksum", map[string]interface{}{
			"files": firstPathsOf(first, total),
		})
		force = []byte("true")
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateForceChecksum, force)...)
}

// connectAhead connects to a push's destination while the source is
// hashed, when the plan needs no listing (it has refresh's) and there is a
// prior sync (so the host has been reached before): the apply that follows
// in this process — the apply walk's — then finds the pooled connection
// open instead of dialing after the hash. In the plan walk refresh's
// connection is still open and this costs nothing. A failure is left for
// the apply to report. The returned function waits for it; nothing else
// uses cn meanwhile (the source is local).
func (r *directoryResource) connectAhead(ctx context.Context, cn *conn, c syncConfig, update bool) (wait func()) {
	if !update || c.Ends.Dir != dirPush {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, d := cn.transport(ctx); d.HasError() {
			tflog.Debug(ctx, "could not connect ahead of the apply; the apply connects itself", map[string]interface{}{"destination": c.Ends.Dst.Raw})
		}
	}()
	return func() { <-done }
}

func firstPaths(paths []string, n int) string {
	return firstPathsOf(paths[:min(n, len(paths))], len(paths))
}

// firstPathsOf is firstPaths of a list of total paths of which first are
// the first.
func firstPathsOf(first []string, total int) string {
	if total <= len(first) {
		return strings.Join(first, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(first, ", "), total-len(first))
}

func computedOf(m directoryModel) computedValues {
	return computedValues{SourceHash: m.SourceHash, DestinationHash: m.DestinationHash, Pending: m.Pending, Drift: m.Drift, LastSync: m.LastSync}
}

func (r *directoryResource) setComputed(ctx context.Context, resp *resource.ModifyPlanResponse, v computedValues) {
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("source_hash"), v.SourceHash)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("destination_hash"), v.DestinationHash)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("pending"), v.Pending)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("drift"), v.Drift)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("last_sync"), v.LastSync)...)
}

// checkSource returns an error saying what to fix when source cannot be
// read.
func checkSource(source string) error {
	_, err := os.Stat(source)
	if err == nil {
		return nil
	}
	where := fmt.Sprintf("%q", source)
	if abs, aerr := filepath.Abs(source); aerr == nil && abs != strings.TrimSuffix(source, "/") {
		where = fmt.Sprintf("%q (%s)", source, abs)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("source %s does not exist. Set source to an existing local directory "+
			"(relative paths are relative to the directory Terraform runs in; \"${path.module}/dir/\" avoids that): "+
			"\"dir/\" copies its contents, \"dir\" the directory itself", where)
	case strings.HasSuffix(source, "/") && isNotDir(err):
		return fmt.Errorf("source %s is not a directory, but ends in \"/\"; remove the trailing slash to copy a single file", where)
	}
	return fmt.Errorf("source %s cannot be read: %w. Check that it exists and that Terraform may read it", where, err)
}

func isNotDir(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "not a directory")
}

func sourceDiagnostics(source string) diag.Diagnostics {
	var diags diag.Diagnostics
	if err := checkSource(source); err != nil {
		diags.AddAttributeError(path.Root("source"), "Source not found", err.Error()+".")
	}
	return diags
}

// priorBaseline is the baseline the last successful apply kept.
func (r *directoryResource) priorBaseline(ctx context.Context, private interface {
	GetKey(context.Context, string) ([]byte, diag.Diagnostics)
}) (baseline, bool) {
	data, d := private.GetKey(ctx, privateBaseline)
	if d.HasError() {
		return baseline{}, false
	}
	return decodeBaseline(data)
}

func countChanges(c *tree.Changes) int {
	if c == nil {
		return 0
	}
	return len(c.Create) + len(c.Update) + len(c.Delete)
}
