package provider

// Servers speaking rsync protocols below 29 (OpenBSD's openrsync, rsync
// before 2.6.4, a newer rsync with --protocol=27/28) delete without telling
// the client: only from 29 does a server generator send MSG_DELETED
// (log.c:log_delete). What a dry run cannot count is counted from listings.

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// deletionsUnreported reports whether a dry run's changes leave out what
// the server will delete.
func deletionsUnreported(c syncConfig, res *rsync.Result) bool {
	// Protocol is 0 for an SFTP sync, which reports every deletion.
	return c.Ends.Dir == dirPush && res.Protocol > 0 && res.Protocol < 29
}

// listedDeletions is what a push with delete will delete: the destination
// entries the source does not have, less protected ones, from a listing of
// each side (the plan's own comparison).
func (r *directoryResource) listedDeletions(ctx context.Context, cn *conn, c syncConfig) (int, []string, diag.Diagnostics) {
	var diags diag.Diagnostics
	dest, d := r.destManifest(ctx, cn, c, csum.MD4)
	diags.Append(d...)
	if diags.HasError() {
		return 0, nil, diags
	}
	src, d := r.sourceManifest(ctx, cn, c, dest.Algo, true)
	diags.Append(d...)
	if diags.HasError() {
		return 0, nil, diags
	}
	del, d := unprotected(tree.Diff(src, dest, true, nil).Delete, c)
	diags.Append(d...)
	return len(del), del[:min(10, len(del))], diags
}
