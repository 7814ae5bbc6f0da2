package provider

// rsync_directory's release block (issue 14): schema, configuration and
// the plan. Each apply that changes the content builds DEST/<dir>/<id>
// (unchanged files hard-linked from the current release with
// --link-dest), then points DEST/<link> at it in one rename, then prunes
// beyond keep. The decisions are in internal/release; the operations on
// the app root in directory_resource_release_site.go; apply, read and
// delete in directory_resource_release_apply.go.

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	fwpath "github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/release"
)

// releaseModel is the release block.
type releaseModel struct {
	Keep   types.Int64  `tfsdk:"keep"`
	Shared types.List   `tfsdk:"shared"`
	ID     types.String `tfsdk:"id"`
	Dir    types.String `tfsdk:"dir"`
	Link   types.String `tfsdk:"link"`
}

// releaseConfig is the resolved release block, and what the app root held
// when it was last read.
type releaseConfig struct {
	Keep   int
	Shared []sharedLink
	ID     string // configured; "" derives it from source_hash
	Dir    string
	Link   string
	// Current is the release the link points to and Releases the kept
	// ones, oldest first, as last read (refresh, or the apply's inspect).
	Current  string
	Releases []string
}

// releaseSchema is the schema of the release block and of the computed
// attributes it fills.
func releaseSchema() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"release": schema.SingleNestedAttribute{
			MarkdownDescription: "Deploy atomically: each apply that changes the content builds a new release directory " +
				"`DEST/releases/<id>/` — files unchanged since the current release are hard links to it (rsync `--link-dest`), " +
				"so only changed files cross the wire and take space — and only when it is complete points `DEST/current` at it, " +
				"by renaming a new relative symlink (`releases/<id>`) over the old one: a reader resolving `current` always gets " +
				"a complete release, old or new. Then releases beyond `keep` are removed, oldest first (never the current one). " +
				"A source that goes back to the content of a kept release, or `id` set to a kept release, switches `current` " +
				"back to that directory without sending file data. Refresh reads the release `current` points to. " +
				"The server's rsync must be 3.1.0 or later (it replaces the link by a rename).",
			Optional: true,
			Attributes: map[string]schema.Attribute{
				"keep": schema.Int64Attribute{
					MarkdownDescription: "How many releases to keep, the current one included. Default `5`.",
					Optional:            true, Computed: true, Default: int64default.StaticInt64(release.DefaultKeep),
					Validators: []validator.Int64{int64validator.AtLeast(1)},
				},
				"shared": schema.ListAttribute{
					MarkdownDescription: "Paths, relative to the release's root, that live outside the releases and are " +
						"the same in all of them — uploads, a `.env` file: each is a symlink in every release to " +
						"`DEST/shared/<path>`, created (empty) if missing; a trailing `/` makes a directory. The provider never " +
						"writes, deletes or hashes anything under `DEST/shared/`. A shared path present in the source is an error.",
					ElementType: types.StringType, Optional: true,
					Validators: []validator.List{listvalidator.ValueStringsAre(sharedValidator{})},
				},
				"id": schema.StringAttribute{
					MarkdownDescription: "The release's id (its directory name): letters, digits, `.`, `_` and `-`. " +
						"Default: derived from `source_hash` (and `owner`/`group`), so the same content is the same release.",
					Optional:   true,
					Validators: []validator.String{nameValidator{}},
				},
				"dir": schema.StringAttribute{
					MarkdownDescription: "The directory of the releases in the destination. Default `\"releases\"`.",
					Optional:            true, Computed: true, Default: stringdefault.StaticString(release.DefaultDir),
					Validators: []validator.String{nameValidator{}},
				},
				"link": schema.StringAttribute{
					MarkdownDescription: "The name of the symlink to the current release in the destination. Default `\"current\"`.",
					Optional:            true, Computed: true, Default: stringdefault.StaticString(release.DefaultLink),
					Validators: []validator.String{nameValidator{}},
				},
			},
		},
		"current_release": schema.StringAttribute{
			MarkdownDescription: "With `release`: the id of the release the link points to, as refresh read it (null when " +
				"it points to no release); planned as the release the apply makes current.",
			Computed: true,
		},
		"releases": schema.ListAttribute{
			MarkdownDescription: "With `release`: the ids of the kept releases, oldest first (in the order they became " +
				"current); planned as what the apply keeps, so the plan shows which releases it removes.",
			ElementType: types.StringType, Computed: true,
		},
	}
}

