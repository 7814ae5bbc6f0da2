package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
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
	AllowDeleteRoot types.Bool   `tfsdk:"allow_delete_root"`
	Chmod           types.String `tfsdk:"chmod"`
	Owner           types.String `tfsdk:"owner"`
	Group           types.String `tfsdk:"group"`
	SourceHash      types.String `tfsdk:"source_hash"`
	DestinationHash types.String `tfsdk:"destination_hash"`
	Pending         types.Object `tfsdk:"pending"`
	LastSync        types.Object `tfsdk:"last_sync"`
	// Connection overrides the provider's SSH settings (connection.go).
	Connection *connectionModel `tfsdk:"ssh"`
}

func (r *directoryResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_directory"
}

// patternList is the schema of exclude, include and protect.
func patternList(desc string) schema.ListAttribute {
	return schema.ListAttribute{
		MarkdownDescription: desc,
		ElementType:         types.StringType,
		Optional:            true,
		Validators:          []validator.List{listvalidator.ValueStringsAre(patternValidator{})},
	}
}

func (r *directoryResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Keeps a directory tree in sync from `source` to `destination`, as `rsync -a source destination` does: " +
			"regular files, directories and symlinks, with permissions and modification times. " +
			"One side may be a remote host (`[user@]host:path`, reached over SSH): a local source is pushed to it, " +
			"a remote source is pulled from it; both sides may also be local paths.\n\n" +
			"Every plan hashes the source (`source_hash`) and compares it with the destination as the last refresh read it — " +
			"with checksums computed on the remote host, no file data moved — and lists in `pending` what the apply will " +
			"create, update and delete. A file edited, added or removed on the destination outside Terraform shows up as drift " +
			"and the next apply restores it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The destination, as written in `destination`.",
				Computed:            true,
			},
			"source": schema.StringAttribute{
				MarkdownDescription: "What to copy: a local path (absolute, or relative to the directory Terraform runs in; " +
					"use `\"${path.module}/site/\"` to be independent of it) or a remote location `[user@]host:path` to pull from. " +
					"rsync's trailing-slash rule applies: `\"dir/\"` copies the contents of `dir` into `destination`; `\"dir\"` " +
					"copies the directory itself, which lands as `destination/dir`. At most one of `source` and `destination` may be remote.",
				Required:   true,
				Validators: []validator.String{stringvalidator.LengthAtLeast(1), endpointValidator{}},
			},
			"destination": schema.StringAttribute{
				MarkdownDescription: "Where to copy to: a remote location in rsync's form `[user@]host:path`, e.g. " +
					"`\"deploy@web1.example.com:/var/www/site/\"` (IPv6 addresses go in brackets: `\"[2001:db8::1]:/srv/www\"`; " +
					"a relative path is relative to the login directory; an empty path, `\"host:\"`, is the login directory; " +
					"the user, when given, overrides the provider's `user`), or a local path. Changing it replaces the resource.",
				Required:      true,
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1), endpointValidator{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"delete": schema.BoolAttribute{
				MarkdownDescription: "Delete files in the destination that are not in the source (rsync `--delete`). " +
					"Paths matched by `exclude` or `protect` are never deleted. Defaults to `false`: extra files on the " +
					"destination are left alone and are not reported as drift in `pending`.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			"exclude": patternList("rsync exclude patterns (rsync `--exclude`), e.g. `[\".git/\", \"*.tmp\", \"/build/\"]`: " +
				"matching paths are neither sent nor deleted, and are left out of `source_hash`, `destination_hash` and drift detection. " +
				"rsync's pattern rules apply: a leading `/` anchors at the top of the tree, a trailing `/` matches only directories, " +
				"`*` stops at `/`, `**` does not, `?` and `[...]` match one character, `dir/***` matches `dir` and everything below it. " +
				"`include` patterns are checked first; the first matching pattern decides."),
			"include": patternList("rsync include patterns (rsync `--include`), checked before `exclude`: a path they match is " +
				"copied even when an `exclude` pattern also matches it, e.g. `include = [\"*/\", \"*.html\"]` with `exclude = [\"*\"]` " +
				"copies only HTML files. Same pattern rules as `exclude`."),
			"protect": patternList("Patterns of destination paths that are never deleted, even with `delete = true` — " +
				"uploads or configuration that live only on the destination, e.g. `[\"/uploads/\", \".env\"]`. " +
				"A pattern that matches a directory protects everything below it. Protection is applied on the receiving side " +
				"(rsync's `P` filter rule): unlike `exclude`, it does not keep a source path from being copied — a matching " +
				"source path is copied and updated like any other — and protected destination-only paths are never planned " +
				"for deletion, although they are part of `destination_hash` (as extra files are with `delete = false`). " +
				"Same pattern rules as `exclude`; protect patterns are checked before `include` and `exclude`."),
			"checksum": schema.BoolAttribute{
				MarkdownDescription: "Decide which files to transfer by comparing their content (rsync `-c`) instead of their size and " +
					"modification time. Slower (both sides read every file), but catches changes that keep size and time. " +
					"Defaults to `false`. Drift detection compares content regardless, unless `drift_detection = \"metadata\"`.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			"compress": schema.BoolAttribute{
				MarkdownDescription: "Compress file data on the wire (rsync `-z`; zstd, zlibx or zlib, as negotiated with the remote rsync). " +
					"Helps on slow links with compressible data. Defaults to `false`.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			"drift_detection": schema.StringAttribute{
				MarkdownDescription: "How refresh reads the destination to detect changes made outside Terraform: " +
					"`\"checksum\"` (default) has the remote rsync checksum every file on the server (no file data moves); " +
					"`\"metadata\"` compares only sizes, modification times, types and permissions — cheap for huge trees, " +
					"but blind to an edit that keeps size and time; `\"none\"` does not read the destination at all: " +
					"only changes to the source cause an update, `destination_hash` stays null and `pending` is known only after apply.",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString(driftChecksum),
				Validators: []validator.String{stringvalidator.OneOf(driftChecksum, driftMetadata, driftNone)},
			},
			"on_destroy": schema.StringAttribute{
				MarkdownDescription: "What destroying the resource does to the copied tree: `\"keep\"` (default) leaves it in place; " +
					"`\"delete\"` removes it (`rm -rf` of `destination` for a `\"dir/\"` source, of `destination/dir` for a `\"dir\"` " +
					"source, run through the same SSH connection and with the same command prefix as `rsync_path`, e.g. `sudo`). " +
					"The root, the login directory and the current directory are refused.",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString(onDestroyKeep),
				Validators: []validator.String{stringvalidator.OneOf(onDestroyKeep, onDestroyDelete)},
			},
			"max_delete": schema.Int64Attribute{
				MarkdownDescription: "The most files and directories one apply may delete from the destination (with `delete = true`). " +
					"A plan that would delete more fails, and an apply checks again with a dry run first and fails without " +
					"changing anything. Unset means no limit.",
				Optional:   true,
				Validators: []validator.Int64{int64validator.AtLeast(0)},
			},
			"allow_delete_root": schema.BoolAttribute{
				MarkdownDescription: "With `delete = true`, a sync into the root directory (`/`), the login directory (`\"host:\"`, " +
					"`\"host:~\"`, `\"host:.\"`) or, locally, the current or home directory (or a directory above the current one) " +
					"would delete everything there that is not in the source. Such a configuration is refused at plan time " +
					"unless this is set to `true`. Defaults to `false`.",
				Optional: true,
			},
			"chmod": schema.StringAttribute{
				MarkdownDescription: "Change the permissions of what is copied, in rsync's `--chmod` syntax: comma-separated " +
					"clauses, each an octal mode or `[ugoa]*[+-=][rwxXst]*`, optionally prefixed with `D` (directories only) or " +
					"`F` (files only), e.g. `\"D755,F644\"` or `\"u+rwX,go-w\"`. Applied to every file and directory (never " +
					"symlinks) as it is copied; `source_hash`, `pending` and drift detection compare the permissions after the change, " +
					"so the destination is in sync when it has them.",
				Optional:   true,
				Validators: []validator.String{chmodValidator{}},
			},
			"owner": schema.StringAttribute{
				MarkdownDescription: "Owner (user name, or numeric id) of every file and directory written on the destination " +
					"(rsync `--chown=OWNER`). Applied only when the receiving user may change ownership (root, e.g. with " +
					"`rsync_path = \"sudo rsync\"`); otherwise rsync leaves the owner as is. Ownership is set at every sync " +
					"and when `owner` changes, but is not part of `destination_hash` or drift detection.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"group": schema.StringAttribute{
				MarkdownDescription: "Group (name, or numeric id) of every file and directory written on the destination " +
					"(rsync `--chown=:GROUP`). Applied when the receiving user may: root, or a member of that group. Like " +
					"`owner`, set at every sync and when it changes, but not part of `destination_hash` or drift detection.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"source_hash": schema.StringAttribute{
				MarkdownDescription: "Hash of the source tree after `exclude`/`include`: relative paths, file types, " +
					"permission bits (after `chmod`), file contents and symlink targets, prefixed with the digest algorithm (`\"xxh128:…\"`). " +
					"Computed at every plan; any change in the source changes it. Use it to trigger other resources.",
				Computed: true,
			},
			"destination_hash": schema.StringAttribute{
				MarkdownDescription: "Hash of the destination tree as refresh last read it (or, after an apply that mirrored the " +
					"source — `delete = true`, nothing protected — the source's hash, which is what a read would give), with the same definition as `source_hash` " +
					"(`\"meta:…\"` with `drift_detection = \"metadata\"`, which hashes sizes and modification times instead of " +
					"contents; null with `\"none\"`). It describes the destination as it is: it equals `source_hash` after an apply " +
					"when nothing else is in the destination, but with `delete = false` extra files there make it differ without " +
					"being drift.",
				Computed: true,
			},
			"pending": schema.SingleNestedAttribute{
				MarkdownDescription: "What the apply will change in the destination, computed at plan time from the source against " +
					"the destination as refresh read it: the first 100 paths to create, update and delete (directories end in `/`, " +
					"the top directory is `.`), and the full counts. After apply it records what that apply was planned to change " +
					"(for a create, or with `drift_detection = \"none\"`, what it changed). It stays as it is while there is nothing to do.",
				Computed: true,
				Attributes: map[string]schema.Attribute{
					"create": schema.ListAttribute{ElementType: types.StringType, Computed: true,
						MarkdownDescription: "Paths that will be created (the first 100)."},
					"update": schema.ListAttribute{ElementType: types.StringType, Computed: true,
						MarkdownDescription: "Paths whose content, type, permissions or symlink target will be updated (the first 100)."},
					"delete": schema.ListAttribute{ElementType: types.StringType, Computed: true,
						MarkdownDescription: "Paths that will be deleted (the first 100; only with `delete = true`)."},
					"create_count": schema.Int64Attribute{Computed: true, MarkdownDescription: "Number of paths to create."},
					"update_count": schema.Int64Attribute{Computed: true, MarkdownDescription: "Number of paths to update."},
					"delete_count": schema.Int64Attribute{Computed: true, MarkdownDescription: "Number of paths to delete."},
				},
			},
			"ssh": connectionSchema(), // "connection" is reserved in resources
			"last_sync": schema.SingleNestedAttribute{
				MarkdownDescription: "Transfer statistics of the last apply that synced.",
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"files_transferred": schema.Int64Attribute{Computed: true, MarkdownDescription: "Regular files whose data was sent."},
					"bytes_sent":        schema.Int64Attribute{Computed: true, MarkdownDescription: "Bytes this side wrote to the connection."},
					"bytes_received":    schema.Int64Attribute{Computed: true, MarkdownDescription: "Bytes this side read from the connection."},
					"literal_bytes":     schema.Int64Attribute{Computed: true, MarkdownDescription: "File data sent as literal data."},
					"matched_bytes": schema.Int64Attribute{Computed: true,
						MarkdownDescription: "File data rebuilt from blocks the destination already had (rsync's delta transfer)."},
					"deleted": schema.Int64Attribute{Computed: true, MarkdownDescription: "Paths deleted from the destination."},
				},
			},
		},
	}
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

