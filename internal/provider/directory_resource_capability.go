package provider

// Plan-time checks of what the server's rsync can do: an option an old
// server lacks is refused in the plan, naming the server and the option,
// never discovered halfway through an apply.

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
)

// checkServerFeatures asks the server's rsync its version when the
// configuration needs something not every rsync has: owner and group in a
// push travel as --usermap/--groupmap, which rsync 2.6.x and openrsync
// (macOS, OpenBSD) do not take. A pull applies them locally.
func (r *directoryResource) checkServerFeatures(ctx context.Context, cn *conn, c syncConfig) diag.Diagnostics {
	var diags diag.Diagnostics
	if c.Ends.Dir != dirPush || (c.Owner == "" && c.Group == "") {
		return nil
	}
	t, d := cn.transport(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	info, ok, err := rsync.ServerVersion(ctx, t, r.rsyncPath(c))
	if err != nil || !ok {
		// The transfer will say what is wrong with the remote command.
		tflog.Debug(ctx, "could not read the server's rsync version", map[string]interface{}{"error": fmt.Sprint(err)})
		return nil
	}
	if info.CanChown() {
		return nil
	}
	attr, option := "owner", "owner"
	if c.Owner == "" {
		attr, option = "group", "group"
	} else if c.Group != "" {
		option = "owner and group"
	}
	diags.AddAttributeError(path.Root(attr), "The server's rsync cannot set "+option,
		fmt.Sprintf("The server runs %s (%q). %s is applied with rsync's --chown (--usermap/--groupmap), which needs "+
			"rsync 3.1 or later on the server; rsync 2.6.x and openrsync (the rsync of macOS and OpenBSD) lack it. "+
			"Remove %s, or install rsync 3.1+ on the server and point rsync_path at it.",
			info.Describe(), info.Line, capitalize(option), option))
	return diags
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
