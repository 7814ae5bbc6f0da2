package provider

// The schema side of the SSH connection settings: the models, the attribute
// list shared by the provider block, the resource's and the data source's
// `ssh` attribute, and their validators. Resolution lives in connection.go.

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
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	pschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// connectionModel is the `ssh` attribute of rsync_directory and
// rsync_manifest. Every field is optional; a set field overrides the
// provider's value (see resolve for the groups that override together).
type connectionModel struct {
	Port                  types.Int64   `tfsdk:"port"`
	User                  types.String  `tfsdk:"user"`
	PrivateKey            types.String  `tfsdk:"private_key"`
	PrivateKeyFile        types.String  `tfsdk:"private_key_file"`
	PrivateKeyPassphrase  types.String  `tfsdk:"private_key_passphrase"`
	Certificate           types.String  `tfsdk:"certificate"`
	Password              types.String  `tfsdk:"password"`
	Agent                 types.Bool    `tfsdk:"agent"`
	AgentIdentity         types.String  `tfsdk:"agent_identity"`
	HostKey               types.String  `tfsdk:"host_key"`
	KnownHostsFile        types.String  `tfsdk:"known_hosts_file"`
	InsecureIgnoreHostKey types.Bool    `tfsdk:"insecure_ignore_host_key"`
	Timeout               types.String  `tfsdk:"timeout"`
	KeepaliveInterval     types.String  `tfsdk:"keepalive_interval"`
	ConnectRetryTimeout   types.String  `tfsdk:"connect_retry_timeout"`
	RsyncPath             types.String  `tfsdk:"rsync_path"`
	Bastion               *bastionModel `tfsdk:"bastion"`

	// Defined in connection_sshconfig.go.
	SSHConfigFile types.String `tfsdk:"ssh_config_file"`
	// Defined in connection_transport.go.
	Transport types.String `tfsdk:"transport"`
}

// bastionModel is a `bastion` block, in the provider or in `ssh`.
type bastionModel struct {
	Host                  types.String `tfsdk:"host"`
	Port                  types.Int64  `tfsdk:"port"`
	User                  types.String `tfsdk:"user"`
	PrivateKey            types.String `tfsdk:"private_key"`
	PrivateKeyFile        types.String `tfsdk:"private_key_file"`
	PrivateKeyPassphrase  types.String `tfsdk:"private_key_passphrase"`
	Password              types.String `tfsdk:"password"`
	HostKey               types.String `tfsdk:"host_key"`
	KnownHostsFile        types.String `tfsdk:"known_hosts_file"`
	InsecureIgnoreHostKey types.Bool   `tfsdk:"insecure_ignore_host_key"`
}

type attrKind int

type connAttr struct {
	name      string
	kind      attrKind
	desc      string
	required  bool // within its (optional) block
	sensitive bool
	strV      []validator.String
	intV      []validator.Int64
}

var portValidators = []validator.Int64{int64validator.Between(1, 65535)}

func conflicts(names ...string) validator.String {
	exprs := make([]path.Expression, len(names))
	for i, n := range names {
		exprs[i] = path.MatchRelative().AtParent().AtName(n)
	}
	return stringvalidator.ConflictsWith(exprs...)
}

// authAttrs are the settings the provider block and `ssh` share beyond the
// provider's original ones (not the bastion's).
func authAttrs(scope string) []connAttr {
	return []connAttr{
		{name: "private_key_passphrase", kind: kindString, sensitive: true,
			desc: "Passphrase of an encrypted private key (`private_key` or `private_key_file`). Not needed when the key is loaded in ssh-agent." + scope},
		{name: "certificate", kind: kindString,
			desc: "OpenSSH user certificate for the private key, signed by a CA the server trusts (`TrustedUserCAKeys`): its content " +
				"(`\"ssh-ed25519-cert-v01@openssh.com AAAA...\"`, as `ssh-keygen -s` writes to `KEY-cert.pub`) or a path to it. " +
				"Without it, `PRIVATE_KEY_FILE-cert.pub` is used when it exists, as `ssh` does." + scope},
		{name: "password", kind: kindString, sensitive: true,
			desc: "Password, tried after public keys (with the `keyboard-interactive` and `password` methods). Prefer keys." + scope},
		{name: "agent", kind: kindBool,
			desc: "Use the ssh-agent at `SSH_AUTH_SOCK` (on Windows, when it is not set, Windows' OpenSSH agent service at " +
				"`\\\\.\\pipe\\openssh-ssh-agent`). Defaults to `true` when there is one. Agent keys are offered " +
				"in OpenSSH's order: certificates first, then agent keys, then a configured key the agent lacks." + scope},
		{name: "agent_identity", kind: kindString,
			desc: "Offer only this ssh-agent key: its comment, or its fingerprint (`SHA256:...`, as `ssh-add -l` prints). Use it when " +
				"the agent holds many keys: servers stop after `MaxAuthTries` (default 6) refused keys." + scope},
		{name: "keepalive_interval", kind: kindString, strV: []validator.String{nonNegativeDurationValidator{}},
			desc: "Send an SSH keepalive this often; after 3 unanswered the connection is declared dead and the operation fails " +
				"saying so, instead of hanging on a silent network. `\"0s\"` disables keepalives. Defaults to `\"15s\"`." + scope},
		{name: "connect_retry_timeout", kind: kindString, strV: []validator.String{nonNegativeDurationValidator{}},
			desc: "Keep retrying, with backoff, a connection that fails the way a booting server fails (refused, unreachable, " +
				"timed out, closed before the SSH handshake, name not resolvable yet) until this much time has passed, e.g. " +
				"`\"3m\"` for servers created in the same apply. Authentication and host key failures are never retried. " +
				"Defaults to `\"0s\"`: one attempt." + scope},
	}
}