// ValidateConfig checks what single attributes cannot: that at most one
// side is remote, and settings that have no effect.
func (r *directoryResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m directoryModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if known(m.Source) && known(m.Destination) {
		if _, attr, err := parseEnds(m.Source.ValueString(), m.Destination.ValueString()); err != nil && attr == "source" {
			if _, perr := parseEndpoint(m.Source.ValueString()); perr == nil {
				resp.Diagnostics.AddAttributeError(path.Root("source"), "Source and destination are both remote", err.Error()+".")
			}
		}
	}
	if known(m.Source) && known(m.Destination) && !m.Delete.IsUnknown() && m.Delete.ValueBool() &&
		!m.AllowDeleteRoot.IsUnknown() && !m.AllowDeleteRoot.ValueBool() {
		if ends, _, err := parseEnds(m.Source.ValueString(), m.Destination.ValueString()); err == nil {
			if err := deleteRootError(ends.landing(true), ends.Dst.Remote, m.Destination.ValueString()); err != nil {
				resp.Diagnostics.AddAttributeError(path.Root("delete"), "Refusing to delete in the destination root", err.Error())
			}
		}
	}
	if !m.MaxDelete.IsNull() && !m.MaxDelete.IsUnknown() && !m.Delete.IsUnknown() && !m.Delete.ValueBool() {
		resp.Diagnostics.AddAttributeWarning(path.Root("max_delete"), "max_delete has no effect",
			"max_delete limits deletions, and nothing is deleted unless delete = true. Set delete = true or remove max_delete.")
	}
}

