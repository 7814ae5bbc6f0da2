package provider

// Refresh's existence check and its listing in one server session: the
// listing's remote command first tests that the tree is there, and exits
// with missingStatus before rsync starts when it is not. Each resource
// refreshed then costs the server one session, not two (a session is an
// sshd child, a shell and, for the check, nothing else: on a fleet of
// destinations sharing one host it was a third of the sessions a plan
// opened).

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// missingStatus is the exit status of a guarded listing whose tree is
// missing. No status rsync, a shell or ssh exits with is 97: rsync's are
// at most 35 (errcode.h), a shell's command-not-found and not-executable
// are 126 and 127, a signal 128 and up, ssh's own failure 255.
const missingStatus = 97

// guardedRsyncPath is the remote command that starts rsync (rsyncPath)
// only when p exists — tested as existsCommand tests it — and otherwise
// exits with missingStatus. rsync_path may itself be shell syntax ("cd
// /srv && rsync"), so it follows the guard as written, not under exec.
func guardedRsyncPath(p, rsyncPath string) string {
	return existsCommand(p) + " || exit " + strconv.Itoa(missingStatus) + "; " + rsyncPath
}

// listIfExists lists a remote destination over rsync (destManifest's
// listing) in the session that checks its tree exists. exists is false
// when the tree is gone; checkErr says that whether it exists could not be
// told (the existence check's own failure); diags are the listing's, for a
// tree that exists.
func (r *directoryResource) listIfExists(ctx context.Context, cn *conn, c syncConfig) (m *tree.Manifest, exists bool, diags diag.Diagnostics, checkErr error) {
	var warnings []string
	exists, err, checkErr := r.guardedListing(ctx, cn, c, func(t rsync.Transport, rsyncPath string) error {
		root := c.root()
		var err error
		m, warnings, err = listRemote(ctx, t, root.ListPath, root.Prefix, c.Filters, manifestMode(c.Drift), rsyncPath)
		return err
	})
	if !exists || checkErr != nil {
		return nil, exists, nil, checkErr
	}
	m, diags = r.destListed(c, m, warnings, err)
	return m, true, diags, nil
}

// guardedListing runs list, a listing of c's destination through the
// remote command rsyncPath, which first checks that the tree exists.
// exists is false when it is gone; listErr is the listing's failure, for
// a tree that exists; checkErr says that whether it exists could not be
// told.
func (r *directoryResource) guardedListing(ctx context.Context, cn *conn, c syncConfig, list func(t rsync.Transport, rsyncPath string) error) (exists bool, listErr, checkErr error) {
	root := c.root()
	t, d := cn.transport(ctx)
	if d.HasError() {
		return false, nil, fmt.Errorf("%s", diagText(d))
	}
	err := list(t, guardedRsyncPath(root.RemovePath, r.rsyncPath(c)))
	var ee *rsync.ExitError
	if errors.As(err, &ee) && ee.Code == missingStatus {
		return false, nil, nil
	}
	if err != nil {
		// The listing failed for another reason. The existence check
		// alone then says whether the tree is there, as it did when the
		// two were separate sessions: a tree that is gone is still taken
		// out of state, and one that cannot be checked is reported as
		// such, before the listing's error.
		exists, cerr := cn.exists(ctx, root.RemovePath)
		if cerr != nil || !exists {
			return false, nil, cerr
		}
	}
	return true, err, nil
}
