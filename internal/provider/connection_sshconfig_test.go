package provider

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
)

// resolve layers: the remote location's user, then `ssh`, then the
// provider, then the ssh_config file (~/.ssh/config by default,
// ssh_config_file otherwise, "" for none); unsupported options warn.
func TestResolveSSHConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	cfgPath := filepath.Join(home, ".ssh", "config")
	if err := os.MkdirAll(filepath.Dir(cfgPath), 0o700); err != nil {
		t.Fatal(err)
	}
	content := "Host web1\n  HostName 10.1.1.1\n  User fromfile\n  Port 2200\n  IdentityFile ~/.ssh/web1\n  ProxyCommand nc %h %p\n"
	if err := os.WriteFile(cfgPath, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Default file, nothing explicit: the file's values and a warning.
	var s connSettings
	cfg, diags := s.resolve(ctx, nil, "", "web1")
	if diags.HasError() {
		t.Fatal(diags)
	}
	if cfg.Host != "10.1.1.1" || cfg.User != "fromfile" || cfg.Port != 2200 || len(cfg.IdentityFiles) != 1 {
		t.Errorf("from ~/.ssh/config: %+v", cfg)
	}
	if len(diags) != 1 || !strings.Contains(diags[0].Detail(), "ProxyCommand nc %h %p ("+cfgPath+":6 (Host web1))") {
		t.Errorf("diagnostics %v, want one warning naming ProxyCommand at %s:6", diags, cfgPath)
	}

	// Provider settings win over the file; `ssh` over the provider; the
	// remote location's user over everything.
	s = connSettings{Port: 2222, PrivateKeyFile: "/keys/p"}
	conn := nullConnection()
	conn.User = types.StringValue("fromssh")
	cfg, _ = s.resolve(ctx, conn, "", "web1")
	if cfg.Port != 2222 || cfg.User != "fromssh" || cfg.PrivateKeyFile != "/keys/p" || len(cfg.IdentityFiles) != 0 || cfg.Host != "10.1.1.1" {
		t.Errorf("explicit settings did not win: %+v", cfg)
	}
	if cfg, _ = s.resolve(ctx, conn, "root", "web1"); cfg.User != "root" {
		t.Errorf("user %q, want the remote location's", cfg.User)
	}

	// ssh_config_file = "" in `ssh` turns the file off.
	conn.SSHConfigFile = types.StringValue("")
	if cfg, diags = s.resolve(ctx, conn, "", "web1"); cfg.Host != "web1" || len(diags) != 0 {
		t.Errorf("with ssh_config_file = \"\": %+v %v", cfg, diags)
	}
	// A named file that does not exist is an error; a missing default
	// file is not.
	conn.SSHConfigFile = types.StringValue(filepath.Join(home, "nope"))
	if _, diags = s.resolve(ctx, conn, "", "web1"); !diags.HasError() || !strings.Contains(diags[0].Detail(), "nope") {
		t.Errorf("missing ssh_config_file: %v", diags)
	}
	if err := os.Remove(cfgPath); err != nil {
		t.Fatal(err)
	}
	if cfg, diags = (&connSettings{}).resolve(ctx, nil, "", "web1"); cfg.Host != "web1" || len(diags) != 0 {
		t.Errorf("without ~/.ssh/config: %+v %v", cfg, diags)
	}
}
