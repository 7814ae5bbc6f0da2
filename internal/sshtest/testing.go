package sshtest

import "testing"

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
	// Registered after TempDir's own cleanup, so it runs before the
	// directory (and the log in it) is removed.
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("sshd log for %s:\n%s", s.Addr(), s.Log())
		}
	})
	return s
}
