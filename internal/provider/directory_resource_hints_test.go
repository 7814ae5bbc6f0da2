package provider

import (
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
)

// TestFailureHint: every hint names the side that failed and what to
// check there, for reading or writing.
func TestFailureHint(t *testing.T) {
	local := fmt.Errorf("receive: %w", &fs.PathError{Op: "open", Path: "/copy/x", Err: syscall.EACCES})
	exit23 := &rsync.ExitError{Code: 23}
	for _, tc := range []struct {
		name      string
		err       error
		h         hintContext
		want, not string
	}{
		{"pull, local write", local, hintContext{op: opTransfer, dir: dirPull, dst: "/copy"}, "on this machine … not on the remote host … /copy … create and write files", "rsync is installed"},
		{"push, local read", local, hintContext{op: opTransfer, dir: dirPush, src: "site/"}, "on this machine … source site/ … may read it", "write"},
		{"local copy", local, hintContext{op: opTransfer, dir: dirLocal, src: "a/", dst: "b"}, "on this machine … read the source a/ … destination b … create and write", "remote host"},
		{"pull, remote read", exit23, hintContext{op: opTransfer, dir: dirPull}, "source exists on the remote host … SSH user may read it", "writable"},
		{"plan, remote source", exit23, hintContext{op: opReadSource, dir: dirPull}, "source exists on the remote host … may read it", "writable"},
		{"refresh, remote destination", exit23, hintContext{op: opReadDest, dir: dirPush}, "destination exists on the remote host … may read it", "writable"},
		{"push, remote write", exit23, hintContext{op: opTransfer, dir: dirPush}, "destination exists on the remote host … readable and writable", "this machine"},
		{"pull, unknown remote failure", fmt.Errorf("protocol"), hintContext{op: opTransfer, dir: dirPull}, "rsync is installed on the remote host … may read the source there", "write"},
		{"push, unknown remote failure", fmt.Errorf("protocol"), hintContext{op: opTransfer, dir: dirPush}, "rsync is installed on the remote host … read and write the destination", ""},
	} {
		got := failureHint(tc.err, tc.h)
		if !words(tc.want).MatchString(got) || (tc.not != "" && strings.Contains(got, tc.not)) {
			t.Errorf("%s: hint %q: want %q, without %q", tc.name, got, tc.want, tc.not)
		}
	}
}

// pushHint is the hint under a failed push with the default rsync_path.
func pushHint(err error) string {
	return failureHint(err, hintContext{op: opTransfer, dir: dirPush, src: "the source", dst: "the destination", rsyncPath: "rsync"})
}
