//go:build !linux

package sshtest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
