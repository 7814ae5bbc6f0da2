package provider

// The resolved configuration of one rsync_directory (syncConfig), the keys
// that identify its ends, and the per-operation connection (conn).

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sftpsync"
)

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
	// Parallel is the parallel attribute; 0 when unset (automatic).
	Parallel   int
	OnDestroy  string
	Connection *connectionModel // nil: the provider's settings
	// AllowDeleteRoot lets delete = true sync into the root, login or
	// current directory (deleteRootError).
	AllowDeleteRoot bool
	// Chmod, Owner and Group are rsync's --chmod and --chown.
	Chmod string
	Owner string
	Group string

	// Issue 14: MkPath creates the destination's missing parents.
	MkPath bool
	// Release is the release block (nil: the tree is synced in place).
	Release *releaseConfig
	// LinkDest are the transfer's --link-dest directories (a release's).
	LinkDest []string
	// TransferDir, when set, is the directory the transfer writes instead
	// of the destination (a release's directory).
	TransferDir string
	// Estimate is estimate_transfer; EstimateMax estimate_max_bytes
	// (directory_resource_estimate.go).
	Estimate    bool
	EstimateMax int64
}

// transferDest is the path the transfer writes: TransferDir, else the
// destination's path.
func (c syncConfig) transferDest() string {
	if c.TransferDir != "" {
		return c.TransferDir
	}
	return c.Ends.Dst.Path()
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

		MkPath: m.MkPath.ValueBool(),
	}
	c.Filters.Fidelity = fidelityConfigOf(m.fidelityModel)
	if c.Drift == "" {
		c.Drift = driftChecksum
	}
	c.Estimate, c.EstimateMax = estimateSettings(m)
	if c.OnDestroy == "" {
		c.OnDestroy = onDestroyKeep
	}
	if !m.MaxDelete.IsNull() && !m.MaxDelete.IsUnknown() {
		v := m.MaxDelete.ValueInt64()
		c.MaxDelete = &v
	}
	if !m.Parallel.IsNull() && !m.Parallel.IsUnknown() {
		c.Parallel = int(m.Parallel.ValueInt64())
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
	rc, d := releaseConfigOf(ctx, m)
	diags.Append(d...)
	c.Release = rc
	if c.SourceKnown {
		ends, attr, err := parseEnds(m.Source.ValueString(), m.Destination.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root(attr), "Invalid "+attr, endpointDetail(attr, err))
			return c, diags
		}
		c.Ends = ends
		c.Filters = c.Filters.withBackupExcluded(ends.Dst.Path())
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
	if c.Release != nil {
		prefix := c.Ends.landing(c.SourceKnown).Prefix
		c.Filters.Exclude = append(c.Filters.Exclude, sharedExcludes(c.Release, prefix)...)
		c.Filters.Protect = append(c.Filters.Protect, sharedParents(c.Release, prefix)...)
	}
	return c, diags
}

// configKnown reports whether every configured value of m is known (it may
// not be at plan time when it comes from another resource).
func configKnown(m directoryModel) bool {
	for _, v := range []attr.Value{m.Source, m.Destination, m.Delete, m.Exclude, m.Include, m.Protect,
		m.Checksum, m.Compress, m.DriftDetection, m.OnDestroy, m.MaxDelete, m.AllowDeleteRoot, m.Chmod, m.Owner, m.Group,
		m.MkPath, m.Parallel} {
		if v.IsUnknown() {
			return false
		}
	}
	if !fidelityKnown(m.fidelityModel) {
		return false
	}
	if rm := m.Release; rm != nil {
		for _, v := range []attr.Value{rm.Keep, rm.Shared, rm.ID, rm.Dir, rm.Link} {
			if v.IsUnknown() {
				return false
			}
		}
	}
	if m.EstimateTransfer.IsUnknown() || m.EstimateMaxBytes.IsUnknown() {
		return false
	}
	return connectionKnown(m.Connection)
}

// root is where the source lands.
func (c syncConfig) root() destRoot {
	if c.Release != nil {
		return c.releaseRoot(c.Release.Current)
	}
	return c.Ends.landing(c.SourceKnown)
}

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
	// choice is the engine (connection_transport.go); sftp its SFTP
	// session, when it is SFTP.
	choice *engineChoice
	sftp   *sftpsync.Session
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
	if c.sftp != nil {
		_ = c.sftp.Close()
		c.sftp = nil
	}
	if c.release != nil {
		c.release()
		c.release, c.t = nil, nil
	}
}
