package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ resource.Resource                   = (*directoryResource)(nil)
	_ resource.ResourceWithConfigure      = (*directoryResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*directoryResource)(nil)
	_ resource.ResourceWithValidateConfig = (*directoryResource)(nil)
	_ resource.ResourceWithImportState    = (*directoryResource)(nil)
)

func newDirectoryResource() resource.Resource {
	return &directoryResource{}
}

// directoryResource is rsync_directory: a tree kept in sync from source to
// destination (push, pull, or between two local paths).
type directoryResource struct {
	settings *connSettings
}

type directoryModel struct {
	ID              types.String `tfsdk:"id"`
	Source          types.String `tfsdk:"source"`
	Destination     types.String `tfsdk:"destination"`
	Delete          types.Bool   `tfsdk:"delete"`
	Exclude         types.List   `tfsdk:"exclude"`
	Include         types.List   `tfsdk:"include"`
	Protect         types.List   `tfsdk:"protect"`
	Checksum        types.Bool   `tfsdk:"checksum"`
	Compress        types.Bool   `tfsdk:"compress"`
	DriftDetection  types.String `tfsdk:"drift_detection"`
	OnDestroy       types.String `tfsdk:"on_destroy"`
	MaxDelete       types.Int64  `tfsdk:"max_delete"`
	Parallel        types.Int64  `tfsdk:"parallel"`
	AllowDeleteRoot types.Bool   `tfsdk:"allow_delete_root"`
	Chmod           types.String `tfsdk:"chmod"`
	Owner           types.String `tfsdk:"owner"`
	Group           types.String `tfsdk:"group"`
	SourceHash      types.String `tfsdk:"source_hash"`
	DestinationHash types.String `tfsdk:"destination_hash"`
	Pending         types.Object `tfsdk:"pending"`
	Drift           types.Object `tfsdk:"drift"`
	LastSync        types.Object `tfsdk:"last_sync"`
	// devices, specials, hard_links, sparse, backup_dir, bwlimit
	// (directory_resource_fidelity.go).
	fidelityModel
	// Connection overrides the provider's SSH settings (connection.go).
	Connection *connectionModel `tfsdk:"ssh"`

	// Issue 14: mkpath (directory_resource_mkpath.go) and releases
	// (directory_resource_release.go).
	MkPath         types.Bool    `tfsdk:"mkpath"`
	Release        *releaseModel `tfsdk:"release"`
	CurrentRelease types.String  `tfsdk:"current_release"`
	Releases       types.List    `tfsdk:"releases"`
	// The plan's estimate of the bytes the apply sends
	// (directory_resource_estimate.go).
	EstimateTransfer types.Bool  `tfsdk:"estimate_transfer"`
	EstimateMaxBytes types.Int64 `tfsdk:"estimate_max_bytes"`
}

func (r *directoryResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_directory"
}

func (r *directoryResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	s, ok := req.ProviderData.(*connSettings)
	if !ok {
		resp.Diagnostics.AddError("Unexpected provider data",
			fmt.Sprintf("Expected *connSettings, got %T. This is a bug in the provider; please report it.", req.ProviderData))
		return
	}
	r.settings = s
}

// privateForceChecksum is the private state key by which a plan asks its
// apply to compare by checksum (see quickCheckBlind).
const privateForceChecksum = "force_checksum"

// interruptedHint is what a transfer cut short leaves and what to do.
const interruptedHint = "Nothing is left half-written: rsync replaces a file only once all of it has arrived (it writes " +
	"a temporary file beside it and renames it into place), so every file on the destination is either its old or its " +
	"new version. Run terraform apply again to finish the sync."
