package provider

// The SSH connection settings: the provider-level defaults (connSettings,
// filled from the provider block), the `ssh` nested attribute with which a
// resource or data source overrides them field by field, their resolution
// into an sshconn.Config, and the connection pool shared by everything one
// provider process does.
//
// The attribute is `ssh`, not `connection`: Terraform reserves
// `connection` in resource blocks (for provisioners), and the framework
// refuses a resource schema that uses it.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
)

// bastionSettings is a resolved bastion block; zero fields are inherited
// from the target when the bastion's config is built (bastionConfig).
type bastionSettings struct {
	Host                  string
	Port                  int
	User                  string
	PrivateKey            string
	PrivateKeyFile        string
	PrivateKeyPassphrase  string
	Password              string
	HostKey               string
	KnownHostsFile        string
	InsecureIgnoreHostKey bool
}

// ---------------------------------------------------------------------------
// Schema. One table of attributes serves the provider, resource and data
// source schemas, whose attribute types are distinct Go types.

const (
	kindString attrKind = iota
	kindInt
	kindBool
)

const connectionDescription = "SSH settings for this resource's remote side, overriding the provider's field by field, so " +
	"that `for_each` over hosts with different ports, users, keys or bastions works with one provider block. The host " +
	"comes from the remote location. Connections are shared: every resource reaching the same account on the same host " +
	"the same way uses one SSH connection per Terraform run."

const bastionDescription = "A jump host to reach the server through (as `ssh -J`). Set here, it replaces the provider's " +
	"`bastion` as a whole; its secrets, like every resource argument, are stored in the state."

// applyProviderExtras reads the provider block's attributes defined in
// this file.
func (s *connSettings) applyProviderExtras(m providerModel) diag.Diagnostics {
	var diags diag.Diagnostics
	s.PrivateKeyPassphrase = m.PrivateKeyPassphrase.ValueString()
	s.Certificate = m.Certificate.ValueString()
	s.Password = m.Password.ValueString()
	s.Agent = agentMode(m.Agent)
	s.AgentIdentity = m.AgentIdentity.ValueString()
	s.KeepaliveInterval = keepalive(m.KeepaliveInterval, path.Root("keepalive_interval"), &diags)
	s.ConnectRetryTimeout = optDuration(m.ConnectRetryTimeout, path.Root("connect_retry_timeout"), parseDurationOrZero, &diags)
	s.SSHConfigFile, s.SSHConfigFileSet = m.SSHConfigFile.ValueString(), !m.SSHConfigFile.IsNull()
	s.Transport = m.Transport.ValueString()
	if m.Bastion != nil {
		s.Bastion = bastionFromModel(m.Bastion, path.Root("bastion"), &diags)
	}
	return diags
}

func agentMode(v types.Bool) sshconn.AgentMode {
	switch {
	case v.IsNull() || v.IsUnknown():
		return sshconn.AgentAuto
	case v.ValueBool():
		return sshconn.AgentOn
	default:
		return sshconn.AgentOff
	}
}

// keepalive maps keepalive_interval to sshconn's: unset 0 (default),
// "0s" negative (off).
func keepalive(v types.String, p path.Path, diags *diag.Diagnostics) time.Duration {
	if v.IsNull() || v.IsUnknown() {
		return 0
	}
	d := optDuration(v, p, parseDurationOrZero, diags)
	if d == 0 {
		return -1
	}
	return d
}

func optDuration(v types.String, p path.Path, parse func(string) (time.Duration, error), diags *diag.Diagnostics) time.Duration {
	if v.IsNull() || v.IsUnknown() {
		return 0
	}
	d, err := parse(v.ValueString())
	if err != nil {
		diags.AddAttributeError(p, "Invalid duration", fmt.Sprintf("%s: %s.", p, err))
	}
	return d
}

