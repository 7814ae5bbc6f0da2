package provider

// transport = "auto" | "rsync" | "sftp": which engine a connection uses.
// rsync (internal/rsync) when the remote rsync_path runs; otherwise, with
// "auto", the server's SFTP subsystem (internal/sftpsync), whole files at
// a time. The choice is made once per account in a provider process.

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sftpsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

const (
	transportAuto  = "auto"
	transportRsync = "rsync"
	transportSFTP  = "sftp"
)

// transportAttr is the transport attribute, for the provider and `ssh`.
func transportAttr(scope string) connAttr {
	return connAttr{name: "transport", kind: kindString,
		strV: []validator.String{stringvalidator.OneOf(transportAuto, transportRsync, transportSFTP)},
		desc: "How files travel: `\"rsync\"` (the rsync protocol, to the server's `rsync_path`), `\"sftp\"` (the server's " +
			"SFTP subsystem, whole files, for hosts without rsync) or `\"auto\"` (default): rsync when `rsync_path` runs on " +
			"the server, else SFTP, with a plan-time warning saying so. Over SFTP, `hard_links`, `sparse`, `backup_dir`, " +
			"`release`, `owner`, `group`, `compress` and `bwlimit` are refused at plan." + scope}
}

// transportMode is conn's transport, else the provider's, else "auto".
func (s *connSettings) transportMode(conn *connectionModel) string {
	if conn != nil && known(conn.Transport) && conn.Transport.ValueString() != "" {
		return conn.Transport.ValueString()
	}
	if s != nil && s.Transport != "" {
		return s.Transport
	}
	return transportAuto
}

// engineChoice is the engine a connection uses.
type engineChoice struct {
	SFTP bool
	// Why is why SFTP: `transport = "sftp"`, or what running rsync_path
	// answered.
	Why string
}

// engineCache keeps each account's choice for the provider process, so
// that refresh, plan and apply in one command probe the server once, and
// the resources of one host refreshed at once probe it once between them.
type engineCache struct {
	mu sync.Mutex
	m  map[string]*engineEntry
}

// engineEntry is one account's choice; its mu is held while it is made.
type engineEntry struct {
	mu     sync.Mutex
	done   bool
	choice engineChoice
}

// entry returns key's entry, locked: the caller sets it (done) when it
// could choose, and unlocks it.
func (e *engineCache) entry(key string) *engineEntry {
	if e == nil {
		en := &engineEntry{}
		en.mu.Lock()
		return en
	}
	e.mu.Lock()
	if e.m == nil {
		e.m = map[string]*engineEntry{}
	}
	en, ok := e.m[key]
	if !ok {
		en = &engineEntry{}
		e.m[key] = en
	}
	e.mu.Unlock()
	en.mu.Lock()
	return en
}

