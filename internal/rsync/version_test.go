package rsync

import "testing"

func TestParseVersion(t *testing.T) {
	tests := []struct {
		out      string
		describe string
		chown    bool
	}{
		{"rsync  version 3.2.7  protocol version 31\nCopyright (C) 1996-2022 by Andrew Tridgell, Wayne Davison, and others.\n", "rsync 3.2.7 (protocol 31)", true},
		{"rsync  version v3.5.0  protocol version 32\n", "rsync 3.5.0 (protocol 32)", true}, // a build from git
		{"rsync  version 3.1.0  protocol version 31\n", "rsync 3.1.0 (protocol 31)", true},
		{"rsync  version 3.0.9  protocol version 30\n", "rsync 3.0.9 (protocol 30)", false},
		{"rsync  version 2.6.9  protocol version 29\n", "rsync 2.6.9 (protocol 29)", false},
		{"openrsync: protocol version 27\n", "openrsync (protocol 27)", false},
		{"openrsync: protocol version 29\nrsync version 2.6.9 compatible\n", "openrsync (protocol 29)", false},
	}
	for _, tt := range tests {
		info, ok := ParseVersion(tt.out)
		if !ok || info.Describe() != tt.describe || info.CanChown() != tt.chown {
			t.Errorf("ParseVersion(%q) = %+v (%v): %q chown %v; want %q chown %v", tt.out, info, ok, info.Describe(), info.CanChown(), tt.describe, tt.chown)
		}
	}
	if _, ok := ParseVersion("Welcome to the server!\n"); ok {
		t.Error("a banner parsed as a version")
	}
}
