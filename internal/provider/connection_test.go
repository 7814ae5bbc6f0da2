package provider

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
)

// nullConnection is a connectionModel with every value null, as the
// framework decodes an empty `connection = {}`.
func nullConnection() *connectionModel {
	return &connectionModel{
		Port: types.Int64Null(), User: types.StringNull(), PrivateKey: types.StringNull(),
		PrivateKeyFile: types.StringNull(), PrivateKeyPassphrase: types.StringNull(), Certificate: types.StringNull(),
		Password: types.StringNull(), Agent: types.BoolNull(), AgentIdentity: types.StringNull(),
		HostKey: types.StringNull(), KnownHostsFile: types.StringNull(), InsecureIgnoreHostKey: types.BoolNull(),
		Timeout: types.StringNull(), KeepaliveInterval: types.StringNull(), ConnectRetryTimeout: types.StringNull(),
		RsyncPath: types.StringNull(), SSHConfigFile: types.StringNull(),
	}
}

func nullBastion(host string) *bastionModel {
	return &bastionModel{
		Host: types.StringValue(host), Port: types.Int64Null(), User: types.StringNull(), PrivateKey: types.StringNull(),
		PrivateKeyFile: types.StringNull(), PrivateKeyPassphrase: types.StringNull(), Password: types.StringNull(),
		HostKey: types.StringNull(), KnownHostsFile: types.StringNull(), InsecureIgnoreHostKey: types.BoolNull(),
	}
}

func providerDefaults() *connSettings {
	return &connSettings{
		User: "deploy", Port: 2222, PrivateKeyFile: "/keys/fleet", PrivateKeyPassphrase: "fleet-pass",
		Certificate: "/keys/fleet-cert.pub", HostKey: "ssh-ed25519 AAAAprovider", KnownHostsFile: "/kh",
		Timeout: 45 * time.Second, RsyncPath: "sudo rsync", Agent: sshconn.AgentOff, AgentIdentity: "ci",
		KeepaliveInterval: 10 * time.Second, ConnectRetryTimeout: time.Minute,
		Bastion: &bastionSettings{Host: "jump.example.com", HostKey: "ssh-ed25519 AAAAjump"},
		// No ssh_config file: the machine's ~/.ssh/config must not change the results.
		SSHConfigFileSet: true,
	}
}

func TestResolveNoConnection(t *testing.T) {
	s := providerDefaults()
	cfg, diags := s.resolve(context.Background(), nil, "", "web1")
	if diags.HasError() {
		t.Fatal(diags)
	}
	want := sshconn.Config{
		Host: "web1", Port: 2222, User: "deploy", PrivateKeyFile: "/keys/fleet", PrivateKeyPassphrase: "fleet-pass",
		Certificate: "/keys/fleet-cert.pub", Agent: sshconn.AgentOff, AgentIdentity: "ci",
		HostKey: "ssh-ed25519 AAAAprovider", KnownHostsFile: "/kh", Timeout: 45 * time.Second,
		KeepaliveInterval: 10 * time.Second, ConnectRetryTimeout: time.Minute,
	}
	b := cfg.Bastion
	cfg.Bastion = nil
	if !reflect.DeepEqual(cfg, want) { // Config holds slices (ssh_config identity files)
		t.Errorf("config\n got %+v\nwant %+v", cfg, want)
	}
	// The bastion inherits user, credentials, agent, known_hosts and
	// timeouts; not the target's host key or port.
	wantB := sshconn.Config{
		Host: "jump.example.com", User: "deploy", PrivateKeyFile: "/keys/fleet", PrivateKeyPassphrase: "fleet-pass",
		Certificate: "/keys/fleet-cert.pub", Agent: sshconn.AgentOff, AgentIdentity: "ci",
		HostKey: "ssh-ed25519 AAAAjump", Timeout: 45 * time.Second,
		KeepaliveInterval: 10 * time.Second, ConnectRetryTimeout: time.Minute,
	}
	if b == nil || !reflect.DeepEqual(*b, wantB) {
		t.Errorf("bastion\n got %+v\nwant %+v", b, wantB)
	}
	if got := s.rsyncPath(nil); got != "sudo rsync" {
		t.Errorf("rsyncPath = %q", got)
	}
}