func known(v types.String) bool { return !v.IsNull() && !v.IsUnknown() }

// settingsOf reads the configuration a sync needs from a model.
type syncConfig struct {
	Ends        syncEnds
	SourceKnown bool // false after an import that did not name the source
	Filters     filterSet
	Drift       string
	Delete      bool
	Checksum    bool
	Compress    bool
	MaxDelete   *int64
	OnDestroy   string
	Connection  *connectionModel // nil: the provider's settings
	// AllowDeleteRoot lets delete = true sync into the root, login or
	// current directory (deleteRootError).
	AllowDeleteRoot bool
	// Chmod, Owner and Group are rsync's --chmod and --chown.
	Chmod string
	Owner string
	Group string
}

// syncConfigOf builds a syncConfig from a model whose values are known.
func syncConfigOf(ctx context.Context, m directoryModel) (syncConfig, diag.Diagnostics) {
	var diags diag.Diagnostics
	c := syncConfig{
		SourceKnown: known(m.Source),
		Drift:       m.DriftDetection.ValueString(),
		Delete:      m.Delete.ValueBool(),
		Checksum:    m.Checksum.ValueBool(),
		Compress:    m.Compress.ValueBool(),
		OnDestroy:   m.OnDestroy.ValueString(),
		Connection:  m.Connection,

		AllowDeleteRoot: m.AllowDeleteRoot.ValueBool(),
		Chmod:           m.Chmod.ValueString(),
		Owner:           m.Owner.ValueString(),
		Group:           m.Group.ValueString(),
	}
	if c.Drift == "" {
		c.Drift = driftChecksum
	}
	if c.OnDestroy == "" {
		c.OnDestroy = onDestroyKeep
	}
	if !m.MaxDelete.IsNull() && !m.MaxDelete.IsUnknown() {
		v := m.MaxDelete.ValueInt64()
		c.MaxDelete = &v
	}
	for _, l := range []struct {
		v   types.List
		dst *[]string
	}{{m.Include, &c.Filters.Include}, {m.Exclude, &c.Filters.Exclude}, {m.Protect, &c.Filters.Protect}} {
		if l.v.IsNull() || l.v.IsUnknown() {
			continue
		}
		diags.Append(l.v.ElementsAs(ctx, l.dst, false)...)
	}
	if c.SourceKnown {
		ends, attr, err := parseEnds(m.Source.ValueString(), m.Destination.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root(attr), "Invalid "+attr, endpointDetail(attr, err))
			return c, diags
		}
		c.Ends = ends
	} else {
		dst, err := parseEndpoint(m.Destination.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root("destination"), "Invalid destination", endpointDetail("destination", err))
			return c, diags
		}
		c.Ends = syncEnds{Dst: dst, Dir: dirLocal}
		if dst.Remote {
			c.Ends.Dir = dirPush
		}
	}
	return c, diags
}