// engine decides (once) which engine the connection uses: with "auto",
// rsync when `rsync_path --version` succeeds, else SFTP when the server
// has the subsystem; an error when it has neither.
func (c *conn) engine(ctx context.Context) (engineChoice, diag.Diagnostics) {
	var diags diag.Diagnostics
	if c.choice != nil {
		return *c.choice, nil
	}
	mode := c.r.settings.transportMode(c.connection)
	if mode == transportRsync {
		c.choice = &engineChoice{}
		return *c.choice, nil
	}
	t, d := c.transport(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return engineChoice{}, diags
	}
	ep, _ := c.ends.remote()
	rsyncPath := c.r.settings.rsyncPath(c.connection)
	key := mode + "\x00" + rsyncPath + "\x00" + c.r.account(syncConfig{Connection: c.connection}, ep.Spec)
	entry := c.r.settings.engines.entry(key)
	defer entry.mu.Unlock()
	if entry.done {
		c.choice = &entry.choice
		if entry.choice.SFTP {
			if _, d := c.sftpSession(ctx); d.HasError() {
				return engineChoice{}, d
			}
		}
		return entry.choice, nil
	}
	choice := engineChoice{SFTP: true, Why: `transport = "sftp"`}
	var rsyncFailure string // auto: what running rsync_path answered, in the words of rsync's own plan error
	if mode == transportAuto {
		out, code, msg, err := runCommandOutput(ctx, t, rsyncPath+" --version")
		if err != nil {
			diags.AddAttributeError(path.Root(c.attrName()), "Cannot run a command on the remote host",
				fmt.Sprintf("Running `%s --version` on %s to choose between rsync and SFTP failed: %s.", rsyncPath, ep.Spec.Host, safeText(err.Error())))
			return engineChoice{}, diags
		}
		_, isRsync := rsync.ParseVersion(out)
		switch {
		case code == 0 && isRsync:
			choice = engineChoice{}
		case code == 0:
			// A host that runs every session as something else (sshd's
			// ForceCommand internal-sftp, a menu) exits 0 without an
			// rsync version.
			choice.Why = fmt.Sprintf("`%s --version` printed no rsync version on %s", rsyncPath, ep.Spec.Host)
		default:
			choice.Why = fmt.Sprintf("`%s --version` exited with status %d on %s (%s)", rsyncPath, code, ep.Spec.Host,
				safeText(strings.TrimSpace(msg)))
			rsyncFailure = fmt.Sprintf("`%s --version` exited with status %d on %s: %s. The remote command %q could not be run.",
				rsyncPath, code, ep.Spec.Host, safeText(strings.TrimSpace(msg)), rsyncPath)
		}
	}
	if choice.SFTP {
		if _, d := c.sftpSession(ctx); d.HasError() {
			if mode == transportAuto {
				if rsyncFailure == "" {
					rsyncFailure = capitalize(choice.Why) + "."
				}
				diags.AddAttributeError(path.Root(c.attrName()), fmt.Sprintf("rsync does not run on the %s host", c.attrName()),
					fmt.Sprintf("%s Install rsync on the remote host, or set the provider's rsync_path to the command that "+
						"starts it. (transport = \"auto\" would sync over SFTP instead, but the host's SFTP subsystem "+
						"could not be started either: %s. Enabling it in sshd, `Subsystem sftp internal-sftp`, is the "+
						"other way.)", rsyncFailure, diagText(d)))
				return engineChoice{}, diags
			}
			return engineChoice{}, d
		}
	}
	tflog.Debug(ctx, "transport chosen", map[string]interface{}{"sftp": choice.SFTP, "why": choice.Why, "host": ep.Spec.Host})
	entry.choice, entry.done = choice, true
	c.choice = &choice
	return choice, nil
}

// attrName is the attribute connection problems are reported on.
func (c *conn) attrName() string {
	switch {
	case c.attr != "":
		return c.attr
	case c.ends.Dir == dirPull:
		return "source"
	}
	return "destination"
}

// sftpSession opens (once) the SFTP session of the connection.
func (c *conn) sftpSession(ctx context.Context) (*sftpsync.Session, diag.Diagnostics) {
	var diags diag.Diagnostics
	if c.sftp != nil {
		return c.sftp, nil
	}
	t, d := c.transport(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return nil, diags
	}
	st, ok := t.(sftpsync.Starter)
	if !ok {
		diags.AddError("SFTP not available", "This is a bug in the provider: the connection cannot start an SSH subsystem.")
		return nil, diags
	}
	s, err := sftpsync.Open(ctx, st, t)
	if err != nil {
		ep, _ := c.ends.remote()
		diags.AddAttributeError(path.Root(c.attrName()), "SFTP session failed",
			fmt.Sprintf("Could not start an SFTP session on %s: %s.", ep.Spec.Host, safeText(err.Error())))
		return nil, diags
	}
	c.sftp = s
	return s, nil
}

// useSFTP reports whether the remote side goes over SFTP (deciding it
// if needed).
func (c *conn) useSFTP(ctx context.Context) (bool, diag.Diagnostics) {
	if _, ok := c.ends.remote(); !ok {
		return false, nil
	}
	ch, d := c.engine(ctx)
	return ch.SFTP, d
}

