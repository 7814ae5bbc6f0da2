package sshtest

import "syscall"

// sysProcAttr makes the kernel kill sshd if the test binary dies without
// running cleanups (a panic, or go test's -timeout), so no stray sshd keeps
// a port and a temp dir busy. (Strictly the signal follows the exit of the
// OS thread that started sshd; the Go runtime only retires threads whose
// goroutine exits while locked to them, which the rig never does.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