// releaseConfigOf resolves the release block of m (nil without one).
func releaseConfigOf(ctx context.Context, m directoryModel) (*releaseConfig, diag.Diagnostics) {
	var diags diag.Diagnostics
	if m.Release == nil {
		return nil, diags
	}
	rc := &releaseConfig{
		Keep: release.DefaultKeep, ID: m.Release.ID.ValueString(),
		Dir: release.DefaultDir, Link: release.DefaultLink,
	}
	if v := m.Release.Keep; !v.IsNull() && !v.IsUnknown() {
		rc.Keep = int(v.ValueInt64())
	}
	if v := m.Release.Dir.ValueString(); v != "" {
		rc.Dir = v
	}
	if v := m.Release.Link.ValueString(); v != "" {
		rc.Link = v
	}
	if rc.Dir == rc.Link || rc.Dir == release.SharedDir || rc.Link == release.SharedDir {
		diags.AddAttributeError(fwpath.Root("release"), "Invalid release block",
			fmt.Sprintf("release.dir (%q), release.link (%q) and %q must be three different names.", rc.Dir, rc.Link, release.SharedDir))
	}
	var shared []string
	if l := m.Release.Shared; !l.IsNull() && !l.IsUnknown() {
		diags.Append(l.ElementsAs(ctx, &shared, false)...)
	}
	for _, p := range shared {
		clean, dir, err := release.CleanShared(p)
		if err != nil {
			diags.AddAttributeError(fwpath.Root("release").AtName("shared"), "Invalid shared path", fmt.Sprintf("%q %v.", p, err))
			continue
		}
		rc.Shared = append(rc.Shared, sharedLink{Path: clean, Dir: dir})
	}
	if known(m.CurrentRelease) {
		rc.Current = m.CurrentRelease.ValueString()
	}
	if !m.Releases.IsNull() && !m.Releases.IsUnknown() {
		diags.Append(m.Releases.ElementsAs(ctx, &rc.Releases, false)...)
	}
	return rc, diags
}

// appRoot is the path of the app root: the destination's path without a
// trailing "/" ("" is the login directory).
func (c syncConfig) appRoot() string {
	p := c.Ends.Dst.Path()
	t := strings.TrimRight(p, "/")
	if t == "" && p != "" {
		return "/"
	}
	return t
}

// releaseRoot is where the source lands in the release id (a name that
// is never a release when id is "").
func (c syncConfig) releaseRoot(id string) destRoot {
	if id == "" {
		id = release.PartialPrefix + "none"
	}
	return landing(c.Ends.Src.Path(), c.SourceKnown, c.releasePath(id), c.Ends.Dst.Remote)
}

// releasePath is the path of a directory of the releases directory.
func (c syncConfig) releasePath(name string) string {
	root := c.appRoot()
	if c.Ends.Dst.Remote {
		if root == "" {
			return c.Release.Dir + "/" + name
		}
		return path.Join(root, c.Release.Dir, name)
	}
	return filepath.Join(root, c.Release.Dir, name)
}

// sharedExcludes are the exclude patterns that keep the shared paths out
// of transfers, listings and hashes: anchored at the tree's root, without
// a trailing "/" so that they match the links as well as directories.
func sharedExcludes(rc *releaseConfig, prefix string) []string {
	out := make([]string, 0, len(rc.Shared))
	for _, s := range rc.Shared {
		out = append(out, "/"+path.Join(prefix, s.Path))
	}
	return out
}