// configKnown reports whether every configured value of m is known (it may
// not be at plan time when it comes from another resource).
func configKnown(m directoryModel) bool {
	for _, v := range []attr.Value{m.Source, m.Destination, m.Delete, m.Exclude, m.Include, m.Protect,
		m.Checksum, m.Compress, m.DriftDetection, m.OnDestroy, m.MaxDelete, m.AllowDeleteRoot, m.Chmod, m.Owner, m.Group} {
		if v.IsUnknown() {
			return false
		}
	}
	return connectionKnown(m.Connection)
}

// root is where the source lands.
func (c syncConfig) root() destRoot { return c.Ends.landing(c.SourceKnown) }

// destKey is the cache key of the destination's manifest, and what
// identifies what destination_hash describes.
func (r *directoryResource) destKey(c syncConfig) string {
	mode := "local"
	acct := ""
	if c.Ends.Dst.Remote {
		acct = r.account(c, c.Ends.Dst.Spec)
		mode = "remote"
	}
	return cacheKey("dst-"+mode+"-"+c.Drift, acct, c.root().ListPath, c.Filters, manifestMode(c.Drift))
}

// srcKey is the cache key of a remote source's listing.
func (r *directoryResource) srcKey(c syncConfig) string {
	return cacheKey("src", r.account(c, c.Ends.Src.Spec), c.Ends.Src.Path(), c.Filters, tree.Content)
}

// account names the SSH account a remote is reached through: user, host,
// port and the jump hosts on the way.
func (r *directoryResource) account(c syncConfig, spec remoteSpec) string {
	cfg, _ := r.settings.resolve(context.Background(), c.Connection, spec.User, spec.Host)
	a := fmt.Sprintf("%s@%s:%d", cfg.User, cfg.Host, cfg.Port)
	for b := cfg.Bastion; b != nil; b = b.Bastion {
		a += fmt.Sprintf(" via %s@%s:%d", b.User, b.Host, b.Port)
	}
	return a
}

// rsyncPath is the remote rsync command (connection's, else the
// provider's).
func (r *directoryResource) rsyncPath(c syncConfig) string {
	return r.settings.rsyncPath(c.Connection)
}

// conn is the SSH connection of one operation, taken from the provider's
// pool on first use and given back by close.
type conn struct {
	r          *directoryResource
	ends       syncEnds
	connection *connectionModel
	attr       string // the attribute connection errors are reported on; default by direction
	t          rsync.Transport
	release    func()
}

func (r *directoryResource) newConn(c syncConfig) *conn {
	return &conn{r: r, ends: c.Ends, connection: c.Connection}
}

// transport opens the connection to the remote side if needed.
func (c *conn) transport(ctx context.Context) (rsync.Transport, diag.Diagnostics) {
	if c.t == nil {
		ep, ok := c.ends.remote()
		if !ok {
			var diags diag.Diagnostics
			diags.AddError("No remote side", "This is a bug in the provider: a transport was asked for between two local paths.")
			return nil, diags
		}
		attr := c.attr
		switch {
		case attr != "":
		case c.ends.Dir == dirPull:
			attr = "source"
		default:
			attr = "destination"
		}
		cfg, diags := c.r.settings.resolve(ctx, c.connection, ep.Spec.User, ep.Spec.Host)
		if diags.HasError() {
			return nil, diags
		}
		tflog.Debug(ctx, "SSH connection", describeConfig(cfg))
		t, release, d := c.r.settings.transport(ctx, cfg, path.Root(attr))
		diags.Append(d...)
		if diags.HasError() {
			return nil, diags
		}
		c.t, c.release = t, release
	}
	return c.t, nil
}

func (c *conn) close() {
	if c.release != nil {
		c.release()
		c.release, c.t = nil, nil
	}
}

// destManifest reads the destination tree (remote: the remote rsync's
// listing; local: hashed here) and caches it. algo is used for a local
// destination; a remote one is hashed with what its server negotiates.
func (r *directoryResource) destManifest(ctx context.Context, cn *conn, c syncConfig, algo csum.Algo) (*tree.Manifest, diag.Diagnostics) {
	var diags diag.Diagnostics
	root := c.root()
	mode := manifestMode(c.Drift)
	var m *tree.Manifest
	var warnings []string
	var err error
	if c.Ends.Dst.Remote {
		t, d := cn.transport(ctx)
		diags.Append(d...)
		if diags.HasError() {
			return nil, diags
		}
		m, warnings, err = listRemote(ctx, t, root.ListPath, root.Prefix, c.Filters, mode, r.rsyncPath(c))
	} else {
		m, warnings, err = hashLocal(ctx, root.ListPath, c.Filters, mode, algo)
	}
	if err != nil {
		diags.AddAttributeError(path.Root("destination"), "Cannot read the destination",
			fmt.Sprintf("Could not read %s to compare it with the source: %s.\n\n%s", root.ListPath, safeText(err.Error()), r.remoteHint(c, err, c.Ends.Dst.Remote)))
		return nil, diags
	}
	for _, w := range warnings {
		diags.AddAttributeWarning(path.Root("destination"), "Destination partly unreadable", safeText(w))
	}
	manifests.put(r.destKey(c), m)
	return m, diags
}

