package provider

// A create's plan looks at the destination before anything exists in
// state: host key, rsync, the parent directory, and what is already there.

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	fwpath "github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
)

// probeTimeout bounds a create plan's connection attempt: a host that does
// not answer within it is taken as not there yet.
const probeTimeout = 10 * time.Second

// createProbe is what a create's plan learned about the destination.
type createProbe struct {
	// Reached is false when the host did not answer (it may be created in
	// the same apply): the plan then leaves pending unknown.
	Reached bool
	// Exists says whether the tree's root is already there (to be listed).
	Exists bool
}

// probeCreate looks at a create's destination. A remote host is dialled
// once, briefly and without the connect retries an apply makes: a host
// that does not answer is no error (Reached false), but one that answers
// with a wrong host key, refuses the credentials, cannot run rsync, or
// lacks the destination's parent directory fails the plan, as the apply
// would. The connection it opens stays on cn for the listing.
func (r *directoryResource) probeCreate(ctx context.Context, cn *conn, c syncConfig) (createProbe, diag.Diagnostics) {
	var diags diag.Diagnostics
	root := c.root()
	if c.Release != nil {
		// A release deploy reads its app root itself (readRelease).
		return createProbe{}, diags
	}
	if systemRoot(root, c.Ends.Dst.Remote) {
		// The root, the login or the current directory: listing all of it
		// with checksums to plan a create would read a whole file system.
		tflog.Info(ctx, "the destination is a system or login directory; its create plan does not list it",
			map[string]interface{}{"destination": c.Ends.Dst.Raw})
		return createProbe{}, diags
	}
	if !c.Ends.Dst.Remote {
		if fi, err := os.Stat(root.RemovePath); err == nil && !fi.IsDir() {
			// Not a directory: the apply says what is wrong with it.
			return createProbe{}, diags
		}
		exists, err := localExists(root.RemovePath)
		if err != nil {
			diags.AddAttributeError(fwpath.Root("destination"), "Cannot check the destination",
				fmt.Sprintf("Could not check whether %s exists: %v. Check that Terraform may read it.", root.RemovePath, err))
			return createProbe{}, diags
		}
		if !exists {
			parent := filepath.Dir(strings.TrimRight(c.Ends.Dst.Path(), `/\`))
			if ok, err := localExists(parent); err == nil && !ok && !c.MkPath && strings.TrimRight(c.Ends.Dst.Path(), `/\`) != "" {
				diags.AddAttributeError(fwpath.Root("destination"), "Destination's parent directory is missing",
					fmt.Sprintf("%s does not exist, so %s cannot be created in it (rsync creates only the last component "+
						"of the destination). Create the parent directory first.", parent, c.Ends.Dst.Path()))
				return createProbe{}, diags
			}
		}
		return createProbe{Reached: true, Exists: exists}, diags
	}

	ep := c.Ends.Dst
	cfg, d := r.settings.resolve(ctx, c.Connection, ep.Spec.User, ep.Spec.Host)
	diags.Append(d...)
	if diags.HasError() {
		return createProbe{}, diags
	}
	cfg.ConnectRetryTimeout = 0
	if cfg.Timeout <= 0 || cfg.Timeout > probeTimeout {
		cfg.Timeout = probeTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout+5*time.Second)
	defer cancel()
	t, release, err := r.settings.connPool().Transport(pctx, cfg)
	if err != nil {
		if sshconn.Unreachable(err) || pctx.Err() != nil {
			tflog.Info(ctx, "the destination's host does not answer at plan time; pending is known after apply",
				map[string]interface{}{"destination": ep.Raw, "error": err.Error()})
			return createProbe{}, diags
		}
		summary, detail := dialDiagnostic(err, cfg)
		diags.AddAttributeError(fwpath.Root("destination"), summary, detail)
		return createProbe{}, diags
	}
	cn.t, cn.release = t, release

	rsyncPath := r.rsyncPath(c)
	if r.settings.transportMode(c.Connection) == transportRsync {
		if code, msg, err := runCommand(ctx, t, rsyncPath+" --version"); err != nil || code != 0 {
			why := msg
			if err != nil {
				why = err.Error()
			}
			diags.AddAttributeError(fwpath.Root("destination"), "rsync does not run on the destination host",
				fmt.Sprintf("`%s --version` exited with status %d on %s: %s. The remote command %q could not be run, and "+
					"transport = \"rsync\" asks for rsync. Install rsync on the remote host, set the provider's rsync_path "+
					"to the command that starts it, or set transport = \"auto\" (or \"sftp\") to sync over SFTP instead.",
					rsyncPath, code, ep.Spec.Host, safeText(strings.TrimSpace(why)), rsyncPath))
			return createProbe{}, diags
		}
	}
	// With "auto", the choice: rsync when it runs, else SFTP, else an error.
	_, d = cn.engine(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return createProbe{}, diags
	}
	exists, err := cn.exists(ctx, root.RemovePath)
	if err != nil {
		diags.AddAttributeError(fwpath.Root("destination"), "Cannot check the destination",
			fmt.Sprintf("Could not check whether %s exists on %s: %v. Check that the user can run a shell "+
				"command on the host and can read the destination path.", root.RemovePath, ep.Spec.Host, err))
		return createProbe{}, diags
	}
	if exists {
		return createProbe{Reached: true, Exists: true}, diags
	}
	dst := strings.TrimRight(ep.Path(), "/")
	if dst != "" && dst != "." && dst != "~" && !c.MkPath {
		parent := path.Dir(dst)
		ok, err := cn.exists(ctx, parent)
		if err == nil && !ok {
			diags.AddAttributeError(fwpath.Root("destination"), "Destination's parent directory is missing",
				fmt.Sprintf("%s does not exist on %s, so %s cannot be created in it (rsync creates only the last "+
					"component of the destination). Create the parent directory first.", parent, ep.Spec.Host, dst))
			return createProbe{}, diags
		}
	}
	return createProbe{Reached: true}, diags
}

// systemRoot reports whether a destination tree's root is the file
// system's root, a login directory or the current directory.
func systemRoot(root destRoot, remote bool) bool {
	if remote {
		return unsafeRemovePath(root.RemovePath) != nil
	}
	return localRootKind(root.RemovePath) != ""
}