func bastionFromModel(b *bastionModel, p path.Path, diags *diag.Diagnostics) *bastionSettings {
	if b.Host.IsNull() || b.Host.ValueString() == "" {
		diags.AddAttributeError(p.AtName("host"), "Bastion host missing",
			fmt.Sprintf("%s has no host: set host to the jump host's name or address, or remove the bastion block.", p))
		return nil
	}
	return &bastionSettings{
		Host:                  b.Host.ValueString(),
		Port:                  int(b.Port.ValueInt64()),
		User:                  b.User.ValueString(),
		PrivateKey:            b.PrivateKey.ValueString(),
		PrivateKeyFile:        b.PrivateKeyFile.ValueString(),
		PrivateKeyPassphrase:  b.PrivateKeyPassphrase.ValueString(),
		Password:              b.Password.ValueString(),
		HostKey:               b.HostKey.ValueString(),
		KnownHostsFile:        b.KnownHostsFile.ValueString(),
		InsecureIgnoreHostKey: b.InsecureIgnoreHostKey.ValueBool(),
	}
}

// ---------------------------------------------------------------------------
// Resolution.

// connectionKnown reports whether every value in conn is known. At plan
// time a value may come from a resource not created yet (a new server's
// host key, say); then nothing remote can be done before apply.
func connectionKnown(conn *connectionModel) bool {
	if conn == nil {
		return true
	}
	for _, v := range conn.values() {
		if v.IsUnknown() {
			return false
		}
	}
	return true
}

func (c *connectionModel) values() map[string]attr.Value {
	m := map[string]attr.Value{
		"port": c.Port, "user": c.User, "private_key": c.PrivateKey, "private_key_file": c.PrivateKeyFile,
		"private_key_passphrase": c.PrivateKeyPassphrase, "certificate": c.Certificate, "password": c.Password,
		"agent": c.Agent, "agent_identity": c.AgentIdentity, "host_key": c.HostKey, "known_hosts_file": c.KnownHostsFile,
		"insecure_ignore_host_key": c.InsecureIgnoreHostKey, "timeout": c.Timeout,
		"keepalive_interval": c.KeepaliveInterval, "connect_retry_timeout": c.ConnectRetryTimeout, "rsync_path": c.RsyncPath,
		"ssh_config_file": c.SSHConfigFile, "transport": c.Transport,
	}
	if b := c.Bastion; b != nil {
		for k, v := range map[string]attr.Value{
			"host": b.Host, "port": b.Port, "user": b.User, "private_key": b.PrivateKey, "private_key_file": b.PrivateKeyFile,
			"private_key_passphrase": b.PrivateKeyPassphrase, "password": b.Password, "host_key": b.HostKey,
			"known_hosts_file": b.KnownHostsFile, "insecure_ignore_host_key": b.InsecureIgnoreHostKey,
		} {
			m["bastion."+k] = v
		}
	}
	return m
}

// connectionAttr is the name of the attribute; connectionPath its path.
const connectionAttr = "ssh"

var connectionPath = path.Root(connectionAttr)

// resolve merges the provider's settings with conn (the `ssh` attribute;
// nil: not set) for the
// host of a remote location and the user it names (may be empty), into
// the config to dial. Overrides are field by field, except for settings
// that only make sense together:
//
//   - private_key / private_key_file: setting either in conn replaces the
//     provider's key, passphrase and certificate (they belong to a key);
//     conn's passphrase or certificate alone apply to the provider's key;
//   - host_key / insecure_ignore_host_key: setting either in conn replaces
//     the provider's host key policy (known_hosts_file stays independent);
//   - bastion: conn's replaces the provider's as a whole.
//
// The user is the one in the remote location, else conn's, else the
// provider's. What is still unset then comes from the ssh_config file
// (applySSHConfig). Values must be known (see connectionKnown).
func (s *connSettings) resolve(_ context.Context, conn *connectionModel, userFromDestination, host string) (sshconn.Config, diag.Diagnostics) {
	var diags diag.Diagnostics
	base := connSettings{RsyncPath: defaultRsyncPath}
	if s != nil {
		base = *s
	}
	if conn != nil {
		for name, v := range conn.values() {
			if v.IsUnknown() {
				diags.AddAttributeError(connectionPath.AtName(name), "Connection setting not known yet",
					fmt.Sprintf("ssh.%s depends on a value known only after apply, so the connection cannot be made yet. "+
						"This is a bug in the provider if it happens during apply; please report it.", name))
			}
		}
		if diags.HasError() {
			return sshconn.Config{}, diags
		}
		base.override(conn, &diags)
	}
	cfg := base.targetConfig(host)
	if userFromDestination != "" {
		cfg.User = userFromDestination
	}
	if base.Bastion != nil {
		b := base.Bastion.config(cfg)
		cfg.Bastion = &b
	}
	cfg, d := base.applySSHConfig(cfg)
	diags.Append(d...)
	return cfg, diags
}