// bastionAttrs are the attributes of a `bastion` block.
func bastionAttrs() []connAttr {
	return []connAttr{
		{name: "host", kind: kindString, required: true, strV: []validator.String{stringvalidator.LengthAtLeast(1)},
			desc: "The jump host's name or address. The connection to the destination is tunnelled through it, as `ssh -J` does; the bastion must allow TCP forwarding to the destination (`AllowTcpForwarding`, `PermitOpen`)."},
		{name: "port", kind: kindInt, intV: portValidators, desc: "The jump host's SSH port. Defaults to `22`."},
		{name: "user", kind: kindString, desc: "User on the jump host. Defaults to the destination's user."},
		{name: "private_key", kind: kindString, sensitive: true, strV: []validator.String{conflicts("private_key_file")},
			desc: "Private key content for the jump host. When none of `private_key`, `private_key_file` and `password` is set " +
				"here, the destination's credentials (key, passphrase, certificate, password) are used for the jump host too."},
		{name: "private_key_file", kind: kindString, desc: "Path of the private key for the jump host (`~` is expanded)."},
		{name: "private_key_passphrase", kind: kindString, sensitive: true, desc: "Passphrase of the jump host's encrypted private key."},
		{name: "password", kind: kindString, sensitive: true, desc: "Password for the jump host."},
		{name: "host_key", kind: kindString, strV: []validator.String{conflicts("insecure_ignore_host_key")},
			desc: "The jump host's public host key, pinned (`ssh-ed25519 AAAA...`), or `@cert-authority ssh-ed25519 AAAA...` " +
				"to trust host certificates signed by that CA. Never inherited from the destination."},
		{name: "known_hosts_file", kind: kindString,
			desc: "`known_hosts` file to verify the jump host against. Defaults to the destination's (`~/.ssh/known_hosts`)."},
		{name: "insecure_ignore_host_key", kind: kindBool,
			desc: "Accept any host key from the jump host. Never inherited. Unsafe; throwaway hosts only."},
	}
}

// connectionAttrs are the attributes of `ssh`.
func connectionAttrs() []connAttr {
	const o = " Overrides the provider's setting."
	a := []connAttr{
		{name: "port", kind: kindInt, intV: portValidators, desc: "SSH port." + o},
		{name: "user", kind: kindString,
			desc: "SSH user, used when the remote location does not name one (`user@host:path` wins)." + o},
		{name: "private_key", kind: kindString, sensitive: true, strV: []validator.String{conflicts("private_key_file")},
			desc: "Private key content (OpenSSH or PEM). Setting it, or `private_key_file`, replaces the provider's key, passphrase " +
				"and certificate together." + o},
		{name: "private_key_file", kind: kindString,
			desc: "Path of a private key file (`~` is expanded). See `private_key`." + o},
		{name: "host_key", kind: kindString, strV: []validator.String{conflicts("insecure_ignore_host_key")},
			desc: "The server's public host key, pinned (`ssh-ed25519 AAAA...`), or `@cert-authority ssh-ed25519 AAAA...` to " +
				"trust host certificates signed by that CA. Setting it, or `insecure_ignore_host_key`, replaces the provider's " +
				"host key policy." + o},
		{name: "known_hosts_file", kind: kindString,
			desc: "`known_hosts` file to verify the host key against, used when no `host_key` applies; `@cert-authority` and " +
				"`@revoked` lines are honoured." + o},
		{name: "insecure_ignore_host_key", kind: kindBool,
			desc: "Accept any host key. Unsafe; throwaway hosts only." + o},
		{name: "timeout", kind: kindString, strV: []validator.String{durationValidator{}},
			desc: "Bound on each TCP connect and, separately, each SSH handshake, e.g. `\"30s\"`." + o},
		{name: "rsync_path", kind: kindString, strV: []validator.String{stringvalidator.LengthAtLeast(1)},
			desc: "The remote command that starts rsync, e.g. `\"sudo rsync\"`." + o},
	}
	a = append(a, authAttrs(o)...)
	a = append(a, sshConfigAttr(o), transportAttr(o))
	// Terraform keeps every resource and data source argument in the state
	// (sensitive ones are hidden from output, not from the state file).
	// Write-only attributes would avoid that, but Read, which refreshes
	// over SSH, never sees them.
	for i := range a {
		if a[i].sensitive {
			a[i].desc += " Like every resource argument it is stored in the state (hidden in output); set it on the " +
				"provider, or use a key file or ssh-agent, to keep it out of the state."
		}
	}
	return a
}