// sourceManifest reads the source tree: a local one hashed here with algo,
// a remote one from its server's checksummed listing (cached for the
// apply's re-plan in the same process). It describes the tree as it will
// land: with chmod applied to its permissions.
func (r *directoryResource) sourceManifest(ctx context.Context, cn *conn, c syncConfig, algo csum.Algo, useCache bool) (m *tree.Manifest, diags diag.Diagnostics) {
	var warnings []string
	var err error
	if c.Ends.Src.Remote {
		key := r.srcKey(c)
		if cached, ok := manifests.get(key); ok && useCache {
			return withChmod(cached, c.Chmod), nil
		}
		t, d := cn.transport(ctx)
		diags.Append(d...)
		if diags.HasError() {
			return nil, diags
		}
		p := pushDestPath(c.Ends.Src.Path())
		m, warnings, err = listRemote(ctx, t, p, tree.ContentRoot(p), c.Filters, tree.Content, r.rsyncPath(c))
		if err == nil {
			manifests.put(key, m)
		}
	} else {
		ahead, ok := manifests.take(r.sourceAheadKey(c))
		if ok && useCache && ahead.Algo == algo {
			tflog.Debug(ctx, "using the source hash made during refresh", map[string]interface{}{"source": c.Ends.Src.Raw})
			return withChmod(ahead, c.Chmod), nil
		}
		m, warnings, err = hashLocal(ctx, c.Ends.Src.Path(), c.Filters, tree.Content, algo)
	}
	if err != nil {
		if !c.Ends.Src.Remote {
			if serr := checkSource(c.Ends.Src.Path()); serr != nil {
				diags.AddAttributeError(path.Root("source"), "Source not found", serr.Error()+".")
				return nil, diags
			}
		}
		diags.AddAttributeError(path.Root("source"), "Cannot read the source",
			fmt.Sprintf("Could not read %s: %s.\n\n%s", c.Ends.Src.Raw, safeText(err.Error()), r.remoteHint(c, err, c.Ends.Src.Remote)))
		return nil, diags
	}
	for _, w := range warnings {
		if !c.Ends.Src.Remote && strings.Contains(w, syscall.EACCES.Error()) {
			// A part of the source Terraform may not read fails the plan,
			// as an unreadable file does (rsync exits 23 for either);
			// what vanished during the walk, or cannot be copied (sockets,
			// devices), only warns.
			diags.AddAttributeError(path.Root("source"), "Source partly unreadable",
				fmt.Sprintf("%s. Nothing was copied: give the user running Terraform read access, or leave the path out with exclude.", safeText(w)))
			continue
		}
		diags.AddAttributeWarning(path.Root("source"), "Source partly unreadable", safeText(w))
	}
	if diags.HasError() {
		return nil, diags
	}
	return withChmod(m, c.Chmod), diags
}

// sourceAheadKey is the cache key of the source hash Read makes for the
// ModifyPlan that follows: the source and where it goes.
func (r *directoryResource) sourceAheadKey(c syncConfig) string {
	return cacheKey("src-ahead "+r.destKey(c), "", c.Ends.Src.Path(), c.Filters, tree.Content)
}

// hashSourceAhead hashes a local source while Read waits on the server
// (its listing is the server's work: this side is idle), so that the
// ModifyPlan that follows in this process — Terraform plans a resource
// right after refreshing it — does not hash it after the listing. Only a
// clean hash is kept, and ModifyPlan takes it out of the cache whether or
// not it uses it (a later plan hashes afresh). The returned function waits
// for the hash.
func (r *directoryResource) hashSourceAhead(ctx context.Context, c syncConfig, algo csum.Algo) (wait func()) {
	key := r.sourceAheadKey(c)
	manifests.drop(key)
	if c.Ends.Src.Remote || !c.SourceKnown {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		m, warnings, err := hashLocal(ctx, c.Ends.Src.Path(), c.Filters, tree.Content, algo)
		if err == nil && len(warnings) == 0 {
			manifests.put(key, m)
		}
	}()
	return func() { <-done }
}