// exists reports whether a remote path exists: over SFTP with lstat,
// else with a `test` command.
func (c *conn) exists(ctx context.Context, p string) (bool, error) {
	if sftp, d := c.useSFTP(ctx); d.HasError() {
		return false, fmt.Errorf("%s", diagText(d))
	} else if sftp {
		s, d := c.sftpSession(ctx)
		if d.HasError() {
			return false, fmt.Errorf("%s", diagText(d))
		}
		return s.Exists(ctx, p)
	}
	t, d := c.transport(ctx)
	if d.HasError() {
		return false, fmt.Errorf("%s", diagText(d))
	}
	return remoteExists(ctx, t, existsCommand(p))
}

// listVia lists a remote tree with the connection's engine. Over SFTP
// without a hash command on the server, a content listing falls back to
// metadata (size, mtime, type, mode): its manifest says so in its Mode.
func (c *conn) listVia(ctx context.Context, listPath, prefix string, f filterSet, mode tree.Mode) (*tree.Manifest, []string, error) {
	sftp, d := c.useSFTP(ctx)
	if d.HasError() {
		return nil, nil, fmt.Errorf("%s", diagText(d))
	}
	t, d := c.transport(ctx)
	if d.HasError() {
		return nil, nil, fmt.Errorf("%s", diagText(d))
	}
	if !sftp {
		return listRemote(ctx, t, listPath, prefix, f, mode, c.r.settings.rsyncPath(c.connection))
	}
	s, d := c.sftpSession(ctx)
	if d.HasError() {
		return nil, nil, fmt.Errorf("%s", diagText(d))
	}
	inc, exc := f.engineFilters()
	l, err := s.List(ctx, listPath, rsync.Options{Checksum: mode == tree.Content, Include: inc, Exclude: exc})
	if err != nil {
		return nil, nil, err
	}
	algo, ok := csum.ByName(l.Checksum)
	if !ok {
		mode = tree.Metadata
	}
	return tree.FromEntriesWith(l.Entries, prefix, mode, algo, f.Fidelity.treeOptions()), nil, nil
}

// sftpDriftText says how drift is detected over SFTP.
func sftpDriftText(ctx context.Context, s *sftpsync.Session, drift string) string {
	if drift == driftNone {
		return "Drift detection is off (drift_detection = \"none\")."
	}
	if drift == driftMetadata {
		return "Drift is detected by size, modification time, type and permissions (drift_detection = \"metadata\")."
	}
	if h := s.Hasher(ctx); h != nil {
		return fmt.Sprintf("Drift is detected by content: md5 digests computed on the server with `%s`.", h.Command())
	}
	return "Drift is detected by size, modification time, type and permissions only: the server runs no hash command " +
		"(`md5sum` or `md5 -r`) over SSH, so an edit that keeps a file's size and time goes unnoticed."
}