func TestResolveFieldByField(t *testing.T) {
	s := providerDefaults()
	c := nullConnection()
	c.Port = types.Int64Value(22)
	c.Timeout = types.StringValue("5s")
	c.RsyncPath = types.StringValue("/opt/rsync")
	cfg, diags := s.resolve(context.Background(), c, "", "web2")
	if diags.HasError() {
		t.Fatal(diags)
	}
	if cfg.Port != 22 || cfg.Timeout != 5*time.Second || cfg.User != "deploy" || cfg.PrivateKeyFile != "/keys/fleet" ||
		cfg.HostKey != "ssh-ed25519 AAAAprovider" || cfg.KeepaliveInterval != 10*time.Second {
		t.Errorf("config = %+v", cfg)
	}
	if got := s.rsyncPath(c); got != "/opt/rsync" {
		t.Errorf("rsyncPath = %q", got)
	}
	// The provider's settings are not changed by a resolution.
	if s.Port != 2222 || s.Timeout != 45*time.Second {
		t.Errorf("provider settings changed: %+v", s)
	}
}

func TestResolveUser(t *testing.T) {
	s := providerDefaults()
	c := nullConnection()
	c.User = types.StringValue("www")
	cfg, _ := s.resolve(context.Background(), c, "", "h")
	if cfg.User != "www" || cfg.Bastion.User != "www" {
		t.Errorf("connection user: %q, bastion %q", cfg.User, cfg.Bastion.User)
	}
	cfg, _ = s.resolve(context.Background(), c, "root", "h")
	if cfg.User != "root" {
		t.Errorf("the destination's user must win, got %q", cfg.User)
	}
}

func TestResolveKeyGroup(t *testing.T) {
	s := providerDefaults()
	c := nullConnection()
	c.PrivateKey = types.StringValue("-----BEGIN OPENSSH PRIVATE KEY-----")
	cfg, _ := s.resolve(context.Background(), c, "", "h")
	if cfg.PrivateKeyFile != "" || cfg.PrivateKeyPassphrase != "" || cfg.Certificate != "" || cfg.PrivateKey == "" {
		t.Errorf("a connection key must replace the provider's key, passphrase and certificate: %+v", cfg)
	}
	c.PrivateKeyPassphrase = types.StringValue("own")
	cfg, _ = s.resolve(context.Background(), c, "", "h")
	if cfg.PrivateKeyPassphrase != "own" {
		t.Errorf("passphrase = %q", cfg.PrivateKeyPassphrase)
	}
	// A passphrase alone applies to the provider's key.
	c = nullConnection()
	c.PrivateKeyPassphrase = types.StringValue("other")
	cfg, _ = s.resolve(context.Background(), c, "", "h")
	if cfg.PrivateKeyFile != "/keys/fleet" || cfg.PrivateKeyPassphrase != "other" {
		t.Errorf("config = %+v", cfg)
	}
}

func TestResolveHostKeyGroup(t *testing.T) {
	s := providerDefaults()
	c := nullConnection()
	c.InsecureIgnoreHostKey = types.BoolValue(true)
	cfg, _ := s.resolve(context.Background(), c, "", "h")
	if cfg.HostKey != "" || !cfg.InsecureIgnoreHostKey {
		t.Errorf("insecure in connection must replace the provider's host_key: %+v", cfg)
	}
	c = nullConnection()
	c.HostKey = types.StringValue("ssh-ed25519 AAAAmine")
	s.InsecureIgnoreHostKey, s.HostKey = true, ""
	cfg, _ = s.resolve(context.Background(), c, "", "h")
	if cfg.HostKey != "ssh-ed25519 AAAAmine" || cfg.InsecureIgnoreHostKey {
		t.Errorf("host_key in connection must replace the provider's insecure: %+v", cfg)
	}
	// known_hosts_file alone keeps the provider's policy.
	s = providerDefaults()
	c = nullConnection()
	c.KnownHostsFile = types.StringValue("/other")
	cfg, _ = s.resolve(context.Background(), c, "", "h")
	if cfg.KnownHostsFile != "/other" || cfg.HostKey != "ssh-ed25519 AAAAprovider" {
		t.Errorf("config = %+v", cfg)
	}
}

