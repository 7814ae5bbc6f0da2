package provider

// Read, apply and delete of a release deploy (issue 14).

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/release"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// site is the app root of c's destination.
func (r *directoryResource) site(ctx context.Context, cn *conn, c syncConfig) (site, diag.Diagnostics) {
	rc := c.Release
	if !c.Ends.Dst.Remote {
		root := c.appRoot()
		if root == "" {
			root = "."
		}
		return &localSite{root: root, dir: rc.Dir, link: rc.Link,
			opts: rsync.Options{Chmod: c.Chmod, Owner: c.Owner, Group: c.Group}}, nil
	}
	t, diags := cn.transport(ctx)
	if diags.HasError() {
		return nil, diags
	}
	mode, chmodOK, err := rsync.ParentMode(c.Chmod)
	if err != nil {
		diags.AddAttributeError(path.Root("chmod"), "Invalid chmod", err.Error())
		return nil, diags
	}
	return &remoteSite{t: t, root: c.appRoot(), dir: rc.Dir, link: rc.Link, rsyncPath: r.rsyncPath(c),
		opts: r.engineOptions(ctx, c), mode: mode, chmodOK: chmodOK}, diags
}

// siteError is a failed operation on the app root, as a diagnostic.
func siteError(c syncConfig, what string, err error) diag.Diagnostics {
	var diags diag.Diagnostics
	where := c.Ends.Dst.Raw
	diags.AddAttributeError(path.Root("release"), "Release: cannot "+what,
		fmt.Sprintf("Could not %s in %s: %s. Check that the SSH user (or rsync_path's prefix, such as sudo) may read and "+
			"write the destination, and that the server has a POSIX shell and rsync 3.1.0 or later.", what, where, safeText(err.Error())))
	return diags
}

// readSite reads the app root into c.Release (Current and Releases).
func readSite(ctx context.Context, s site, c syncConfig) (siteState, diag.Diagnostics) {
	st, err := s.inspect(ctx)
	if err != nil {
		return st, siteError(c, "read the releases", err)
	}
	c.Release.Current = st.current(c.Release.Dir, c.appRoot())
	c.Release.Releases = release.Order(st.Present, st.History)
	return st, nil
}

// releaseStateForPlan fills in what the app root holds: from the prior
// state when it was read with the same release block, else (the state
// comes from an import, or the release block was just added) by reading
// the app root now. A create reads nothing: its apply does.
func (r *directoryResource) releaseStateForPlan(ctx context.Context, cn *conn, c *syncConfig, prior directoryModel, priorExists bool) diag.Diagnostics {
	var diags diag.Diagnostics
	if c.Release == nil || !priorExists {
		return diags
	}
	c.Release.Current, c.Release.Releases = "", nil
	if pr := prior.Release; pr != nil && !prior.Releases.IsUnknown() &&
		pr.Dir.ValueString() == c.Release.Dir && pr.Link.ValueString() == c.Release.Link {
		if known(prior.CurrentRelease) {
			c.Release.Current = prior.CurrentRelease.ValueString()
		}
		if !prior.Releases.IsNull() {
			diags.Append(prior.Releases.ElementsAs(ctx, &c.Release.Releases, false)...)
		}
		return diags
	}
	s, d := r.site(ctx, cn, *c)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	_, d = readSite(ctx, s, *c)
	diags.Append(d...)
	return diags
}