// planTransport is the plan's word on the transport of a remote side:
// over SFTP, one warning saying so (and why, and how drift is detected),
// and an error for each option SFTP cannot honour.
func (r *directoryResource) planTransport(ctx context.Context, cn *conn, c syncConfig) diag.Diagnostics {
	var diags diag.Diagnostics
	ep, ok := c.Ends.remote()
	if !ok {
		return nil
	}
	ch, d := cn.engine(ctx)
	diags.Append(d...)
	if diags.HasError() || !ch.SFTP {
		return diags
	}
	diags.Append(sftpRefusals(c)...)
	if diags.HasError() {
		return diags
	}
	s, d := cn.sftpSession(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	atomic := "renamed into place with posix-rename@openssh.com, so no reader sees a partly written file"
	if !s.PosixRename() {
		atomic = "renamed into place (the server lacks posix-rename@openssh.com: the old file is removed just before, " +
			"so a reader may briefly find it missing, never torn)"
	}
	diags.AddAttributeWarning(path.Root(cn.attrName()), "Syncing over SFTP",
		fmt.Sprintf("%s is reached over SFTP: %s. Whole files are sent (no delta transfer): each changed file is written "+
			"to a temporary name beside it and %s; modification times are kept to the second. %s",
			ep.Spec.Host, ch.Why, atomic, sftpDriftText(ctx, s, c.Drift)))
	return diags
}

// sftpRefusals are the errors for options an SFTP sync cannot honour,
// each on its attribute.
func sftpRefusals(c syncConfig) diag.Diagnostics {
	var diags diag.Diagnostics
	refuse := func(attr, what string) {
		diags.AddAttributeError(path.Root(attr), "Not possible over SFTP",
			fmt.Sprintf("%s cannot be honoured over SFTP (the transport of this resource: rsync does not run on the "+
				"server, or transport = \"sftp\"). Remove %s, or install rsync on the server and use transport = \"rsync\".",
				what, attr))
	}
	f := c.Filters.Fidelity
	if f.HardLinks {
		refuse("hard_links", "hard_links = true (keeping hard links)")
	}
	if f.Sparse {
		refuse("sparse", "sparse = true (writing holes)")
	}
	if f.BackupDir != "" {
		refuse("backup_dir", "backup_dir (keeping replaced files)")
	}
	if f.BwLimit > 0 {
		refuse("bwlimit", "bwlimit")
	}
	if c.Release != nil {
		refuse("release", "A release block (hard-linked releases and an atomic symlink switch)")
	}
	if c.Owner != "" {
		refuse("owner", "owner (SFTP sets numeric ids only)")
	}
	if c.Group != "" {
		refuse("group", "group (SFTP sets numeric ids only)")
	}
	if c.Compress {
		refuse("compress", "compress = true (rsync's -z)")
	}
	return diags
}

// overSFTP reports whether the engine is already known to be SFTP.
func (c *conn) overSFTP() bool { return c.choice != nil && c.choice.SFTP }

// sftpSpecials refuses a source that holds device files, fifos or sockets
// the options would copy: SFTP cannot create them, so the plan would never
// settle. devices = false and specials = false leave them out, as rsync's
// --no-devices and --no-specials do.
func sftpSpecials(src *tree.Manifest) diag.Diagnostics {
	var seen sourceSpecials
	for i := range src.Items {
		seen.add(&src.Items[i])
	}
	return seen.diags()
}

// sourceSpecials gathers what sftpSpecials refuses, an item at a time:
// the first names of the device files and of the fifos and sockets the
// source holds (those the options copy), and how many of each.
type sourceSpecials struct {
	devices, specials   []string
	nDevices, nSpecials int
}

// specialsShown is how many names of each the error gives.
const specialsShown = 10

func (s *sourceSpecials) add(it *tree.Item) {
	switch {
	case it.Ignored:
	case it.Kind == tree.CharDevice || it.Kind == tree.BlockDevice:
		if s.nDevices < specialsShown {
			s.devices = append(s.devices, strings.Clone(it.Name))
		}
		s.nDevices++
	case it.Kind == tree.Fifo || it.Kind == tree.Socket:
		if s.nSpecials < specialsShown {
			s.specials = append(s.specials, strings.Clone(it.Name))
		}
		s.nSpecials++
	}
}

// diags is sftpSpecials' verdict on what was added.
func (s *sourceSpecials) diags() diag.Diagnostics {
	var diags diag.Diagnostics
	for _, x := range []struct {
		attr, what string
		names      []string
		n          int
	}{{"devices", "device files", s.devices, s.nDevices}, {"specials", "fifos or sockets", s.specials, s.nSpecials}} {
		if x.n > 0 {
			diags.AddAttributeError(path.Root(x.attr), "Not possible over SFTP",
				fmt.Sprintf("The source holds %d %s (%s), which SFTP (the transport of this resource) cannot create. "+
					"Set %s = false to leave them out, or exclude them, or install rsync on the server.",
					x.n, x.what, firstPathsOf(x.names, x.n), x.attr))
		}
	}
	return diags
}
