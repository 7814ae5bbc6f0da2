package provider

// Create and Update: the apply, which runs the engine and records what it did.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

func (r *directoryResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan directoryModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	defer r.forgetSourcesAfterWrite(ctx, plan)
	resp.Diagnostics.Append(r.apply(ctx, &plan, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(keepBaseline(ctx, r.plannedBaseline(ctx, plan), plan, resp.Private)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *directoryResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan directoryModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	defer r.forgetSourcesAfterWrite(ctx, plan)
	if !plan.LastSync.IsUnknown() {
		// The plan found nothing to sync (only settings changed): record
		// them, as planned.
		plan.ID = plan.Destination
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	force, d := req.Private.GetKey(ctx, privateForceChecksum)
	resp.Diagnostics.Append(d...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateForceChecksum, nil)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privatePlannedBaseline, nil)...)
	resp.Diagnostics.Append(r.apply(ctx, &plan, string(force) == "true")...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(keepBaseline(ctx, r.plannedBaseline(ctx, plan), plan, resp.Private)...)
	// The listing refresh saved for this apply's re-plan is used up.
	listing, d := req.Private.GetKey(ctx, privateListing)
	resp.Diagnostics.Append(d...)
	r.settings.listings.remove(listing)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateListing, nil)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// apply syncs and fills in the computed values the plan left unknown;
// known planned values are kept as planned. forceChecksum compares by content for this sync even without checksum.
func (r *directoryResource) apply(ctx context.Context, m *directoryModel, forceChecksum bool) diag.Diagnostics {
	var diags diag.Diagnostics
	c, d := syncConfigOf(ctx, *m)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	if forceChecksum && !c.Checksum {
		tflog.Info(ctx, "comparing by checksum for this apply: the plan found files that differ only in content")
		c.Checksum = true
	}
	if c.Parallel == 0 {
		c.Parallel = parallelFor(m.Pending)
	}
	if _, remote := c.Ends.remote(); remote && c.SourceKnown {
		// The plan refuses what SFTP cannot do when it reaches the host;
		// a plan that could not (the host did not answer yet) is checked
		// here, before anything changes.
		cn := r.newConn(c)
		sftp, d := cn.useSFTP(ctx)
		cn.close()
		diags.Append(d...)
		if sftp {
			diags.Append(sftpRefusals(c)...)
		}
		if diags.HasError() {
			return diags
		}
	}
	if c.Release != nil {
		diags.Append(r.applyRelease(ctx, m, c, forceChecksum)...)
		return diags
	}
	if m.CurrentRelease.IsUnknown() || m.Releases.IsUnknown() { // planned before the configuration was known
		m.CurrentRelease, m.Releases = types.StringNull(), types.ListNull(types.StringType)
	}
	cn := r.newConn(c)
	defer cn.close()

	res, d := r.sync(ctx, cn, c)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	m.ID = m.Destination
	m.LastSync = lastSyncValue(res.Stats)
	if m.Pending.IsUnknown() {
		// The plan could not list it; after the apply nothing is pending.
		m.Pending = pendingValue(pendingOf(tree.Changes{}), nil)
	}
	if m.Drift.IsUnknown() {
		m.Drift = driftValue(nil)
	}
	var dest *tree.Manifest
	if m.DestinationHash.IsUnknown() {
		if c.Drift == driftNone {
			m.DestinationHash = types.StringNull()
		} else if mirrored(c, res, m.SourceHash) {
			// The destination now holds exactly the source as planned:
			// its listing would hash to source_hash, so it is not read
			// again (the next refresh does).
			m.DestinationHash = m.SourceHash
			r.settings.manifests.drop(r.destKey(c))
			tflog.Debug(ctx, "destination_hash is the source's: the sync mirrored it", map[string]interface{}{"destination": c.Ends.Dst.Raw})
		} else if ls := r.hashDestStreamed(ctx, cn, c); ls.whole {
			// Hashed as it arrived: a large tree's listing is not held,
			// and one listed before the sync is not this tree.
			m.DestinationHash = types.StringValue(ls.hash)
			r.settings.manifests.drop(r.destKey(c))
			dest = &tree.Manifest{Mode: manifestMode(c.Drift), Algo: ls.algo} // for contentAlgo below
		} else {
			dest, d = r.destManifest(ctx, cn, c, contentAlgo(nil, types.StringNull(), m.SourceHash))
			diags.Append(d...)
			if diags.HasError() {
				return diags
			}
			m.DestinationHash = types.StringValue(dest.Hash())
		}
	}
	if m.SourceHash.IsUnknown() {
		src, d := r.sourceManifest(ctx, cn, c, contentAlgo(dest, types.StringNull(), types.StringNull()), false)
		diags.Append(d...)
		if diags.HasError() {
			return diags
		}
		m.SourceHash = types.StringValue(src.Hash())
	}
	return diags
}

// mirrored reports whether a sync that ended with res left the
// destination's tree equal to the source's as sourceHash describes it, so
// that destination_hash is sourceHash: with delete = true and nothing
// protected, what the filters leave of the destination is what they leave
// of the source (excluded paths are neither listed nor deleted; chmod is in
// sourceHash as in the files written), and the sync reported no warning
// (a vanished or unreadable file). The digests must be the ones a listing
// of the destination would use: the server's choice, which the sync just
// negotiated with the same server. Content drift detection only: a
// metadata hash is not the source's.
func mirrored(c syncConfig, res *rsync.Result, sourceHash types.String) bool {
	if !c.Delete || len(c.Filters.Protect) > 0 || c.Drift != driftChecksum || !c.SourceKnown ||
		len(res.Warnings) > 0 || !known(sourceHash) {
		return false
	}
	algo, ok := tree.AlgoOfHash(sourceHash.ValueString())
	if !ok {
		return false
	}
	return !c.Ends.Dst.Remote || algo.Name() == res.Checksum
}

// engineOptions maps the configuration to the engine's options.
func (r *directoryResource) engineOptions(ctx context.Context, c syncConfig) rsync.Options {
	inc, exc := c.Filters.engineFilters()
	opts := rsync.Options{
		RsyncPath: r.rsyncPath(c),
		Delete:    c.Delete,
		Checksum:  c.Checksum,
		Compress:  c.Compress,
		Include:   inc,
		Exclude:   exc,
		Protect:   c.Filters.Protect,
		Chmod:     c.Chmod,
		Owner:     c.Owner,
		Group:     c.Group,
		Logger:    newEngineLogger(ctx),
		LinkDest:  c.LinkDest,
		Parallel:  c.Parallel,
	}
	c.Filters.Fidelity.engineOptions(&opts)
	return opts
}

// maxParallel is the largest parallel setting: sshd's MaxSessions is 10
// by default, and the provider may hold a session of its own beside a
// push's.
const maxParallel = 8

// parallelFor is the automatic parallel setting (parallel unset): from the
// plan's pending counts, as rsync.ParallelFor says; without counts (the
// plan could not list the destination) the most, which the engine lowers
// to one session for a tree of fewer than 2,000 entries.
func parallelFor(pending types.Object) int {
	if pending.IsNull() || pending.IsUnknown() {
		return rsync.MaxParallel
	}
	n := 0
	for _, k := range []string{"create_count", "update_count", "delete_count"} {
		v, ok := pending.Attributes()[k].(types.Int64)
		if !ok || v.IsNull() || v.IsUnknown() {
			return rsync.MaxParallel
		}
		n += int(v.ValueInt64())
	}
	return rsync.ParallelFor(n)
}

// run runs one transfer in the configured direction.
func (r *directoryResource) run(ctx context.Context, cn *conn, c syncConfig, opts rsync.Options) (*rsync.Result, diag.Diagnostics) {
	var diags diag.Diagnostics
	var res *rsync.Result
	var err error
	src, dst := c.Ends.Src.Path(), c.transferDest()
	switch c.Ends.Dir {
	case dirLocal:
		res, err = rsync.Local(ctx, src, localDestDir(dst), opts)
	default:
		t, d := cn.transport(ctx)
		diags.Append(d...)
		if diags.HasError() {
			return nil, diags
		}
		sftp, d := cn.useSFTP(ctx)
		diags.Append(d...)
		if diags.HasError() {
			return nil, diags
		}
		switch {
		case sftp:
			s, d := cn.sftpSession(ctx)
			diags.Append(d...)
			if diags.HasError() {
				return nil, diags
			}
			if c.Ends.Dir == dirPush {
				src, dst = pushTarget(src, dst)
				res, err = s.Push(ctx, src, dst, opts)
			} else {
				res, err = s.Pull(ctx, pushDestPath(src), localDestDir(dst), opts)
			}
		case c.Ends.Dir == dirPush:
			src, dst = pushTarget(src, dst)
			res, err = rsync.Push(ctx, t, src, dst, opts)
		default:
			res, err = rsync.Pull(ctx, t, pushDestPath(src), localDestDir(dst), opts)
		}
	}
	if err != nil {
		verb := map[direction]string{dirPush: "Push", dirPull: "Pull", dirLocal: "Copy"}[c.Ends.Dir]
		what := "dry run"
		if !opts.DryRun {
			what = strings.ToLower(verb)
		}
		attr := "destination"
		if c.Ends.Dir == dirPull {
			attr = "source"
		}
		diags.AddAttributeError(path.Root(attr), verb+" failed",
			fmt.Sprintf("The %s of %s to %s failed: %s.\n\n%s", what, c.Ends.Src.Raw, c.Ends.Dst.Raw, safeText(err.Error()),
				r.hint(c, err, opTransfer)))
		return nil, diags
	}
	for _, w := range res.Warnings {
		diags.AddAttributeWarning(path.Root("destination"), "Warning from rsync", safeText(w))
	}
	return res, diags
}

// localDestDir is a local destination as the engine takes it: always a
// directory ("dest/"), so that a single-file source lands inside it, as in
// a push and where Read looks for it (rsync writes `rsync file dest` as the
// file dest itself when dest is not a directory yet; `rsync file dest/`
// puts it inside). A directory source lands the same either way.
func localDestDir(dst string) string {
	if strings.HasSuffix(dst, "/") {
		return dst
	}
	return dst + "/"
}

// sync runs the transfer: a dry run first when max_delete must be
// checked, then the real one; every itemized change is logged at INFO.
func (r *directoryResource) sync(ctx context.Context, cn *conn, c syncConfig) (*rsync.Result, diag.Diagnostics) {
	var diags diag.Diagnostics
	if !c.Ends.Src.Remote {
		diags.Append(sourceDiagnostics(c.Ends.Src.Path())...)
		if diags.HasError() {
			return nil, diags
		}
	}
	if c.Delete && !c.AllowDeleteRoot && c.SourceKnown {
		if err := deleteRootError(c.root(), c.Ends.Dst.Remote, c.Ends.Dst.Raw); err != nil {
			diags.AddAttributeError(path.Root("delete"), "Refusing to delete in the destination root", err.Error())
			return nil, diags
		}
	}
	ctx = tflog.SetField(ctx, "destination", c.Ends.Dst.Raw)
	opts := r.engineOptions(ctx, c)
	if c.Ends.Dir == dirPush {
		// One source pushed to many hosts: the pushes list it once.
		opts.SourceReadings = r.settings.sources.sourceReadings(c.Ends.Src.Path(), c.Filters)
	}
	if c.Delete && c.MaxDelete != nil {
		dry := opts
		dry.DryRun = true
		counted := newChangeTally(ctx, false)
		dry.OnChange = counted.add
		res, d := r.run(ctx, cn, c, dry)
		diags.Append(d...)
		if diags.HasError() {
			return nil, diags
		}
		counted.addAll(res.Changes)
		n, first := counted.deleted, counted.firstDeleted
		if deletionsUnreported(c, res) {
			n, first, d = r.listedDeletions(ctx, cn, c)
			diags.Append(d...)
			if diags.HasError() {
				return nil, diags
			}
		}
		if int64(n) > *c.MaxDelete {
			diags.AddAttributeError(path.Root("max_delete"), "Too many deletions", maxDeleteError(n, *c.MaxDelete, first))
			return nil, diags
		}
	}
	diags.Append(r.mkpath(ctx, cn, c, c.transferDest())...)
	if diags.HasError() {
		return nil, diags
	}
	tflog.Info(ctx, "syncing", map[string]interface{}{"source": c.Ends.Src.Raw, "direction": c.Ends.Dir.String()})
	started := time.Now()
	// A line per change only when Terraform keeps it (see keptLogLevel):
	// formatting 300,000 lines nobody reads is seconds of CPU on each side.
	tally := newChangeTally(ctx, keptLogLevel(os.Getenv) <= hclog.Info)
	opts.OnChange = tally.add
	res, d := r.run(ctx, cn, c, opts)
	diags.Append(d...)
	if diags.HasError() {
		return nil, diags
	}
	tally.addAll(res.Changes)
	res.Changes = nil
	tflog.Info(ctx, syncSummary(c, res, tally, time.Since(started)), map[string]interface{}{
		"protocol": res.Protocol, "checksum": res.Checksum, "compression": res.Compression,
		"files": res.Stats.FilesTotal, "transferred": res.Stats.FilesTransferred, "deleted": res.Stats.Deleted,
		"bytes_sent": res.Stats.BytesSent, "bytes_received": res.Stats.BytesReceived,
		"literal_bytes": res.Stats.LiteralBytes, "matched_bytes": res.Stats.MatchedBytes, "changes": tally.total(),
		"sessions": res.Sessions,
	})
	return res, diags
}

// plannedBaseline is the baseline the plan of m left in this process
// (plannedBaselines), nil when there is none.
func (r *directoryResource) plannedBaseline(ctx context.Context, m directoryModel) []byte {
	c, d := syncConfigOf(ctx, m)
	if d.HasError() {
		return nil
	}
	return r.settings.baselines.take(r.destKey(c))
}

// keepBaseline records in private state what a successful apply left in
// the destination (the planned baseline, with the destination_hash the
// apply recorded), for the next plan to tell drift apart. A baseline
// planned for another source than the one applied is dropped.
func keepBaseline(ctx context.Context, planned []byte, m directoryModel, private interface {
	SetKey(context.Context, string, []byte) diag.Diagnostics
}) diag.Diagnostics {
	b, ok := decodeBaseline(planned)
	if !ok || !known(m.SourceHash) || b.Hash != m.SourceHash.ValueString() {
		return private.SetKey(ctx, privateBaseline, nil)
	}
	if known(m.DestinationHash) {
		b.Dest = m.DestinationHash.ValueString()
	}
	return private.SetKey(ctx, privateBaseline, b.encode())
}

// syncSummary is the line that ends an apply's log: what changed, how much
// moved, how long it took.
func syncSummary(c syncConfig, res *rsync.Result, t *changeTally, took time.Duration) string {
	return fmt.Sprintf("synced %s to %s: %d created, %d updated, %d deleted; %d files sent (%d bytes of file data, %d matched), in %s",
		c.Ends.Src.Raw, c.Ends.Dst.Raw, t.created, t.updated, t.deleted, res.Stats.FilesTransferred,
		res.Stats.LiteralBytes, res.Stats.MatchedBytes, took.Round(time.Millisecond))
}