// remoteHint says what to do about a failed remote operation.
func (r *directoryResource) remoteHint(c syncConfig, err error, remote bool) string {
	if !remote {
		return "Check that the path exists and that Terraform may read it."
	}
	return pushHint(err, r.rsyncPath(c))
}

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
			LastSync:        types.ObjectUnknown(lastSyncAttrTypes),
		})
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
	resp.Diagnostics.Append(r.checkSSH(ctx, c)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cn := r.newConn(c)
	defer cn.close()

	listingChanged := false
	var dest *tree.Manifest
	listDest := false
	if priorExists {
		pc, d := syncConfigOf(ctx, prior)
		if !d.HasError() {
			listingChanged = r.destKey(pc) != r.destKey(c)
		}
		if c.Drift != driftNone {
			if m, ok := manifests.get(r.destKey(c)); ok {
				dest = m
				tflog.Debug(ctx, "using the destination listing from refresh", map[string]interface{}{"destination": c.Ends.Dst.Raw})
			} else if m, ok := r.savedListing(ctx, req.Private, r.destKey(c)); ok {
				// The apply walk's re-plan: plan from the listing the
				// first plan used (listing_store.go).
				dest = m
				tflog.Debug(ctx, "using the destination listing refresh saved", map[string]interface{}{"destination": c.Ends.Dst.Raw})
			} else {
				listDest = true
			}
		}
	}
	algo := contentAlgo(dest, prior.DestinationHash, prior.SourceHash)
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
	if resp.Diagnostics.HasError() {
		return
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
	var diff *tree.Changes
	if dest != nil {
		d := tree.Diff(src, dest, c.Delete, nil)
		d.Delete, diags = unprotected(d.Delete, c)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() {
			return
		}
		diff = &d
	}
	if tmps := leftoverTemps(src, dest); len(tmps) > 0 && !c.Delete {
		resp.Diagnostics.AddAttributeWarning(path.Root("destination"), "Temporary files of an interrupted rsync",
			fmt.Sprintf("The destination holds what look like temporary files of an rsync that was killed in the middle "+
				"of a file, before it could remove them (rsync writes .NAME.XXXXXX beside NAME and renames it when "+
				"complete): %s. They are not part of the source, and with delete = false nothing removes them: "+
				"delete them on the server, or apply once with delete = true.", firstPaths(tmps, 10)))
	}
	out, work := planComputed(planInput{
		Prior:          computedOf(prior),
		PriorExists:    priorExists,
		SourceHash:     src.Hash(),
		Diff:           diff,
		ListingChanged: listingChanged,
		Resync:         priorExists && ownershipChanged(prior, plan),
		Drift:          c.Drift,
	})
	if work && diff != nil && c.Delete && c.MaxDelete != nil && int64(len(diff.Delete)) > *c.MaxDelete {
		first := diff.Delete
		if len(first) > 10 {
			first = first[:10]
		}
		resp.Diagnostics.AddAttributeError(path.Root("max_delete"), "Too many deletions",
			strings.Replace(maxDeleteError(len(diff.Delete), *c.MaxDelete, first), "so nothing was changed", "so the plan stops here", 1))
		return
	}
	if work {
		tflog.Info(ctx, "rsync_directory has changes to sync", map[string]interface{}{
			"destination": c.Ends.Dst.Raw, "source_hash": src.Hash(), "diff_known": diff != nil,
		})
	}
	// Files rsync's quick check cannot see (same size and time, other
	// content) need a checksum sync, or the apply would leave them and the
	// plan would never settle. The apply learns it from private state.
	var force []byte
	if blind := quickCheckBlind(src, dest); work && len(blind) > 0 && !c.Checksum {
		tflog.Info(ctx, "some files differ only in content; the apply compares by checksum", map[string]interface{}{
			"files": firstPaths(blind, 10),
		})
		force = []byte("true")
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateForceChecksum, force)...)
	r.setComputed(ctx, resp, out)
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

// savedListing loads the destination listing whose reference refresh put
// in private state, if it is still there and intact.
func (r *directoryResource) savedListing(ctx context.Context, private interface {
	GetKey(context.Context, string) ([]byte, diag.Diagnostics)
}, key string) (*tree.Manifest, bool) {
	ref, d := private.GetKey(ctx, privateListing)
	if d.HasError() || len(ref) == 0 {
		return nil, false
	}
	return r.settings.listings.load(ctx, key, ref)
}

// privateForceChecksum is the private state key by which a plan asks its
// apply to compare by checksum (see quickCheckBlind).
const privateForceChecksum = "force_checksum"

func firstPaths(paths []string, n int) string {
	if len(paths) <= n {
		return strings.Join(paths, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(paths[:n], ", "), len(paths)-n)
}

func computedOf(m directoryModel) computedValues {
	return computedValues{SourceHash: m.SourceHash, DestinationHash: m.DestinationHash, Pending: m.Pending, LastSync: m.LastSync}
}

func (r *directoryResource) setComputed(ctx context.Context, resp *resource.ModifyPlanResponse, v computedValues) {
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("source_hash"), v.SourceHash)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("destination_hash"), v.DestinationHash)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("pending"), v.Pending)...)
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

