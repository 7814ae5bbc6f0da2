package provider

// ImportState: `terraform import` of an existing destination tree.

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
)

// ImportState takes the destination — `[user@]host:path` or a local path —
// as the import ID, or "SOURCE|DESTINATION" to set the source as well (the
// next plan is then empty when the trees match; with the destination
// alone it sets source in place and changes no file). Settings start at
// their defaults; refresh then reads the destination.
func (r *directoryResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := req.ID
	source := ""
	if i := strings.LastIndex(id, "|"); i >= 0 {
		source, id = id[:i], id[i+1:]
	}
	if _, err := parseEndpoint(id); err != nil {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("The import ID is the destination, or SOURCE|DESTINATION: %s", endpointDetail("destination", err)))
		return
	}
	m := directoryModel{
		ID:              types.StringValue(id),
		Destination:     types.StringValue(id),
		Source:          types.StringNull(),
		Delete:          types.BoolValue(false),
		Exclude:         types.ListNull(types.StringType),
		Include:         types.ListNull(types.StringType),
		Protect:         types.ListNull(types.StringType),
		Checksum:        types.BoolValue(false),
		Compress:        types.BoolValue(false),
		DriftDetection:  types.StringValue(driftChecksum),
		OnDestroy:       types.StringValue(onDestroyKeep),
		MaxDelete:       types.Int64Null(),
		AllowDeleteRoot: types.BoolNull(),
		Chmod:           types.StringNull(),
		Owner:           types.StringNull(),
		Group:           types.StringNull(),
		SourceHash:      types.StringNull(),
		DestinationHash: types.StringNull(),
		Pending:         types.ObjectNull(pendingAttrTypes),
		Drift:           types.ObjectNull(driftAttrTypes),
		LastSync:        types.ObjectNull(lastSyncAttrTypes),

		MkPath:         types.BoolValue(false),
		CurrentRelease: types.StringNull(),
		Releases:       types.ListNull(types.StringType),
	}
	if source != "" {
		ends, attr, err := parseEnds(source, id)
		if err != nil {
			resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("In SOURCE|DESTINATION, %s", endpointDetail(attr, err)))
			return
		}
		m.Source = types.StringValue(source)
		c := syncConfig{Ends: ends, SourceKnown: true, Drift: driftChecksum}
		cn := r.newConn(c)
		defer cn.close()
		src, d := r.sourceManifest(ctx, cn, c, csum.XXH128, false)
		resp.Diagnostics.Append(d...)
		if resp.Diagnostics.HasError() {
			return
		}
		m.SourceHash = types.StringValue(src.Hash())
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateBaseline, baseline{Imported: true}.encode())...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