// readRelease is Read for a release deploy: the app root's link and
// releases, and the listing of the release the link points to. The
// resource leaves the state only when the app root is gone.
func (r *directoryResource) readRelease(ctx context.Context, resp *resource.ReadResponse, state directoryModel, c syncConfig) {
	cn := r.newConn(c)
	defer cn.close()
	s, d := r.site(ctx, cn, c)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	st, d := readSite(ctx, s, c)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !st.Exists {
		tflog.Warn(ctx, "the app root is gone from the destination; removing rsync_directory from state",
			map[string]interface{}{"destination": state.Destination.ValueString()})
		r.settings.manifests.drop(r.destKey(c))
		resp.State.RemoveResource(ctx)
		return
	}
	rc := c.Release
	if rc.Current == "" {
		tflog.Info(ctx, "the release link points to no kept release", map[string]interface{}{
			"link": rc.Link, "target": st.LinkTarget, "releases": rc.Releases,
		})
		state.CurrentRelease = types.StringNull()
	} else {
		state.CurrentRelease = types.StringValue(rc.Current)
	}
	state.Releases = stringList(append([]string{}, rc.Releases...))
	var ref []byte
	switch {
	case c.Drift == driftNone:
	case rc.Current == "":
		state.DestinationHash = types.StringNull()
	default:
		listing, d := r.destManifest(ctx, cn, c, contentAlgo(nil, state.DestinationHash, state.SourceHash))
		resp.Diagnostics.Append(d...)
		if resp.Diagnostics.HasError() {
			return
		}
		state.DestinationHash = types.StringValue(listing.Hash())
		var err error
		if ref, err = r.settings.listings.save(ctx, r.destKey(c), listing); err != nil {
			tflog.Debug(ctx, "could not keep the listing for the apply's re-plan; it will list again", map[string]interface{}{"error": err.Error()})
		}
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateListing, ref)...)
	if !known(state.ID) {
		state.ID = state.Destination
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// applyRelease is the apply of a release deploy: read the app root; build
// the target release (in place when it exists — a rollback, or a repair of
// the current one — else under a partial name with --link-dest to the
// kept releases, renamed when complete); link the shared paths; switch the
// link to it in one rename; prune beyond keep. A failure before the switch
// leaves the link where it was.
func (r *directoryResource) applyRelease(ctx context.Context, m *directoryModel, c syncConfig, forceChecksum bool) diag.Diagnostics {
	var diags diag.Diagnostics
	rc := c.Release
	cn := r.newConn(c)
	defer cn.close()
	diags.Append(r.mkpath(ctx, cn, c, c.appRoot())...)
	if diags.HasError() {
		return diags
	}
	c.MkPath = false
	s, d := r.site(ctx, cn, c)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	st, d := readSite(ctx, s, c)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	if st.NotLink {
		diags.AddAttributeError(path.Root("release"), "Release link name is taken",
			fmt.Sprintf("%s/%s exists and is not a symlink, so it cannot be pointed at a release. Move it away, or set release.link "+
				"to another name.", strings.TrimSuffix(c.Ends.Dst.Raw, "/"), rc.Link))
		return diags
	}
	if !known(m.SourceHash) {
		src, d := r.sourceManifest(ctx, cn, c, contentAlgo(nil, types.StringNull(), types.StringNull()), false)
		diags.Append(d...)
		if diags.HasError() {
			return diags
		}
		m.SourceHash = types.StringValue(src.Hash())
	}
	target := rc.targetID(m.SourceHash.ValueString(), c.Owner, c.Group)
	kept, prune := release.Next(rc.Releases, target, rc.Keep)
	diags.Append(pruneLimit(ctx, s, c, prune, "so nothing was changed")...)
	if diags.HasError() {
		return diags
	}
	if err := s.prepare(ctx); err != nil {
		return siteError(c, "prepare the releases directory", err)
	}
	exists := false
	for _, id := range st.Present {
		exists = exists || id == target
	}
	build, partial := target, ""
	if !exists {
		partial = release.PartialPrefix + target
		build = partial
		// Whatever a build directory holds that the source does not is
		// left from an interrupted build (rsync's temporary files after a
		// kill): it goes. That is no deletion from the deployed tree, so
		// max_delete (which counted the pruning) does not apply to it.
		c.Delete, c.MaxDelete = true, nil
	}
	c.TransferDir = c.releasePath(build)
	c.LinkDest = release.LinkDests(rc.Releases, rc.Current, target, rsync.MaxLinkDest)
	if forceChecksum || (exists && target != rc.Current) {
		// A kept release made current again holds the content already:
		// compared by content, files whose times differ get their times
		// set in place (same inode) and no data is sent.
		c.Checksum = true
	}
	relRoot, depth := rc.Dir+"/"+build, 2
	if prefix := c.releaseRoot(build).Prefix; prefix != "" {
		relRoot, depth = relRoot+"/"+prefix, 3
	}
	if err := s.linkShared(ctx, relRoot, depth, rc.Shared); err != nil {
		return siteError(c, "link the shared paths into release "+target, err)
	}
	tflog.Info(ctx, "building release", map[string]interface{}{
		"release": target, "into": c.TransferDir, "link_dest": c.LinkDest, "current": rc.Current, "exists": exists,
	})
	res, d := r.sync(ctx, cn, c)
	diags.Append(d...)
	if diags.HasError() {
		where := "points to no release yet"
		if rc.Current != "" {
			where = "still points to release " + rc.Current + ", complete and untouched"
		}
		diags.AddAttributeWarning(path.Root("release"), "Release "+target+" was not made current",
			fmt.Sprintf("The build of release %s failed, so %s %s. The next apply continues the build and then switches.",
				target, rc.Link, where))
		return diags
	}
	if err := s.finish(ctx, partial, target); err != nil {
		return siteError(c, "finish release "+target, err)
	}
	if rc.Current != target || st.LinkTarget != release.LinkTarget(rc.Dir, target) {
		if err := s.switchTo(ctx, target); err != nil {
			return siteError(c, "point "+rc.Link+" at release "+target, err)
		}
		tflog.Info(ctx, "switched release", map[string]interface{}{"link": rc.Link, "from": rc.Current, "to": target})
	}
	if err := s.prune(ctx, kept, prune); err != nil {
		return siteError(c, "remove old releases", err)
	}
	if len(prune) > 0 {
		tflog.Info(ctx, "removed old releases", map[string]interface{}{"removed": prune, "kept": kept})
	}
	rc.Current, rc.Releases = target, kept
	c.TransferDir, c.LinkDest = "", nil
	m.ID = m.Destination
	m.LastSync = lastSyncValue(res.Stats)
	if m.Pending.IsUnknown() {
		// The plan could not list it; after the apply nothing is pending.
		m.Pending = pendingValue(pendingOf(tree.Changes{}), nil)
	}
	if m.Drift.IsUnknown() {
		m.Drift = driftValue(nil)
	}
	m.CurrentRelease = types.StringValue(target)
	m.Releases = stringList(kept)
	if m.DestinationHash.IsUnknown() {
		diags.Append(r.releaseDestHash(ctx, cn, m, c, res, partial != "")...)
	}
	return diags
}

// releaseDestHash sets destination_hash after an apply: the source's hash
// when the release was built fresh (it holds exactly the source; the
// shared links are excluded from listings) with the digests a listing
// would use, else what a listing of the new current release gives.
func (r *directoryResource) releaseDestHash(ctx context.Context, cn *conn, m *directoryModel, c syncConfig, res *rsync.Result, fresh bool) diag.Diagnostics {
	var diags diag.Diagnostics
	if c.Drift == driftNone {
		m.DestinationHash = types.StringNull()
		return diags
	}
	if algo, ok := tree.AlgoOfHash(m.SourceHash.ValueString()); fresh && ok && c.Drift == driftChecksum && len(res.Warnings) == 0 &&
		(!c.Ends.Dst.Remote || algo.Name() == res.Checksum) {
		m.DestinationHash = m.SourceHash
		r.settings.manifests.drop(r.destKey(c))
		return diags
	}
	dest, d := r.destManifest(ctx, cn, c, contentAlgo(nil, types.StringNull(), m.SourceHash))
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	m.DestinationHash = types.StringValue(dest.Hash())
	return diags
}

// checkPruneLimit is the plan's max_delete check of the releases it would
// prune (a remote command counts their files).
func (r *directoryResource) checkPruneLimit(ctx context.Context, cn *conn, c syncConfig, prune []string, outcome string) diag.Diagnostics {
	if c.MaxDelete == nil || len(prune) == 0 {
		return nil
	}
	s, diags := r.site(ctx, cn, c)
	if diags.HasError() {
		return diags
	}
	return pruneLimit(ctx, s, c, prune, outcome)
}

// pruneLimit fails when removing the releases prune would delete more
// files and directories than max_delete allows; outcome says what that
// stopped.
func pruneLimit(ctx context.Context, s site, c syncConfig, prune []string, outcome string) diag.Diagnostics {
	var diags diag.Diagnostics
	if c.MaxDelete == nil || len(prune) == 0 {
		return diags
	}
	n, err := s.count(ctx, prune)
	if err != nil {
		return siteError(c, "count the files of the releases to remove", err)
	}
	if int64(n) > *c.MaxDelete {
		diags.AddAttributeError(path.Root("max_delete"), "Too many deletions",
			fmt.Sprintf("Removing the releases beyond keep = %d (%s) would delete %d files and directories, more than "+
				"max_delete = %d allows, %s. Raise max_delete or keep.", c.Release.Keep, strings.Join(prune, ", "), n, *c.MaxDelete, outcome))
	}
	return diags
}

// deleteRelease is on_destroy = "delete" for a release deploy: the link
// and the releases go, DEST/shared stays.
func (r *directoryResource) deleteRelease(ctx context.Context, resp *resource.DeleteResponse, c syncConfig) {
	cn := r.newConn(c)
	defer cn.close()
	s, d := r.site(ctx, cn, c)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	tflog.Info(ctx, "deleting the releases and the link (on_destroy = \"delete\"); shared paths stay", map[string]interface{}{
		"destination": c.Ends.Dst.Raw,
	})
	if err := s.destroy(ctx); err != nil {
		resp.Diagnostics.Append(siteError(c, "delete the releases", err)...)
	}
}
