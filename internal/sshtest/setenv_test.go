package sshtest

import (
	"slices"
	"strings"
	"testing"
)

// TestConfigOneSetEnv: sshd reads only the first SetEnv line, so the extra
// config's SetEnv (outside a Match block) joins the rig's SHLVL=2 on one
// line, and a Match block's stays in the block.
func TestConfigOneSetEnv(t *testing.T) {
	o := &options{}
	WithExtraConfig("SetEnv PATH=/nonexistent\nSubsystem sftp internal-sftp")(o)
	WithExtraConfig("Match User nobody\n\tSetEnv A=b")(o)
	cfg := (&Server{Dir: "/d", Port: 22}).config(o, "/d/pid")
	var setEnv []string
	for _, line := range strings.Split(cfg, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "SetEnv") {
			setEnv = append(setEnv, line)
		}
	}
	want := []string{"SetEnv PATH=/nonexistent SHLVL=2", "\tSetEnv A=b"}
	if !slices.Equal(setEnv, want) {
		t.Errorf("SetEnv lines %q, want %q\n%s", setEnv, want, cfg)
	}
	if !strings.Contains(cfg, "\nSubsystem sftp internal-sftp\n") || !strings.HasSuffix(cfg, "Match User nobody\n\tSetEnv A=b\n") {
		t.Errorf("the other extra lines were not kept in order:\n%s", cfg)
	}
}
