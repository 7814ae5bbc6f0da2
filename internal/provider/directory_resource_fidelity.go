package provider

// rsync -a's fidelity options of rsync_directory (devices, specials,
// hard_links, sparse) and the two transfer options backup_dir and
// bwlimit: their schema, their model and what they mean for the engine
// and for the manifests behind source_hash and drift detection.

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// fidelityModel is embedded in directoryModel. The booleans are optional
// without a default in the schema: null means rsync -a's choice, so state
// written before they existed plans no change.
type fidelityModel struct {
	Devices   types.Bool   `tfsdk:"devices"`
	Specials  types.Bool   `tfsdk:"specials"`
	HardLinks types.Bool   `tfsdk:"hard_links"`
	Sparse    types.Bool   `tfsdk:"sparse"`
	BackupDir types.String `tfsdk:"backup_dir"`
	BwLimit   types.Int64  `tfsdk:"bwlimit"`
}

func fidelityAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"devices": schema.BoolAttribute{
			MarkdownDescription: "Copy device files (rsync `--devices`, half of `-a`'s `-D`). Default `true`. The receiving side " +
				"creates them only when it runs as root (e.g. `rsync_path = \"sudo rsync\"` for a push); otherwise they are " +
				"skipped, as rsync skips them, and — being in `source_hash` — keep showing in `pending`: set `devices = false` then. " +
				"With `false` they are left out of `source_hash` and drift detection, and whatever stands at their names " +
				"on the destination is neither replaced nor deleted. Pulling as root from a host you do not trust, set it to " +
				"`false`: a device file it lists (say, a world-writable disk) would be created as listed.",
			Optional: true,
		},
		"specials": schema.BoolAttribute{
			MarkdownDescription: "Copy fifos and sockets (rsync `--specials`, the other half of `-D`). Default `true`. " +
				"With `false` they are skipped (each plan says so in a warning naming them), left out of `source_hash` and " +
				"drift detection, and whatever stands at their names on the destination is neither replaced nor deleted.",
			Optional: true,
		},
		"hard_links": schema.BoolAttribute{
			MarkdownDescription: "Keep hard-linked files hard-linked (rsync `-H`): names of one inode in the source are one " +
				"inode on the destination, and their data is sent once. Default `false` (as with `-a`): each name lands as a " +
				"separate copy. With `true`, `source_hash` and drift detection include which names are links of which, so a " +
				"link broken on the destination shows up as drift.",
			Optional: true,
		},
		"sparse": schema.BoolAttribute{
			MarkdownDescription: "Write runs of zeros as holes on the destination (rsync `-S`), so sparse files (disk images, " +
				"databases) do not land fully allocated. Default `false`. Content and hashes are the same either way.",
			Optional: true,
		},
		"backup_dir": schema.StringAttribute{
			MarkdownDescription: "Keep every file the apply replaces or deletes in this directory, under its path relative to " +
				"the destination (rsync `--backup --backup-dir`); a later backup of the same path replaces the earlier one. " +
				"A relative path is relative to the destination (e.g. `\".backup\"`, or `\"../backups\"` beside it). " +
				"A backup directory inside the destination is excluded from the sync: it is never deleted (also with " +
				"`delete = true`), never overwritten by a source path of the same name, and not part of `destination_hash` " +
				"or drift detection (an absolute path counts as inside only when `destination` is absolute too).",
			Optional:   true,
			Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		"bwlimit": schema.Int64Attribute{
			MarkdownDescription: "Bandwidth limit in KiB per second (rsync `--bwlimit`), applied by the provider to what it " +
				"writes to and reads from the connection, each direction: a push's file data, a pull's, and a local copy's. " +
				"Refresh and plan listings are not limited. Default: no limit.",
			Optional:   true,
			Validators: []validator.Int64{int64validator.AtLeast(1)},
		},
	}
}

// fidelityConfig is the resolved fidelityModel. The zero value is rsync
// -a: devices and specials, no hard links, no sparse files, no backups,
// no limit. It travels in filterSet, since what it keeps out of a sync
// (devices, specials) or adds to a listing (hard links) defines the
// listing as the filters do.
type fidelityConfig struct {
	NoDevices, NoSpecials bool
	HardLinks, Sparse     bool
	BackupDir             string
	BwLimit               int64
}

func fidelityConfigOf(m fidelityModel) fidelityConfig {
	return fidelityConfig{
		NoDevices:  !m.Devices.IsNull() && !m.Devices.ValueBool(),
		NoSpecials: !m.Specials.IsNull() && !m.Specials.ValueBool(),
		HardLinks:  m.HardLinks.ValueBool(),
		Sparse:     m.Sparse.ValueBool(),
		BackupDir:  m.BackupDir.ValueString(),
		BwLimit:    m.BwLimit.ValueInt64(),
	}
}

// fidelityKnown reports whether every fidelity value is known at plan time.
func fidelityKnown(m fidelityModel) bool {
	return !m.Devices.IsUnknown() && !m.Specials.IsUnknown() && !m.HardLinks.IsUnknown() &&
		!m.Sparse.IsUnknown() && !m.BackupDir.IsUnknown() && !m.BwLimit.IsUnknown()
}

// key is the part of a listing's cache key the options decide.
func (f fidelityConfig) key() string {
	return fmt.Sprintf("D%v S%v H%v", !f.NoDevices, !f.NoSpecials, f.HardLinks)
}

// treeOptions is what the manifests describe for these options.
func (f fidelityConfig) treeOptions() tree.Options {
	return tree.Options{Devices: !f.NoDevices, Specials: !f.NoSpecials, HardLinks: f.HardLinks}
}

// listOptions sets what a listing of either side needs to describe the
// tree as these options sync it.
func (f fidelityConfig) listOptions(o *rsync.Options) {
	o.NoDevices, o.NoSpecials, o.HardLinks = f.NoDevices, f.NoSpecials, f.HardLinks
}

// engineOptions sets the transfer's options.
func (f fidelityConfig) engineOptions(o *rsync.Options) {
	f.listOptions(o)
	o.Sparse, o.BackupDir, o.BwLimit = f.Sparse, f.BackupDir, int(f.BwLimit)
}

// withBackupExcluded leaves a backup directory inside the destination out
// of the sync, the listings and the hashes, as the engine leaves it out
// of the transfer (rsync.BackupExclude).
func (f filterSet) withBackupExcluded(dest string) filterSet {
	pattern, ok := rsync.BackupExclude(f.Fidelity.BackupDir, dest)
	if !ok {
		return f
	}
	f.Exclude = append([]string{pattern}, f.Exclude...)
	return f
}

// warningSummary is the summary of a warning about one side's tree: what
// the options deliberately leave out (devices or specials false) is said
// as such, not as an unreadable part.
func warningSummary(w, unreadable string) string {
	switch {
	case strings.HasSuffix(w, ": devices is false"):
		return "Device files skipped (devices = false)"
	case strings.HasSuffix(w, ": specials is false"):
		return "Special files skipped (specials = false)"
	}
	return unreadable
}