func TestResolveAgentAndDurations(t *testing.T) {
	s := providerDefaults()
	c := nullConnection()
	c.Agent = types.BoolValue(true)
	c.KeepaliveInterval = types.StringValue("0s")
	c.ConnectRetryTimeout = types.StringValue("0s")
	cfg, diags := s.resolve(context.Background(), c, "", "h")
	if diags.HasError() {
		t.Fatal(diags)
	}
	if cfg.Agent != sshconn.AgentOn || cfg.KeepaliveInterval >= 0 || cfg.ConnectRetryTimeout != 0 {
		t.Errorf("config = %+v", cfg)
	}
	c.Agent = types.BoolValue(false)
	if cfg, _ := s.resolve(context.Background(), c, "", "h"); cfg.Agent != sshconn.AgentOff {
		t.Errorf("agent = false → %v", cfg.Agent)
	}
	// Unset provider agent is auto.
	var m providerModel
	m.Agent = types.BoolNull()
	if agentMode(m.Agent) != sshconn.AgentAuto {
		t.Error("unset agent must be auto")
	}
}

func TestResolveBastion(t *testing.T) {
	s := providerDefaults()
	c := nullConnection()
	c.Bastion = nullBastion("10.0.0.1")
	c.Bastion.Port = types.Int64Value(2200)
	c.Bastion.Password = types.StringValue("jump-pw")
	c.Bastion.InsecureIgnoreHostKey = types.BoolValue(true)
	cfg, diags := s.resolve(context.Background(), c, "", "h")
	if diags.HasError() {
		t.Fatal(diags)
	}
	b := cfg.Bastion
	if b.Host != "10.0.0.1" || b.Port != 2200 || b.HostKey != "" || !b.InsecureIgnoreHostKey {
		t.Errorf("the connection's bastion must replace the provider's wholly: %+v", b)
	}
	if b.Password != "jump-pw" || b.PrivateKeyFile != "" || b.Certificate != "" {
		t.Errorf("own credentials must replace the target's: %+v", b)
	}
	if b.KnownHostsFile != "" {
		t.Errorf("insecure bastion still given a known_hosts file: %q", b.KnownHostsFile)
	}

	// No bastion anywhere.
	s.Bastion = nil
	cfg, _ = s.resolve(context.Background(), nullConnection(), "", "h")
	if cfg.Bastion != nil {
		t.Errorf("bastion = %+v", cfg.Bastion)
	}
}

func TestResolveUnknown(t *testing.T) {
	c := nullConnection()
	c.HostKey = types.StringUnknown()
	if connectionKnown(c) {
		t.Error("connectionKnown with an unknown host_key")
	}
	_, diags := providerDefaults().resolve(context.Background(), c, "", "h")
	if !diags.HasError() || !strings.Contains(diags.Errors()[0].Detail(), "ssh.host_key") {
		t.Errorf("diags = %v", diags)
	}
	c = nullConnection()
	c.Bastion = nullBastion("j")
	c.Bastion.Host = types.StringUnknown()
	if connectionKnown(c) {
		t.Error("connectionKnown with an unknown bastion host")
	}
	if !connectionKnown(nil) || !connectionKnown(nullConnection()) {
		t.Error("null connections are known")
	}
}

func TestResolveNilSettings(t *testing.T) {
	var s *connSettings
	cfg, diags := s.resolve(context.Background(), nil, "u", "h")
	if diags.HasError() || cfg.Host != "h" || cfg.User != "u" {
		t.Errorf("%+v %v", cfg, diags)
	}
	if s.rsyncPath(nil) != "rsync" {
		t.Error("default rsync path")
	}
	if s.connPool() == nil {
		t.Error("no fallback pool")
	}
}