// sharedParents are protect patterns for the directories that shared
// paths are in: the provider creates them in a release when the source
// lacks them, and delete = true must not remove them.
func sharedParents(rc *releaseConfig, prefix string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range rc.Shared {
		for d := path.Dir(s.Path); d != "."; d = path.Dir(d) {
			if p := "/" + path.Join(prefix, d) + "/"; !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// targetID is the release an apply makes current.
func (rc *releaseConfig) targetID(sourceHash, owner, group string) string {
	if rc.ID != "" {
		return rc.ID
	}
	return release.DefaultID(sourceHash, owner, group)
}

// releasePlan is what the plan decides for the release attributes.
type releasePlan struct {
	Target string
	Kept   []string // nil when the releases are not known (create)
	Prune  []string
	Work   bool // switch or prune: the apply must run even with no file to change
}

// planRelease decides the release attributes from the prior state.
func planRelease(c syncConfig, priorExists bool, sourceHash string) releasePlan {
	rc := c.Release
	rp := releasePlan{Target: rc.targetID(sourceHash, c.Owner, c.Group)}
	if !priorExists {
		rp.Work = true
		return rp
	}
	rp.Kept, rp.Prune = release.Next(rc.Releases, rp.Target, rc.Keep)
	rp.Work = rp.Target != rc.Current || len(rp.Prune) > 0 || !slices.Equal(rp.Kept, rc.Releases)
	return rp
}

// stringList is a list value of strings (null for nil).
func stringList(ss []string) types.List {
	if ss == nil {
		return types.ListNull(types.StringType)
	}
	vals := make([]attr.Value, len(ss))
	for i, s := range ss {
		vals[i] = types.StringValue(s)
	}
	return types.ListValueMust(types.StringType, vals)
}

// setReleaseComputed plans current_release and releases: null without a
// release block, unknown when the configuration is not known yet, as
// planned when there is work, else as they are.
func setReleaseComputed(ctx context.Context, resp *resource.ModifyPlanResponse, c *syncConfig, rp *releasePlan, work bool, prior directoryModel) {
	cur, rels := types.StringNull(), types.ListNull(types.StringType)
	switch {
	case c == nil:
		cur, rels = types.StringUnknown(), types.ListUnknown(types.StringType)
	case c.Release == nil: // null, as in the state
	case rp == nil:
		cur, rels = types.StringUnknown(), types.ListUnknown(types.StringType)
	case !work:
		cur, rels = prior.CurrentRelease, prior.Releases
	default:
		cur = types.StringValue(rp.Target)
		rels = types.ListUnknown(types.StringType)
		if rp.Kept != nil {
			rels = stringList(rp.Kept)
		}
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, fwpath.Root("current_release"), cur)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, fwpath.Root("releases"), rels)...)
}

// sharedInSource fails the plan when a local source holds a shared path
// (the shared excludes keep it out of the source's manifest, so the
// source itself is looked at). A remote source is not checked: its path
// is excluded from the pull.
func sharedInSource(c syncConfig) diag.Diagnostics {
	var diags diag.Diagnostics
	if c.Release == nil || c.Ends.Src.Remote || !c.SourceKnown {
		return diags
	}
	for _, s := range c.Release.Shared {
		if _, err := os.Lstat(filepath.Join(c.Ends.Src.Path(), filepath.FromSlash(s.Path))); err == nil {
			diags.AddAttributeError(fwpath.Root("release").AtName("shared"), "Shared path in the source",
				fmt.Sprintf("%q is a shared path, so every release links it to %s/%s, but the source has it too. "+
					"Remove it from the source, or from release.shared.", s.Path, release.SharedDir, s.Path))
		}
	}
	return diags
}

// nameValidator checks a release id, dir or link name.
type nameValidator struct{}

func (nameValidator) Description(context.Context) string {
	return "one path component of letters, digits, \".\", \"_\" and \"-\", not starting with \".\" or \"-\""
}

func (v nameValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (nameValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := release.ValidName(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid name",
			fmt.Sprintf("%s: %q %v. Write one name of letters, digits, \".\", \"_\" and \"-\", e.g. \"v42\".", req.Path, req.ConfigValue.ValueString(), err))
	}
}

// sharedValidator checks a shared path.
type sharedValidator struct{}

func (sharedValidator) Description(context.Context) string {
	return "a relative path inside the release, e.g. \"uploads/\" or \".env\""
}

func (v sharedValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (sharedValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, _, err := release.CleanShared(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid shared path",
			fmt.Sprintf("%q %v. Write a path relative to the release's root, e.g. \"uploads/\" or \".env\".", req.ConfigValue.ValueString(), err))
	}
}
