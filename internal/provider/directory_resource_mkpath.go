package provider

// mkpath = true: the missing parents of the destination are created before
// the transfer, as rsync --mkpath creates them.
//
// The provider creates them itself on every server, rather than passing
// --mkpath to the remote rsync: rsync's --mkpath exists only from 3.2.3
// (RHEL 8 ships 3.1.3; openrsync has none), and where it exists it makes
// the parents with mkdir's default mode, applying neither --chmod nor
// --chown to them (util1.c make_path), while the issue asks for both. One
// way for every server keeps the behaviour the same everywhere, and needs
// nothing the provider does not already need (a shell, as Read's `test -e`
// and on_destroy's `rm -rf` do).

import (
	"context"
	"fmt"
	pathpkg "path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
)

// mkpathCommand is the remote shell command that creates the missing
// directories above dir, outermost first, each with mode (when chmodOK)
// and given to owner and group (when set and permitted, as --chown); run
// with the privilege prefix of rsync_path, since that is who writes the
// tree. Every path is quoted: nothing in a name reaches the shell as
// syntax. It is "" when dir has no parent to create.
func mkpathCommand(dir string, mode uint32, chmodOK bool, owner, group, rsyncPath string) string {
	parents := rsync.Ancestors(dir, '/')
	if len(parents) == 0 {
		return ""
	}
	steps := make([]string, 0, len(parents))
	for _, p := range parents {
		q := scriptPath(p)
		create := "mkdir -- " + q
		if chmodOK {
			create += fmt.Sprintf(" && chmod %o -- %s", mode, q)
		}
		if owner != "" {
			create += " && { chown -- " + shellQuote(owner) + " " + q + " 2>/dev/null || :; }"
		}
		if group != "" {
			create += " && { chgrp -- " + shellQuote(group) + " " + q + " 2>/dev/null || :; }"
		}
		// A parent made meanwhile by someone else is as good as ours.
		steps = append(steps, "{ [ -d "+q+" ] || { "+create+"; } || [ -d "+q+" ]; }")
	}
	return privileged(strings.Join(steps, " && "), rsyncPath)
}

// privileged runs a POSIX sh script, whatever the login shell is, with the
// privilege prefix of rsync_path (e.g. "sudo" from "sudo rsync").
func privileged(script, rsyncPath string) string {
	cmd := "sh -c " + shellQuote(script)
	if pre := privilegePrefix(rsyncPath); pre != "" {
		cmd = pre + " " + cmd
	}
	return cmd
}

// scriptPath quotes a remote path for a script run by privileged. A path
// under "~/" is made relative — the command starts in the login directory
// — because "~" inside `sudo sh -c` would be the other user's home, not
// the one rsync's own arguments mean.
func scriptPath(p string) string {
	switch {
	case p == "" || p == "~":
		return "."
	case strings.HasPrefix(p, "~/"):
		p = strings.TrimLeft(p[2:], "/")
		if p == "" {
			return "."
		}
	}
	return shellQuote(p)
}

// mkpath creates the missing parents of dir, the directory the transfer
// writes (a remote path for a push, else a local one), when mkpath = true.
func (r *directoryResource) mkpath(ctx context.Context, cn *conn, c syncConfig, dir string) diag.Diagnostics {
	var diags diag.Diagnostics
	if !c.MkPath {
		return diags
	}
	if !c.Ends.Dst.Remote {
		created, err := rsync.MkdirParents(dir, rsync.Options{Chmod: c.Chmod, Owner: c.Owner, Group: c.Group})
		if err != nil {
			diags.AddAttributeError(path.Root("mkpath"), "Cannot create the destination's parents",
				fmt.Sprintf("mkpath = true: creating the directories above %s failed: %v. Check that Terraform may create them.",
					filepath.Clean(dir), err))
		} else if len(created) > 0 {
			tflog.Info(ctx, "created the destination's parent directories (mkpath)", map[string]interface{}{"created": created})
		}
		return diags
	}
	mode, chmodOK, err := rsync.ParentMode(c.Chmod)
	if err != nil {
		diags.AddAttributeError(path.Root("chmod"), "Invalid chmod", err.Error())
		return diags
	}
	if sftp, d := cn.useSFTP(ctx); d.HasError() {
		diags.Append(d...)
		return diags
	} else if sftp {
		return r.mkpathSFTP(ctx, cn, c, dir, mode, chmodOK)
	}
	cmd := mkpathCommand(dir, mode, chmodOK, c.Owner, c.Group, r.rsyncPath(c))
	if cmd == "" {
		return diags
	}
	t, d := cn.transport(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	tflog.Debug(ctx, "creating the destination's missing parent directories (mkpath)", map[string]interface{}{"command": cmd})
	if err := runRemote(ctx, t, cmd); err != nil {
		diags.AddAttributeError(path.Root("mkpath"), "Cannot create the destination's parents",
			fmt.Sprintf("mkpath = true: creating the directories above %s on %s failed: %s. Check that the SSH user (or "+
				"rsync_path's prefix, such as sudo) may create them, and that no file stands where a directory must be.",
				dir, c.Ends.Dst.Spec.Host, safeText(err.Error())))
	}
	return diags
}

// mkpathSFTP creates the missing parents of dir over SFTP, with the mode
// chmod gives directories (the server's default without one).
func (r *directoryResource) mkpathSFTP(ctx context.Context, cn *conn, c syncConfig, dir string, mode uint32, chmodOK bool) diag.Diagnostics {
	var diags diag.Diagnostics
	parent := pathpkg.Dir(strings.TrimRight(dir, "/"))
	if strings.TrimRight(dir, "/") == "" || parent == "." || parent == "/" || parent == "~" {
		return diags
	}
	s, d := cn.sftpSession(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	if !chmodOK {
		mode = 0
	}
	created, err := s.MkdirAll(ctx, parent, mode)
	if err != nil {
		diags.AddAttributeError(path.Root("mkpath"), "Cannot create the destination's parents",
			fmt.Sprintf("mkpath = true: creating the directories above %s on %s over SFTP failed: %s. Check that the SSH "+
				"user may create them, and that no file stands where a directory must be.", dir, c.Ends.Dst.Spec.Host, safeText(err.Error())))
	} else if len(created) > 0 {
		tflog.Info(ctx, "created the destination's parent directories over SFTP (mkpath)", map[string]interface{}{"created": created})
	}
	return diags
}
