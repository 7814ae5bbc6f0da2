package provider

// Read: refresh, which lists the destination so server edits show as drift.

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// Read checks that the copied tree still exists (it is removed from state
// when it is gone, so the next plan creates it again) and, unless
// drift_detection = "none", reads it and sets destination_hash. The
// manifest is kept in this process for the ModifyPlan that follows.
func (r *directoryResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state directoryModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, diags := syncConfigOf(ctx, state)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	if c.Release != nil {
		r.readRelease(ctx, resp, state, c)
		return
	}
	cn := r.newConn(c)
	defer cn.close()
	root := c.root()
	// A refresh that streams the destination's listing leaves the
	// plan to merge the source with it as a stream: the source is
	// walked ahead into a spool, not a manifest (spoolSource).
	streams := c.Ends.Dst.Remote && r.streamsRefresh(ctx, c, req.Private)
	aheadDone := r.hashSourceAhead(ctx, cn, c, contentAlgo(nil, state.DestinationHash, state.SourceHash), streams)
	defer aheadDone()

	// The existence check and the listing run at once: over rsync in one
	// session (listIfExists), over SFTP as two requests on its session.
	// The listing's outcome only counts when the tree exists.
	var exists bool
	var listing *tree.Manifest
	var streamed *streamedListing // the listing written to the store as it came, instead
	var listDiags diag.Diagnostics
	listed := make(chan struct{})
	list := func() {
		defer close(listed)
		if c.Drift != driftNone {
			listing, listDiags = r.destManifest(ctx, cn, c, contentAlgo(nil, state.DestinationHash, state.SourceHash))
		}
	}
	if c.Ends.Dst.Remote {
		// The engine is chosen before the two run, so that they share it.
		ch, d := cn.engine(ctx)
		resp.Diagnostics.Append(d...)
		if resp.Diagnostics.HasError() {
			return
		}
		var err error
		if c.Drift != driftNone && !ch.SFTP {
			// Over rsync, one session does both (listIfExists), streamed
			// to the store when it can be.
			exists = true
			if streams {
				streamed, exists, listDiags, err = r.listIfExistsStreamed(ctx, cn, c)
			}
			if streamed == nil && exists && err == nil && !listDiags.HasError() {
				listing, exists, listDiags, err = r.listIfExists(ctx, cn, c)
			}
		} else {
			go list()
			exists, err = cn.exists(ctx, root.RemovePath)
			<-listed
		}
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("destination"), "Cannot check the destination",
				fmt.Sprintf("Could not check whether %s exists on %s: %v. Check that the user can run a shell "+
					"command on the host and can read the destination path.", root.RemovePath, c.Ends.Dst.Spec.Host, err))
			return
		}
	} else {
		var err error
		exists, err = localExists(root.RemovePath)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("destination"), "Cannot check the destination",
				fmt.Sprintf("Could not check whether %s exists: %v. Check that Terraform may read it.", root.RemovePath, err))
			return
		}
		if exists {
			list()
		}
	}
	if !exists {
		tflog.Warn(ctx, "the copied tree is gone from the destination; removing rsync_directory from state",
			map[string]interface{}{"destination": state.Destination.ValueString(), "path": root.RemovePath})
		r.settings.manifests.drop(r.destKey(c))
		resp.State.RemoveResource(ctx)
		return
	}
	var ref []byte
	if c.Drift != driftNone {
		resp.Diagnostics.Append(listDiags...)
		if resp.Diagnostics.HasError() {
			return
		}
		var h string
		if streamed != nil {
			h = streamed.hash
		} else {
			h = listing.Hash()
		}
		if state.DestinationHash.ValueString() != h && !state.DestinationHash.IsNull() {
			tflog.Info(ctx, "the destination changed since the last refresh", map[string]interface{}{
				"destination": state.Destination.ValueString(), "was": state.DestinationHash.ValueString(), "now": h,
			})
		}
		state.DestinationHash = types.StringValue(h)
		if streamed != nil {
			ref = streamed.ref
		} else {
			var err error
			if ref, err = r.settings.listings.save(ctx, r.destKey(c), listing); err != nil {
				tflog.Debug(ctx, "could not keep the listing for the apply's re-plan; it will list again", map[string]interface{}{"error": err.Error()})
			}
		}
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateListing, ref)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateSourceAtRefresh, r.sourceAtRefresh(c, aheadDone()))...)
	// pending is what the next apply will do, which the plan works out;
	// what the last apply was planned to do is done.
	state.Pending = pendingValue(pendingOf(tree.Changes{}), nil)
	state.Drift = driftValue(nil)
	if !known(state.ID) {
		state.ID = state.Destination
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}
