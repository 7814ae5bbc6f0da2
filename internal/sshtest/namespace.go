package sshtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// bindMount is one file the rig lays over a system file, seen only by the
// server it starts: src is the rig's file, target the system path.
type bindMount struct{ src, target string }

// errNoNamespace: this machine cannot give the server a private mount
// namespace (not root, or no unshare/mount).
var errNoNamespace = errors.New("a private mount namespace needs root, util-linux's unshare and mount")

// checkNamespace reports whether privateMounts can work here.
func checkNamespace() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: not running as root", errNoNamespace)
	}
	for _, tool := range []string{"unshare", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %w", errNoNamespace, err)
		}
	}
	return nil
}

// privateMounts runs argv in a private mount namespace (unshare -m, private
// propagation) in which each bind mount is in place: the system's files are
// never touched, and the mounts vanish with the namespace's last process.
// unshare and sh both exec, so the command's pid is argv[0]'s (waitReady
// relies on it) and argv[0] stays as given (sshd re-executes itself by
// that path).
func privateMounts(binds []bindMount, argv ...string) *exec.Cmd {
	args := []string{"--mount", "--propagation", "private", "/bin/sh", "-c",
		`while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 1; shift 2; done; shift; exec "$@"`,
		"sh"}
	for _, b := range binds {
		args = append(args, b.src, b.target)
	}
	args = append(args, "--")
	return exec.Command("unshare", append(args, argv...)...)
}
