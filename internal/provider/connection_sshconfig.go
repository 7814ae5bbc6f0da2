package provider

// The OpenSSH client configuration: ~/.ssh/config (or ssh_config_file) is
// read as ssh reads it, and fills in what the provider and `ssh`
// attributes leave unset, for the host as written in the remote location
// (which may be a Host alias).

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
)

// sshConfigAttr is the ssh_config_file attribute, for the provider and
// `ssh`.
func sshConfigAttr(scope string) connAttr {
	return connAttr{name: "ssh_config_file", kind: kindString,
		desc: "OpenSSH client configuration file to read, as `ssh -F` does. Defaults to `~/.ssh/config` " +
			"(`%USERPROFILE%\\.ssh\\config` on Windows) when it exists; `\"\"` reads none. A remote location's host may be a " +
			"`Host` alias: its `HostName`, `User`, `Port`, `IdentityFile`, `IdentitiesOnly`, `CertificateFile`, " +
			"`IdentityAgent`, `ProxyJump`, `UserKnownHostsFile`, `GlobalKnownHostsFile`, `HostKeyAlias`, " +
			"`StrictHostKeyChecking` (`yes`, `accept-new`, `no`), `ConnectTimeout`, `ServerAliveInterval` and " +
			"`ServerAliveCountMax` apply, with `Include`, `Host` patterns and `Match` (`host`, `originalhost`, `user`, " +
			"`localuser`, `all`). Attributes set here or on the provider win over the file, as command-line options win in " +
			"`ssh`. Options that change where or how ssh connects and that are not supported (`ProxyCommand`, " +
			"`LocalForward`, ...) are warned about at plan. See the provider documentation for the precedence." + scope}
}

// sshConfigPath is the file to read: ssh_config_file when set ("" for
// none), else ~/.ssh/config; explicit says which.
func (s connSettings) sshConfigPath() (path string, explicit bool) {
	if s.SSHConfigFileSet {
		return s.SSHConfigFile, true
	}
	return sshconn.DefaultSSHConfigPath(), false
}

// applySSHConfig fills cfg's unset settings from the ssh_config file, and
// turns what the file says that the connection will not do into warnings.
func (s connSettings) applySSHConfig(cfg sshconn.Config) (sshconn.Config, diag.Diagnostics) {
	var diags diag.Diagnostics
	p, explicit := s.sshConfigPath()
	if p == "" {
		return cfg, nil
	}
	file, err := sshconn.LoadSSHConfig(p)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return cfg, nil // ssh too reads ~/.ssh/config only when it exists
	}
	if err != nil {
		diags.AddError("Cannot read the ssh_config file",
			fmt.Sprintf("%v.\n\nFix the file, name another with ssh_config_file, or set ssh_config_file = \"\" to read none.", err))
		return cfg, diags
	}
	out, warns, err := file.Apply(cfg)
	for _, w := range warns {
		diags.AddWarning(fmt.Sprintf("ssh_config: %s not supported", w.Keyword),
			fmt.Sprintf("%s %s (%s) applies to %s, but %s; the connection is made without it. Remove it from the block "+
				"that matches this host, or set ssh_config_file = \"\" to read no ssh_config file.",
				w.Keyword, w.Value, w.Where(), cfg.Host, w.Why))
	}
	if err != nil {
		diags.AddError("Invalid ssh_config setting", fmt.Sprintf("%v.", err))
		return cfg, diags
	}
	return out, diags
}

// sshConfigNote ends a connection diagnostic with the settings the
// ssh_config file supplied, each with its file:line and Host block, so
// that the line to fix is found; "" when the file supplied none.
func sshConfigNote(cfg sshconn.Config) string {
	if cfg.Origin == "" {
		return ""
	}
	return "\n\nSettings from ssh_config " + cfg.Origin + "."
}
