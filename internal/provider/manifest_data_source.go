package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

var (
	_ datasource.DataSource              = (*manifestDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*manifestDataSource)(nil)
)

func newManifestDataSource() datasource.DataSource {
	return &manifestDataSource{}
}

// manifestDataSource is rsync_manifest: the file count, size and hash of a
// local or remote tree.
type manifestDataSource struct {
	// dir lends the data source the resource's connection handling.
	dir directoryResource
}

type manifestModel struct {
	ID         types.String `tfsdk:"id"`
	Path       types.String `tfsdk:"path"`
	Exclude    types.List   `tfsdk:"exclude"`
	Include    types.List   `tfsdk:"include"`
	Mode       types.String `tfsdk:"mode"`
	FileCount  types.Int64  `tfsdk:"file_count"`
	TotalBytes types.Int64  `tfsdk:"total_bytes"`
	Hash       types.String `tfsdk:"hash"`
	// Connection overrides the provider's SSH settings (connection.go).
	Connection *connectionModel `tfsdk:"ssh"`
}

func (d *manifestDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_manifest"
}

func dsPatternList(desc string) schema.ListAttribute {
	return schema.ListAttribute{
		MarkdownDescription: desc,
		ElementType:         types.StringType,
		Optional:            true,
		Validators:          []validator.List{listvalidator.ValueStringsAre(patternValidator{})},
	}
}

func (d *manifestDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Describes a directory tree — local, or on a remote host read through its own rsync with checksums " +
			"computed there — by its file count, total size and a hash with the same definition as `rsync_directory`'s " +
			"`source_hash`. Use the hash to trigger other resources when a tree changes.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The path, as written in `path`.",
				Computed:            true,
			},
			"path": schema.StringAttribute{
				MarkdownDescription: "The tree: a local path or a remote location `[user@]host:path`, reached with the provider's " +
					"connection settings. rsync's trailing-slash rule applies as in `rsync_directory`'s `source` (`\"dir/\"` and " +
					"`\"dir\"` describe the same tree).",
				Required:   true,
				Validators: []validator.String{stringvalidator.LengthAtLeast(1), endpointValidator{}},
			},
			"exclude": dsPatternList("rsync exclude patterns; matching paths are left out. Same rules as `rsync_directory`'s `exclude`."),
			"include": dsPatternList("rsync include patterns, checked before `exclude`. Same rules as `rsync_directory`'s `include`."),
			"mode": schema.StringAttribute{
				MarkdownDescription: "What `hash` is made of: `\"checksum\"` (default) hashes file contents (`\"xxh128:…\"`, or the " +
					"algorithm a remote rsync offers); `\"metadata\"` hashes sizes and modification times instead (`\"meta:…\"`), " +
					"which reads no file data.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.OneOf(driftChecksum, driftMetadata)},
			},
			"ssh": connectionDataSourceSchema(),
			"file_count": schema.Int64Attribute{
				MarkdownDescription: "Number of regular files in the tree.",
				Computed:            true,
			},
			"total_bytes": schema.Int64Attribute{
				MarkdownDescription: "Total size of the regular files, in bytes.",
				Computed:            true,
			},
			"hash": schema.StringAttribute{
				MarkdownDescription: "Hash of the tree: relative paths, file types, permission bits, contents (or sizes and " +
					"modification times with `mode = \"metadata\"`) and symlink targets, prefixed with what it is made of. " +
					"Equal to `rsync_directory`'s `source_hash` for the same tree and filters.",
				Computed: true,
			},
		},
	}
}

func (d *manifestDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	s, ok := req.ProviderData.(*connSettings)
	if !ok {
		resp.Diagnostics.AddError("Unexpected provider data",
			fmt.Sprintf("Expected *connSettings, got %T. This is a bug in the provider; please report it.", req.ProviderData))
		return
	}
	d.dir.settings = s
}

func (d *manifestDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m manifestModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var f filterSet
	for _, l := range []struct {
		v   types.List
		dst *[]string
	}{{m.Include, &f.Include}, {m.Exclude, &f.Exclude}} {
		if !l.v.IsNull() && !l.v.IsUnknown() {
			resp.Diagnostics.Append(l.v.ElementsAs(ctx, l.dst, false)...)
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	ep, err := parseEndpoint(m.Path.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("path"), "Invalid path", endpointDetail("path", err))
		return
	}
	mode := manifestMode(m.Mode.ValueString())

	var man *tree.Manifest
	var warnings []string
	if ep.Remote {
		cn := &conn{r: &d.dir, ends: syncEnds{Src: ep, Dir: dirPull}, connection: m.Connection, attr: "path"}
		defer cn.close()
		_, diags := cn.engine(ctx)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() {
			return
		}
		p := pushDestPath(ep.Path())
		man, warnings, err = cn.listVia(ctx, p, tree.ContentRoot(p), f, mode)
	} else {
		if serr := checkSource(ep.Path()); serr != nil {
			resp.Diagnostics.AddAttributeError(path.Root("path"), "Path not found", serr.Error()+".")
			return
		}
		man, warnings, err = hashLocal(ctx, d.dir.settings.digests, ep.Path(), f, mode, csum.XXH128)
	}
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("path"), "Cannot read the tree",
			fmt.Sprintf("Could not read %s: %v.\n\n%s", m.Path.ValueString(), err, failureHint(err, hintContext{op: opReadSource, dir: map[bool]direction{true: dirPull, false: dirLocal}[ep.Remote],
				src: m.Path.ValueString(), rsyncPath: d.dir.settings.rsyncPath(m.Connection)})))
		return
	}
	for _, w := range warnings {
		resp.Diagnostics.AddAttributeWarning(path.Root("path"), "Tree partly unreadable", w)
	}
	m.ID = m.Path
	m.FileCount = types.Int64Value(int64(man.Files()))
	m.TotalBytes = types.Int64Value(man.Bytes())
	m.Hash = types.StringValue(man.Hash())
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