// rsyncPath is the remote rsync command for conn: its rsync_path, else the
// provider's.
func (s *connSettings) rsyncPath(conn *connectionModel) string {
	if conn != nil && !conn.RsyncPath.IsNull() && !conn.RsyncPath.IsUnknown() && conn.RsyncPath.ValueString() != "" {
		return conn.RsyncPath.ValueString()
	}
	if s != nil && s.RsyncPath != "" {
		return s.RsyncPath
	}
	return defaultRsyncPath
}

func set(v interface{ IsNull() bool }) bool { return !v.IsNull() }

// override applies conn's set values to s.
func (s *connSettings) override(c *connectionModel, diags *diag.Diagnostics) {
	if set(c.Port) {
		s.Port = int(c.Port.ValueInt64())
	}
	if set(c.User) {
		s.User = c.User.ValueString()
	}
	if set(c.PrivateKey) || set(c.PrivateKeyFile) {
		s.PrivateKey, s.PrivateKeyFile = c.PrivateKey.ValueString(), c.PrivateKeyFile.ValueString()
		s.PrivateKeyPassphrase, s.Certificate = "", ""
	}
	if set(c.PrivateKeyPassphrase) {
		s.PrivateKeyPassphrase = c.PrivateKeyPassphrase.ValueString()
	}
	if set(c.Certificate) {
		s.Certificate = c.Certificate.ValueString()
	}
	if set(c.Password) {
		s.Password = c.Password.ValueString()
	}
	if set(c.Agent) {
		s.Agent = agentMode(c.Agent)
	}
	if set(c.AgentIdentity) {
		s.AgentIdentity = c.AgentIdentity.ValueString()
	}
	if set(c.HostKey) || set(c.InsecureIgnoreHostKey) {
		s.HostKey, s.InsecureIgnoreHostKey = c.HostKey.ValueString(), c.InsecureIgnoreHostKey.ValueBool()
	}
	if set(c.KnownHostsFile) {
		s.KnownHostsFile = c.KnownHostsFile.ValueString()
	}
	if set(c.Timeout) {
		s.Timeout = optDuration(c.Timeout, connectionPath.AtName("timeout"), parseTimeout, diags)
	}
	if set(c.KeepaliveInterval) {
		s.KeepaliveInterval = keepalive(c.KeepaliveInterval, connectionPath.AtName("keepalive_interval"), diags)
	}
	if set(c.ConnectRetryTimeout) {
		s.ConnectRetryTimeout = optDuration(c.ConnectRetryTimeout, connectionPath.AtName("connect_retry_timeout"), parseDurationOrZero, diags)
	}
	if set(c.RsyncPath) {
		s.RsyncPath = c.RsyncPath.ValueString()
	}
	if c.Bastion != nil {
		s.Bastion = bastionFromModel(c.Bastion, connectionPath.AtName("bastion"), diags)
	}
	if set(c.SSHConfigFile) {
		s.SSHConfigFile, s.SSHConfigFileSet = c.SSHConfigFile.ValueString(), true
	}
	if set(c.Transport) {
		s.Transport = c.Transport.ValueString()
	}
}

// targetConfig is the config for host from merged settings, without the
// bastion.
func (s connSettings) targetConfig(host string) sshconn.Config {
	return sshconn.Config{
		Host:                  host,
		Port:                  s.Port,
		User:                  s.User,
		PrivateKey:            s.PrivateKey,
		PrivateKeyFile:        s.PrivateKeyFile,
		PrivateKeyPassphrase:  s.PrivateKeyPassphrase,
		Certificate:           s.Certificate,
		Password:              s.Password,
		Agent:                 s.Agent,
		AgentIdentity:         s.AgentIdentity,
		HostKey:               s.HostKey,
		KnownHostsFile:        s.KnownHostsFile,
		InsecureIgnoreHostKey: s.InsecureIgnoreHostKey,
		Timeout:               s.Timeout,
		KeepaliveInterval:     s.KeepaliveInterval,
		ConnectRetryTimeout:   s.ConnectRetryTimeout,
	}
}

