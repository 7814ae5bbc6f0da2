package rsync

import "testing"

// TestExitCodeMeaning: rsync's own codes have rsync's words; a code above
// 128 is a command killed by a signal, as shells and SSH report it.
func TestExitCodeMeaning(t *testing.T) {
	for code, want := range map[int]string{
		23:  "some files could not be transferred",
		137: "killed by signal 9, SIGKILL",
		143: "killed by signal 15, SIGTERM",
		150: "killed by signal 22",
		99:  "unknown error",
	} {
		if got := exitCodeMeaning(code); got != want {
			t.Errorf("exitCodeMeaning(%d) = %q, want %q", code, got, want)
		}
	}
}