func (r *directoryResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan directoryModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(r.apply(ctx, &plan, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *directoryResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan directoryModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
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
	resp.Diagnostics.Append(r.apply(ctx, &plan, string(force) == "true")...)
	if resp.Diagnostics.HasError() {
		return
	}
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
		m.Pending = pendingValue(changesFromResult(res.Changes))
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
			manifests.drop(r.destKey(c))
			tflog.Debug(ctx, "destination_hash is the source's: the sync mirrored it", map[string]interface{}{"destination": c.Ends.Dst.Raw})
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
	return rsync.Options{
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
	}
}

// run runs one transfer in the configured direction.
func (r *directoryResource) run(ctx context.Context, cn *conn, c syncConfig, opts rsync.Options) (*rsync.Result, diag.Diagnostics) {
	var diags diag.Diagnostics
	var res *rsync.Result
	var err error
	src, dst := c.Ends.Src.Path(), c.Ends.Dst.Path()
	switch c.Ends.Dir {
	case dirLocal:
		res, err = rsync.Local(ctx, src, dst, opts)
	default:
		t, d := cn.transport(ctx)
		diags.Append(d...)
		if diags.HasError() {
			return nil, diags
		}
		if c.Ends.Dir == dirPush {
			dst = pushDestPath(dst)
			if fi, serr := os.Stat(src); serr == nil && !fi.IsDir() && !strings.HasSuffix(dst, "/") {
				// A single file lands inside destination (where Read
				// looks for it), never as destination itself.
				dst += "/"
			}
			res, err = rsync.Push(ctx, t, src, dst, opts)
		} else {
			res, err = rsync.Pull(ctx, t, pushDestPath(src), dst, opts)
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
				r.remoteHint(c, err, c.Ends.Dir != dirLocal)))
		return nil, diags
	}
	for _, w := range res.Warnings {
		diags.AddAttributeWarning(path.Root("destination"), "Warning from rsync", safeText(w))
	}
	return res, diags
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
	if c.Delete && c.MaxDelete != nil {
		dry := opts
		dry.DryRun = true
		res, d := r.run(ctx, cn, c, dry)
		diags.Append(d...)
		if diags.HasError() {
			return nil, diags
		}
		if n, first := deletions(res.Changes); int64(n) > *c.MaxDelete {
			diags.AddAttributeError(path.Root("max_delete"), "Too many deletions", maxDeleteError(n, *c.MaxDelete, first))
			return nil, diags
		}
	}
	tflog.Info(ctx, "syncing", map[string]interface{}{"source": c.Ends.Src.Raw, "direction": c.Ends.Dir.String()})
	res, d := r.run(ctx, cn, c, opts)
	diags.Append(d...)
	if diags.HasError() {
		return nil, diags
	}
	for _, ch := range res.Changes {
		tflog.Info(ctx, "rsync change", map[string]interface{}{"path": ch.Path, "kind": string(ch.Kind), "itemize": ch.Itemize})
	}
	tflog.Info(ctx, "synced", map[string]interface{}{
		"protocol": res.Protocol, "checksum": res.Checksum, "compression": res.Compression,
		"files": res.Stats.FilesTotal, "transferred": res.Stats.FilesTransferred, "deleted": res.Stats.Deleted,
		"bytes_sent": res.Stats.BytesSent, "bytes_received": res.Stats.BytesReceived,
		"literal_bytes": res.Stats.LiteralBytes, "matched_bytes": res.Stats.MatchedBytes, "changes": len(res.Changes),
	})
	return res, diags
}

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
	if c.Ends.Src.Remote {
		manifests.drop(r.srcKey(c)) // the source is listed afresh by this command's plan
	}
	cn := r.newConn(c)
	defer cn.close()
	root := c.root()
	defer r.hashSourceAhead(ctx, c, contentAlgo(nil, state.DestinationHash, state.SourceHash))()

	// The existence check and the listing run at once (two sessions on
	// the one connection): on a link with latency the check's round trips
	// then cost nothing. The listing's outcome only counts when the tree
	// exists.
	var exists bool
	var listing *tree.Manifest
	var listDiags diag.Diagnostics
	listed := make(chan struct{})
	list := func() {
		defer close(listed)
		if c.Drift != driftNone {
			listing, listDiags = r.destManifest(ctx, cn, c, contentAlgo(nil, state.DestinationHash, state.SourceHash))
		}
	}
	if c.Ends.Dst.Remote {
		t, d := cn.transport(ctx)
		resp.Diagnostics.Append(d...)
		if resp.Diagnostics.HasError() {
			return
		}
		go list()
		var err error
		exists, err = remoteExists(ctx, t, existsCommand(root.RemovePath))
		<-listed
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
		manifests.drop(r.destKey(c))
		resp.State.RemoveResource(ctx)
		return
	}
	var ref []byte
	if c.Drift != driftNone {
		resp.Diagnostics.Append(listDiags...)
		if resp.Diagnostics.HasError() {
			return
		}
		h := listing.Hash()
		if state.DestinationHash.ValueString() != h && !state.DestinationHash.IsNull() {
			tflog.Info(ctx, "the destination changed since the last refresh", map[string]interface{}{
				"destination": state.Destination.ValueString(), "was": state.DestinationHash.ValueString(), "now": h,
			})
		}
		state.DestinationHash = types.StringValue(h)
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

// Delete removes the copied tree with on_destroy = "delete"; by default
// it only forgets it.
func (r *directoryResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state directoryModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, diags := syncConfigOf(ctx, state)
	if c.OnDestroy != onDestroyDelete {
		tflog.Info(ctx, "rsync_directory removed from state; the copied files are left in place (on_destroy = \"keep\")",
			map[string]interface{}{"destination": state.Destination.ValueString()})
		return
	}
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	manifests.drop(r.destKey(c))
	root := c.root()
	if err := unsafeRemovePath(root.RemovePath); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("on_destroy"), "Refusing to delete the destination",
			fmt.Sprintf("on_destroy = \"delete\" would remove %s, but %v. Nothing was deleted. Set on_destroy = \"keep\" "+
				"(and remove the files yourself), or point destination at a directory of its own.", root.RemovePath, err))
		return
	}
	tflog.Info(ctx, "deleting the copied tree (on_destroy = \"delete\")", map[string]interface{}{
		"destination": state.Destination.ValueString(), "path": root.RemovePath,
	})
	if !c.Ends.Dst.Remote {
		resp.Diagnostics.Append(removeLocal(root.RemovePath)...)
		return
	}
	cn := r.newConn(c)
	defer cn.close()
	t, d := cn.transport(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	cmd := removeCommand(strings.TrimSuffix(root.RemovePath, "/"), r.rsyncPath(c))
	if err := runRemote(ctx, t, cmd); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("on_destroy"), "Cannot delete the destination",
			fmt.Sprintf("on_destroy = \"delete\": %q on %s failed: %v. Check that the SSH user (or rsync_path's prefix, such as sudo) "+
				"may remove it, or set on_destroy = \"keep\".", cmd, c.Ends.Dst.Spec.Host, err))
	}
}