// config is the bastion's config, inheriting from the target's (as
// Terraform's own connection block does for bastion_user and friends):
// user, credentials when the bastion sets none of its own, agent,
// known_hosts file, timeouts. Never inherited: host key and insecure (they
// describe one host), port (defaults to 22: a jump host usually listens
// there whatever the targets do).
func (b bastionSettings) config(target sshconn.Config) sshconn.Config {
	c := sshconn.Config{
		Host:                  b.Host,
		Port:                  b.Port,
		User:                  b.User,
		Agent:                 target.Agent,
		AgentSocket:           target.AgentSocket,
		AgentIdentity:         target.AgentIdentity,
		HostKey:               b.HostKey,
		KnownHostsFile:        b.KnownHostsFile,
		InsecureIgnoreHostKey: b.InsecureIgnoreHostKey,
		Timeout:               target.Timeout,
		KeepaliveInterval:     target.KeepaliveInterval,
		ConnectRetryTimeout:   target.ConnectRetryTimeout,
	}
	if c.User == "" {
		c.User = target.User
	}
	if b.PrivateKey != "" || b.PrivateKeyFile != "" || b.Password != "" {
		c.PrivateKey, c.PrivateKeyFile, c.PrivateKeyPassphrase, c.Password =
			b.PrivateKey, b.PrivateKeyFile, b.PrivateKeyPassphrase, b.Password
	} else {
		c.PrivateKey, c.PrivateKeyFile, c.PrivateKeyPassphrase, c.Certificate, c.Password =
			target.PrivateKey, target.PrivateKeyFile, target.PrivateKeyPassphrase, target.Certificate, target.Password
		if b.PrivateKeyPassphrase != "" {
			c.PrivateKeyPassphrase = b.PrivateKeyPassphrase
		}
	}
	if c.KnownHostsFile == "" && c.HostKey == "" && !c.InsecureIgnoreHostKey {
		c.KnownHostsFile = target.KnownHostsFile
	}
	return c
}

// ---------------------------------------------------------------------------
// Connecting.

// fallbackPool serves settings that were never configured (unit tests that
// build a resource by hand): the provider's Configure gives each provider
// instance its own pool.
var (
	fallbackPoolOnce sync.Once
	fallbackPool     *sshconn.Pool
)

func (s *connSettings) connPool() *sshconn.Pool {
	if s != nil && s.pool != nil {
		return s.pool
	}
	fallbackPoolOnce.Do(func() { fallbackPool = sshconn.NewPool(sshconn.PoolOptions{}) })
	return fallbackPool
}

// transport returns a transport to cfg's server over the provider's shared
// connection pool, connecting now if there is no live connection, so that
// connection errors come back here as diagnostics on attribute p. Call
// release when done (after the processes started on it have ended).
func (s *connSettings) transport(ctx context.Context, cfg sshconn.Config, p path.Path) (rsync.Transport, func(), diag.Diagnostics) {
	var diags diag.Diagnostics
	t, release, err := s.connPool().Transport(ctx, cfg)
	if err != nil {
		summary, detail := dialDiagnostic(err, cfg)
		diags.AddAttributeError(p, summary, detail)
		return nil, func() {}, diags
	}
	return t, release, diags
}

// describeConfig is cfg for logs: no secret, only whether one is set.
func describeConfig(cfg sshconn.Config) map[string]interface{} {
	m := map[string]interface{}{
		"host": cfg.Host, "port": cfg.Port, "user": cfg.User,
		"private_key_file": cfg.PrivateKeyFile, "private_key_set": cfg.PrivateKey != "",
		"passphrase_set": cfg.PrivateKeyPassphrase != "", "password_set": cfg.Password != "",
		"certificate_set": cfg.Certificate != "", "agent_identity": cfg.AgentIdentity,
		"host_key_pinned": cfg.HostKey != "", "known_hosts_file": cfg.KnownHostsFile,
		"insecure_ignore_host_key": cfg.InsecureIgnoreHostKey,
		"identity_files":           cfg.IdentityFiles, "ssh_config": cfg.Origin,
	}
	var hops []string
	for b := cfg.Bastion; b != nil; b = b.Bastion {
		hops = append(hops, fmt.Sprintf("%s@%s:%d", b.User, b.Host, b.Port))
	}
	if len(hops) > 0 {
		m["bastion"] = strings.Join(hops, " <- ")
	}
	return m
}
