package provider

// Delete: `terraform destroy`, which keeps the files unless on_destroy says otherwise.

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

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
	r.settings.manifests.drop(r.destKey(c))
	defer r.forgetSourcesAfterWrite(ctx, state)
	if c.Release != nil {
		r.deleteRelease(ctx, resp, c)
		return
	}
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
	if sftp, d := cn.useSFTP(ctx); d.HasError() {
		resp.Diagnostics.Append(d...)
		return
	} else if sftp {
		s, d := cn.sftpSession(ctx)
		resp.Diagnostics.Append(d...)
		if resp.Diagnostics.HasError() {
			return
		}
		if err := s.RemoveAll(ctx, strings.TrimSuffix(root.RemovePath, "/")); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("on_destroy"), "Cannot delete the destination",
				fmt.Sprintf("on_destroy = \"delete\": removing %s on %s over SFTP failed: %s. Check that the SSH user may remove it, "+
					"or set on_destroy = \"keep\".", root.RemovePath, c.Ends.Dst.Spec.Host, safeText(err.Error())))
		}
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
