package provider

// The hint under a failed listing, hash or transfer: on which side it
// failed (this machine or the remote host) and what to check there, for
// reading or for writing.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
)

// failedOp is what failed.
type failedOp int

const (
	opReadSource failedOp = iota // listing or hashing the source
	opReadDest                   // listing or hashing the destination
	opTransfer                   // the sync itself
)

// hintContext is what a hint is about: the operation, the direction of the
// sync (which side is remote) and its two ends as the user wrote them.
type hintContext struct {
	op        failedOp
	dir       direction
	src, dst  string
	rsyncPath string
}

// hint says what to do about err, a failure of op in the sync c.
func (r *directoryResource) hint(c syncConfig, err error, op failedOp) string {
	return failureHint(err, hintContext{op: op, dir: c.Ends.Dir, src: c.Ends.Src.Raw, dst: c.Ends.Dst.Raw, rsyncPath: r.rsyncPath(c)})
}

// remoteInvolved reports whether the failed operation ran anything on the
// remote host.
func (h hintContext) remoteInvolved() bool {
	switch h.op {
	case opReadSource:
		return h.dir == dirPull
	case opReadDest:
		return h.dir == dirPush
	}
	return h.dir != dirLocal
}

// localFailure reports whether err is a failure of this machine's file
// system: the engine and the hashing keep the *fs.PathError (and its
// kin) of every local file operation in the chain, and nothing that
// happens on the remote host arrives as one.
func localFailure(err error) bool {
	var pe *fs.PathError
	var le *os.LinkError
	var se *os.SyscallError
	return errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &se)
}

func failureHint(err error, h hintContext) string {
	var lost *sshconn.LostError
	if errors.As(err, &lost) {
		return "The SSH connection was lost during the transfer (the network path broke or stalled, or the server " +
			"went away). " + interruptedHint
	}
	var unsupported *rsync.UnsupportedError
	if errors.As(err, &unsupported) {
		return fmt.Sprintf("The server's rsync speaks protocol %d (%s). Remove the setting that needs %s, or "+
			"install rsync 3.x on the server and point rsync_path at it.", unsupported.Protocol,
			rsync.ProtocolPeers(unsupported.Protocol), unsupported.Option)
	}
	if localFailure(err) || !h.remoteInvolved() {
		return localHint(h)
	}
	var ee *rsync.ExitError
	if errors.As(err, &ee) {
		switch {
		case (ee.Code == 1 || ee.Code == 2) && (strings.Contains(ee.Messages, "usermap") || strings.Contains(ee.Messages, "groupmap")):
			// owner/group travel as --usermap/--groupmap (rsync 3.1+).
			return "owner and group are applied with rsync's --chown (--usermap/--groupmap, rsync 3.1 and later), " +
				"which the server's rsync does not have (rsync 2.6.x and openrsync, the rsync of macOS and OpenBSD, " +
				"lack it). Remove owner and group, or install rsync 3.1+ on the server and point rsync_path at it."
		case ee.Code == 126 || ee.Code == 127:
			return fmt.Sprintf("The remote command %q could not be run. Install rsync on the remote host, "+
				"or set the provider's rsync_path to the command that starts it.", h.rsyncPath)
		case ee.Code == 3 || ee.Code == 11 || ee.Code == 23:
			return remoteAccessHint(h)
		case ee.Code == 20 || ee.Code == 30 || (ee.Code > 128 && ee.Code < 160):
			return "The remote rsync was stopped before it finished (a signal, a timeout, or the server shutting down). " +
				interruptedHint + " A remote rsync killed outright (SIGKILL) cannot remove its temporary file " +
				"(.NAME.XXXXXX beside the file it was writing): the next apply deletes it with delete = true; " +
				"otherwise the plan names it."
		}
	}
	what := "may read the source there"
	if h.op == opReadDest {
		what = "may read the destination there"
	} else if h.op == opTransfer && h.dir == dirPush {
		what = "may read and write the destination there"
	}
	return "Check that rsync is installed on the remote host (or set the provider's rsync_path), and that the " +
		"SSH user " + what + "."
}

// localHint is the hint for a failure on this machine.
func localHint(h hintContext) string {
	where := "This failed on this machine (the one running Terraform)"
	if h.remoteInvolved() || h.dir != dirLocal {
		where += ", not on the remote host"
	}
	switch {
	case h.op == opReadSource || (h.op == opTransfer && h.dir == dirPush):
		return fmt.Sprintf("%s: check that the source %s exists and that the user running Terraform may read it.", where, h.src)
	case h.op == opReadDest:
		return fmt.Sprintf("%s: check that the destination %s is a directory the user running Terraform may read.", where, h.dst)
	case h.dir == dirLocal:
		return fmt.Sprintf("%s: check that the user running Terraform may read the source %s, that the destination %s "+
			"is a directory (or does not exist yet) and that the user running Terraform may create and write files in it, "+
			"and that the disk is not full.", where, h.src, h.dst)
	}
	return fmt.Sprintf("%s: check that the destination %s is a directory (or does not exist yet), that the user running "+
		"Terraform may create and write files in it, and that the disk is not full.", where, h.dst)
}

// remoteAccessHint is the hint for a remote rsync that could not read or
// write a path (exit codes 3, 11, 23).
func remoteAccessHint(h hintContext) string {
	sudo := " (rsync_path = \"sudo rsync\" runs the remote side with sudo)"
	switch {
	case h.op == opTransfer && h.dir == dirPush:
		return "Check that the destination exists on the remote host and is readable and writable by the SSH user" + sudo +
			", and that the disk is not full."
	case h.op == opReadDest:
		return "Check that the destination exists on the remote host and that the SSH user may read it" + sudo + "."
	}
	return "Check that the source exists on the remote host and that the SSH user may read it" + sudo + "."
}
