package sshtest

import "syscall"

// sysProcAttr makes the kernel kill sshd if the test binary dies without
// running cleanups (a panic, or go test's -timeout), so no stray sshd keeps
// a port and a temp dir busy.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
