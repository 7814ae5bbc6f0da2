// Package sshtest runs a real OpenSSH sshd, or a real Dropbear, on
// 127.0.0.1 for tests and demos.
//
// Every test that needs SSH talks to a stock /usr/sbin/sshd rather than an
// in-process Go server: the provider's job is to interoperate with OpenSSH
// and the rsync it runs, so the rig must exercise the same code paths
// (login shell, channel flow control, exit-status and signal handling).
// StartDropbearServer runs Dropbear (embedded Linux, appliances) the same
// way, for the interop matrix.
//
// StartServer is the core and takes no *testing.T, so non-test programs
// (make demo) can use it too; Start is the test wrapper (StartDropbear for
// Dropbear). Rsync327 and Rsync327Path locate (and on first use unpack) a
// Debian rsync 3.2.7 binary for interop tests against an older server.
package sshtest
