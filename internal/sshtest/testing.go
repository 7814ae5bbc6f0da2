package sshtest

import (
	"errors"
	"os"
	"testing"
)

// Start starts a server in t.TempDir() and stops it when the test ends.
// It fails the test (never skips) if sshd cannot start: CI installs
// openssh-server, so a missing or broken sshd is a real failure. When the
// test has failed, the sshd log is printed to help find out why.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := StartServer(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	stopWithTest(t, s)
	return s
}

// StartDropbear is Start for Dropbear (StartDropbearServer). When Dropbear
// cannot run here (ErrDropbearUnavailable: not installed, or not root) it
// fails the test under TF_ACC — make test and CI set it, and .ci/run
// installs dropbear-bin, so there a missing Dropbear is a real failure —
// and otherwise skips, saying why.
func StartDropbear(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := StartDropbearServer(t.TempDir(), opts...)
	if errors.Is(err, ErrDropbearUnavailable) && os.Getenv("TF_ACC") == "" {
		t.Skipf("%v (with TF_ACC set, as make test does, this fails instead)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	stopWithTest(t, s)
	return s
}

// stopWithTest stops s when the test ends, printing its log if the test
// failed. Registered after TempDir's own cleanup, so it runs before the
// directory (and the log in it) is removed.
func stopWithTest(t testing.TB, s *Server) {
	t.Helper()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("%s log for %s:\n%s", s.daemon, s.Addr(), s.Log())
		}
	})
}