// connectionSchema is the `ssh` attribute of a resource schema:
//
//	"ssh": connectionSchema(),
func connectionSchema() rschema.SingleNestedAttribute {
	attrs := resourceAttrs(connectionAttrs())
	attrs["bastion"] = rschema.SingleNestedAttribute{
		MarkdownDescription: bastionDescription,
		Optional:            true,
		Attributes:          resourceAttrs(bastionAttrs()),
	}
	return rschema.SingleNestedAttribute{MarkdownDescription: connectionDescription, Optional: true, Attributes: attrs}
}

// connectionDataSourceSchema is the `ssh` attribute of a data source
// schema.
func connectionDataSourceSchema() dsschema.SingleNestedAttribute {
	attrs := dataSourceAttrs(connectionAttrs())
	attrs["bastion"] = dsschema.SingleNestedAttribute{
		MarkdownDescription: bastionDescription,
		Optional:            true,
		Attributes:          dataSourceAttrs(bastionAttrs()),
	}
	return dsschema.SingleNestedAttribute{MarkdownDescription: connectionDescription, Optional: true, Attributes: attrs}
}

// addProviderConnectionAttributes adds the provider-level attributes
// defined here (the provider block's older ones live in provider.go).
func addProviderConnectionAttributes(attrs map[string]pschema.Attribute) {
	const scope = " A default for every resource; the `ssh` attribute of a resource can override it."
	for name, a := range providerAttrs(append(authAttrs(scope), sshConfigAttr(scope), transportAttr(scope))) {
		attrs[name] = a
	}
	attrs["bastion"] = pschema.SingleNestedAttribute{
		MarkdownDescription: "A jump host every resource reaches its server through (as `ssh -J`), unless its " +
			"`ssh.bastion` names another. Hosts behind one bastion share one connection to it.",
		Optional:   true,
		Attributes: providerAttrs(bastionAttrs()),
	}
}

func resourceAttrs(list []connAttr) map[string]rschema.Attribute {
	out := map[string]rschema.Attribute{}
	for _, a := range list {
		switch a.kind {
		case kindString:
			out[a.name] = rschema.StringAttribute{MarkdownDescription: a.desc, Required: a.required, Optional: !a.required, Sensitive: a.sensitive, Validators: a.strV}
		case kindInt:
			out[a.name] = rschema.Int64Attribute{MarkdownDescription: a.desc, Required: a.required, Optional: !a.required, Sensitive: a.sensitive, Validators: a.intV}
		case kindBool:
			out[a.name] = rschema.BoolAttribute{MarkdownDescription: a.desc, Required: a.required, Optional: !a.required, Sensitive: a.sensitive}
		}
	}
	return out
}

func dataSourceAttrs(list []connAttr) map[string]dsschema.Attribute {
	out := map[string]dsschema.Attribute{}
	for _, a := range list {
		switch a.kind {
		case kindString:
			out[a.name] = dsschema.StringAttribute{MarkdownDescription: a.desc, Required: a.required, Optional: !a.required, Sensitive: a.sensitive, Validators: a.strV}
		case kindInt:
			out[a.name] = dsschema.Int64Attribute{MarkdownDescription: a.desc, Required: a.required, Optional: !a.required, Sensitive: a.sensitive, Validators: a.intV}
		case kindBool:
			out[a.name] = dsschema.BoolAttribute{MarkdownDescription: a.desc, Required: a.required, Optional: !a.required, Sensitive: a.sensitive}
		}
	}
	return out
}

func providerAttrs(list []connAttr) map[string]pschema.Attribute {
	out := map[string]pschema.Attribute{}
	for _, a := range list {
		switch a.kind {
		case kindString:
			out[a.name] = pschema.StringAttribute{MarkdownDescription: a.desc, Required: a.required, Optional: !a.required, Sensitive: a.sensitive, Validators: a.strV}
		case kindInt:
			out[a.name] = pschema.Int64Attribute{MarkdownDescription: a.desc, Required: a.required, Optional: !a.required, Sensitive: a.sensitive, Validators: a.intV}
		case kindBool:
			out[a.name] = pschema.BoolAttribute{MarkdownDescription: a.desc, Required: a.required, Optional: !a.required, Sensitive: a.sensitive}
		}
	}
	return out
}

// nonNegativeDurationValidator accepts "0s" (off) as well as positive
// durations.
type nonNegativeDurationValidator struct{}

func (nonNegativeDurationValidator) Description(context.Context) string {
	return `must be a duration such as "30s" or "2m", or "0s" to turn it off`
}

func (v nonNegativeDurationValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (nonNegativeDurationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := parseDurationOrZero(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%s: %s.", req.Path, err))
	}
}

func parseDurationOrZero(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write a number with a unit, such as \"30s\" or \"2m\", or \"0s\"", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative; write \"0s\" to turn it off", s)
	}
	return d, nil
}

// ---------------------------------------------------------------------------
// The provider block's new settings.