// removeLocal removes a local destination tree, refusing the current and
// home directories and the root.
func removeLocal(p string) diag.Diagnostics {
	var diags diag.Diagnostics
	var err error
	if what := localRootKind(p); what != "" {
		err = fmt.Errorf("it is %s", what)
	}
	if err == nil {
		err = os.RemoveAll(p)
	}
	if err != nil {
		diags.AddAttributeError(path.Root("on_destroy"), "Cannot delete the destination",
			fmt.Sprintf("on_destroy = \"delete\" could not remove %s: %v. Set on_destroy = \"keep\" to leave it in place.", p, err))
	}
	return diags
}

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
		LastSync:        types.ObjectNull(lastSyncAttrTypes),
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
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// interruptedHint is what a transfer cut short leaves and what to do.
const interruptedHint = "Nothing is left half-written: rsync replaces a file only once all of it has arrived (it writes " +
	"a temporary file beside it and renames it into place), so every file on the destination is either its old or its " +
	"new version. Run terraform apply again to finish the sync."

// pushHint says what to do about a failed transfer or listing.
func pushHint(err error, rsyncPath string) string {
	var lost *sshconn.LostError
	if errors.As(err, &lost) {
		return "The SSH connection was lost during the transfer (the network path broke or stalled, or the server " +
			"went away). " + interruptedHint
	}
	var ee *rsync.ExitError
	if errors.As(err, &ee) {
		switch {
		case ee.Code == 126 || ee.Code == 127:
			return fmt.Sprintf("The remote command %q could not be run. Install rsync on the remote host, "+
				"or set the provider's rsync_path to the command that starts it.", rsyncPath)
		case ee.Code == 3 || ee.Code == 11 || ee.Code == 23:
			return "Check that the path exists and is readable and writable by the SSH user (rsync_path = \"sudo rsync\" " +
				"runs the remote side with sudo) and that the disk is not full."
		case ee.Code == 20 || ee.Code == 30 || (ee.Code > 128 && ee.Code < 160):
			return "The remote rsync was stopped before it finished (a signal, a timeout, or the server shutting down). " +
				interruptedHint + " A remote rsync killed outright (SIGKILL) cannot remove its temporary file " +
				"(.NAME.XXXXXX beside the file it was writing): the next apply deletes it with delete = true; " +
				"otherwise the plan names it."
		}
	}
	return "Check that rsync is installed on the remote host (or set the provider's rsync_path), and that the " +
		"SSH user may read and write the path."
}

// dialDiagnostic words a failed SSH connection. sshconn's errors already
// name the setting to fix; the summary says which kind of failure it is.
func dialDiagnostic(err error, cfg sshconn.Config) (summary, detail string) {
	msg := strings.TrimPrefix(err.Error(), "ssh: ") + "."
	var hostKeyErr *sshconn.HostKeyError
	var authErr *sshconn.AuthError
	switch {
	case errors.As(err, &hostKeyErr):
		return "SSH host key not trusted", msg
	case errors.As(err, &authErr):
		return "SSH authentication failed", msg
	}
	return "SSH connection failed", fmt.Sprintf("Could not connect to %s: %s", displayHost(cfg), msg)
}

// remoteExists runs a `test` command through the transport: exit 0 means it
// exists, 1 that it does not; anything else is an error.
func remoteExists(ctx context.Context, t rsync.Transport, command string) (bool, error) {
	code, msg, err := runCommand(ctx, t, command)
	if err != nil {
		return false, err
	}
	switch code {
	case 0:
		return true, nil
	case 1:
		return false, nil
	}
	return false, fmt.Errorf("remote command %q exited with status %d: %s", command, code, msg)
}

// runRemote runs a command that must succeed.
func runRemote(ctx context.Context, t rsync.Transport, command string) error {
	code, msg, err := runCommand(ctx, t, command)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("exited with status %d: %s", code, msg)
	}
	return nil
}

// runCommand runs a remote shell command with no input and returns its
// exit status and (the start of) its error output.
func runCommand(ctx context.Context, t rsync.Transport, command string) (int, string, error) {
	p, err := t.Start(ctx, command)
	if err != nil {
		return 0, "", err
	}
	_ = p.Stdin().Close()
	stderr := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(p.Stderr(), 64<<10))
		_, _ = io.Copy(io.Discard, p.Stderr())
		stderr <- strings.TrimSpace(string(b))
	}()
	_, _ = io.Copy(io.Discard, p.Stdout())
	code, err := p.Wait()
	msg := <-stderr
	if err != nil {
		_ = p.Kill()
		return 0, "", err
	}
	if msg == "" {
		msg = "no message"
	}
	return code, msg, nil
}

// displayHost is user@host[ port N] for messages.
func displayHost(cfg sshconn.Config) string {
	h := cfg.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if cfg.User != "" {
		h = cfg.User + "@" + h
	}
	if cfg.Port != 0 {
		h = fmt.Sprintf("%s port %d", h, cfg.Port)
	}
	return h
}

// patternValidator checks an rsync filter pattern.
type patternValidator struct{}

func (patternValidator) Description(context.Context) string {
	return "must be an rsync filter pattern"
}

func (v patternValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (patternValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := filter.Validate(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid rsync pattern",
			fmt.Sprintf("%s: %q is not a usable rsync pattern: %v. Write one pattern per list element, e.g. \".git/\", \"*.tmp\" or \"/build/\".",
				req.Path, req.ConfigValue.ValueString(), err))
	}
}
