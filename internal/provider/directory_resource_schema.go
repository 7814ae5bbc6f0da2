package provider

// rsync_directory's schema and ValidateConfig: what the configuration may say.

import (
	"context"
	"fmt"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
)

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
	defer func() {
		for k, v := range releaseSchema() { // issue 14
			resp.Schema.Attributes[k] = v
		}
	}()
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
			"parallel": schema.Int64Attribute{
				MarkdownDescription: "How many remote rsyncs a push may run at once, each over its own channel of the one SSH " +
					"connection and each owning part of the tree (the top directory, and whole directories below it, deeper " +
					"ones where a directory holds much of the tree). One stock rsync receiver is a single process, and on " +
					"a tree of many small files creating them is what bounds the push; several receivers create them side by " +
					"side. What the push does is the same as with one: the same files created, replaced and deleted (`delete`, " +
					"`exclude` and `protect` included), each file written under a temporary name and renamed, so a failed push " +
					"leaves no half-written file. Unset: chosen from the plan's `pending` counts — one below 2,000 paths, " +
					"otherwise 4 (with no counts, a create that could not list the destination at plan time, from the " +
					"tree's size). `1` is rsync's own single session. A push stays one session whatever this says when it " +
					"could not be split exactly: a single-file source, `hard_links`, `bwlimit`, a server at protocol 29 " +
					"or older, or a tree with fewer than two directories to hand out. Pulls and local copies are never split. " +
					"Between 1 and 8 (sshd allows 10 sessions per connection by default; a server that allows fewer gets the " +
					"parts fewer at a time).",
				Optional:   true,
				Validators: []validator.Int64{int64validator.Between(1, maxParallel)},
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
					"the top directory is `.`), and the full counts: what the next apply will do, and nothing else. A plan's diff " +
					"therefore shows only what is new. Terraform keeps the planned value through the apply; the next refresh, " +
					"which finds nothing pending, empties it (so does an apply whose plan could not list it: a create onto a host " +
					"that does not answer at plan time, or `drift_detection = \"none\"`). What an apply did is in `last_sync`.",
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

					// The estimate (directory_resource_estimate.go).
					"transfer_bytes": schema.Int64Attribute{Computed: true,
						MarkdownDescription: "File data the apply will send, before compression: new files whole, changed files " +
							"only the parts the server's copy does not have, found by matching the local files against block " +
							"checksums the server computes from its copies at plan time (nothing is written on the server). " +
							"For a local copy, which copies changed files whole, their size. Null when the estimate was not made " +
							"(`estimate_transfer = false`, more than `estimate_max_bytes` to compare, a pull, or a server that " +
							"cannot give it: the plan then says why)."},
					"matched_bytes": schema.Int64Attribute{Computed: true,
						MarkdownDescription: "File data of the changed files that the server already holds and the apply will " +
							"re-use instead of sending. Null when `transfer_bytes` is."},
					"bytes": schema.MapAttribute{ElementType: types.StringType, Computed: true,
						MarkdownDescription: "For each listed file that the apply sends data of, how much: `\"1.4 kB of 2.0 GB\"` " +
							"(of a file changed on the server: `\"… (changed on the server)\"`; a new file: `\"… all of it (new)\"`)."},
				},
			},
			"drift": schema.SingleNestedAttribute{
				MarkdownDescription: "Which of the paths in `pending` changed on the destination since the last apply — edited, " +
					"added or removed on the server outside Terraform — as opposed to changed in the source: the first 100 paths and " +
					"the count. The plan also names them in one warning. Empty when nothing drifted; like `pending`, refresh clears it " +
					"once the apply is done. Per path for trees of up to 10,000 entries; for a larger tree whose source also changed, " +
					"the plan says it cannot tell them apart.",
				Computed: true,
				Attributes: map[string]schema.Attribute{
					"paths": schema.ListAttribute{ElementType: types.StringType, Computed: true,
						MarkdownDescription: "Paths changed on the destination (the first 100)."},
					"count": schema.Int64Attribute{Computed: true, MarkdownDescription: "Number of paths changed on the destination."},
				},
			},
			"ssh": connectionSchema(), // "connection" is reserved in resources

			// Issue 14: mkpath (directory_resource_mkpath.go).
			"mkpath": schema.BoolAttribute{
				MarkdownDescription: "Create the missing parent directories of the destination before the transfer, as rsync " +
					"`--mkpath` does, on every server — also rsync older than 3.2.3 and other servers without `--mkpath` — and for " +
					"a local destination. The provider creates them itself (with the privilege prefix of `rsync_path`, e.g. `sudo`), " +
					"so that `chmod` applies to them (the mode `chmod` gives a `0755` directory) and `owner` and `group` too (when " +
					"permitted, as for the copied files); existing directories are left as they are. Defaults to `false`: a missing " +
					"parent is an error.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			// The plan's estimate of the bytes the apply sends
			// (directory_resource_estimate.go).
			"estimate_transfer": schema.BoolAttribute{
				MarkdownDescription: "Whether the plan works out how much file data the apply will send " +
					"(`pending.transfer_bytes`, `pending.matched_bytes`, `pending.bytes`). Default `true`. The server computes " +
					"block checksums of the changed files that it already has, and nothing else; set `false` to spare it that " +
					"read at every plan.",
				Optional: true,
			},
			"estimate_max_bytes": schema.Int64Attribute{
				MarkdownDescription: "The most data of changed files already on the destination that the plan compares to " +
					"estimate the transfer. Default 1 GiB (1073741824). Beyond it the plan skips the estimate and says so.",
				Optional:   true,
				Validators: []validator.Int64{int64validator.AtLeast(0)},
			},
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
	maps.Copy(resp.Schema.Attributes, fidelityAttributes())
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
	// With release, max_delete also limits what pruning removes.
	if !m.MaxDelete.IsNull() && !m.MaxDelete.IsUnknown() && !m.Delete.IsUnknown() && !m.Delete.ValueBool() && m.Release == nil {
		resp.Diagnostics.AddAttributeWarning(path.Root("max_delete"), "max_delete has no effect",
			"max_delete limits deletions, and nothing is deleted unless delete = true. Set delete = true or remove max_delete.")
	}
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