func TestSettingsFromModelConnectionExtras(t *testing.T) {
	m := providerModel{
		User: types.StringNull(), Port: types.Int64Null(), PrivateKey: types.StringNull(), PrivateKeyFile: types.StringNull(),
		HostKey: types.StringNull(), KnownHostsFile: types.StringNull(), InsecureIgnoreHostKey: types.BoolNull(),
		Timeout: types.StringNull(), RsyncPath: types.StringNull(),
		PrivateKeyPassphrase: types.StringValue("pp"), Certificate: types.StringValue("/c"), Password: types.StringValue("pw"),
		Agent: types.BoolValue(false), AgentIdentity: types.StringValue("id"),
		KeepaliveInterval: types.StringValue("20s"), ConnectRetryTimeout: types.StringValue("2m"),
		Bastion: nullBastion("jump"),
	}
	s, diags := settingsFromModel(m)
	if diags.HasError() {
		t.Fatal(diags)
	}
	if s.PrivateKeyPassphrase != "pp" || s.Certificate != "/c" || s.Password != "pw" || s.Agent != sshconn.AgentOff ||
		s.AgentIdentity != "id" || s.KeepaliveInterval != 20*time.Second || s.ConnectRetryTimeout != 2*time.Minute ||
		s.Bastion == nil || s.Bastion.Host != "jump" {
		t.Errorf("settings = %+v", s)
	}
	m.KeepaliveInterval = types.StringValue("0s")
	if s, _ := settingsFromModel(m); s.KeepaliveInterval >= 0 {
		t.Errorf("keepalive 0s must disable, got %v", s.KeepaliveInterval)
	}
	m.ConnectRetryTimeout = types.StringValue("-1s")
	if _, diags := settingsFromModel(m); !diags.HasError() {
		t.Error("negative connect_retry_timeout accepted")
	}
	m.ConnectRetryTimeout = types.StringNull()
	m.Bastion = nullBastion("")
	if _, diags := settingsFromModel(m); !diags.HasError() {
		t.Error("bastion without host accepted")
	}
}

func TestConnectionSchemas(t *testing.T) {
	ctx := context.Background()
	rs := rschema.Schema{Attributes: map[string]rschema.Attribute{"ssh": connectionSchema()}}
	if d := rs.ValidateImplementation(ctx); d.HasError() {
		t.Fatalf("resource schema: %v", d)
	}
	ds := dsschema.Schema{Attributes: map[string]dsschema.Attribute{"ssh": connectionDataSourceSchema()}}
	if d := ds.ValidateImplementation(ctx); d.HasError() {
		t.Fatalf("data source schema: %v", d)
	}
	c := connectionSchema()
	for _, name := range []string{"private_key", "private_key_passphrase", "password"} {
		if !c.Attributes[name].IsSensitive() {
			t.Errorf("ssh.%s must be sensitive", name)
		}
	}
	b := c.Attributes["bastion"].(rschema.SingleNestedAttribute)
	for _, name := range []string{"private_key", "private_key_passphrase", "password"} {
		if !b.Attributes[name].IsSensitive() {
			t.Errorf("ssh.bastion.%s must be sensitive", name)
		}
	}
	// Every field of the models has an attribute and vice versa: the
	// framework would fail at run time otherwise.
	if got, want := len(c.Attributes), len(nullConnection().values())+1; got != want {
		t.Errorf("connection has %d attributes, the model %d", got, want)
	}

	p := New("test")()
	var resp fwprovider.SchemaResponse
	p.Schema(ctx, fwprovider.SchemaRequest{}, &resp)
	for _, name := range []string{"private_key_passphrase", "password"} {
		if !resp.Schema.Attributes[name].IsSensitive() {
			t.Errorf("provider %s must be sensitive", name)
		}
	}
	if _, ok := resp.Schema.Attributes["bastion"]; !ok {
		t.Error("provider has no bastion")
	}
}

func TestDurationAndPortValidators(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		v  string
		ok bool
	}{{"0s", true}, {"15s", true}, {"2m", true}, {"-1s", false}, {"soon", false}, {"10", false}} {
		var resp validator.StringResponse
		nonNegativeDurationValidator{}.ValidateString(ctx, validator.StringRequest{ConfigValue: types.StringValue(tc.v)}, &resp)
		if resp.Diagnostics.HasError() == tc.ok {
			t.Errorf("%q: ok = %v, diags %v", tc.v, tc.ok, resp.Diagnostics)
		}
	}
	for _, tc := range []struct {
		v  int64
		ok bool
	}{{0, false}, {1, true}, {65535, true}, {70000, false}} {
		var resp validator.Int64Response
		portValidators[0].ValidateInt64(ctx, validator.Int64Request{ConfigValue: types.Int64Value(tc.v)}, &resp)
		if resp.Diagnostics.HasError() == tc.ok {
			t.Errorf("port %d: ok = %v", tc.v, tc.ok)
		}
	}
}
