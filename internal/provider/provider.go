// Package provider is the Terraform glue of terraform-provider-rsync: the
// provider and its resources, mapping Terraform models to the SSH and rsync
// engine settings and engine errors to diagnostics. It never speaks bytes on
// the wire.
package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// defaultRsyncPath is the remote command that starts rsync.
const defaultRsyncPath = "rsync"

var _ provider.Provider = (*rsyncProvider)(nil)

// New returns a constructor for the provider, as providerserver.Serve wants.
func New(version string) func() provider.Provider {
	return func() provider.Provider {
		return &rsyncProvider{version: version}
	}
}

type rsyncProvider struct {
	version string
	// sourceWalked, when set, is handed to every configuration's
	// sourceWalks (source_walks.go): tests count the source walks of a
	// terraform command through it. Nil in the provider.
	sourceWalked func(key string)
	// sourceReadings, when set, is handed the directory readings the
	// pushes of a configuration share (sourceWalks.sourceReadings): tests
	// count what they shared. Nil in the provider.
	sourceReadings func(*flist.DirReadings)
	// digests, when set, is the digest cache of every configuration
	// (tests: one that trusts the files they have just written). Nil in
	// the provider: the user's cache directory.
	digests *tree.DigestCache
	// streamed, when set, is told of each refresh that streamed its
	// listing ("refresh") and each plan made from streams ("plan") (tests:
	// that the no-change plan of a large tree holds no manifest). Nil in
	// the provider.
	streamed func(step string)
}

// providerModel is the provider block.
type providerModel struct {
	User                  types.String `tfsdk:"user"`
	Port                  types.Int64  `tfsdk:"port"`
	PrivateKey            types.String `tfsdk:"private_key"`
	PrivateKeyFile        types.String `tfsdk:"private_key_file"`
	HostKey               types.String `tfsdk:"host_key"`
	KnownHostsFile        types.String `tfsdk:"known_hosts_file"`
	InsecureIgnoreHostKey types.Bool   `tfsdk:"insecure_ignore_host_key"`
	Timeout               types.String `tfsdk:"timeout"`
	RsyncPath             types.String `tfsdk:"rsync_path"`
	// Defined in connection.go.
	PrivateKeyPassphrase types.String  `tfsdk:"private_key_passphrase"`
	Certificate          types.String  `tfsdk:"certificate"`
	Password             types.String  `tfsdk:"password"`
	Agent                types.Bool    `tfsdk:"agent"`
	AgentIdentity        types.String  `tfsdk:"agent_identity"`
	KeepaliveInterval    types.String  `tfsdk:"keepalive_interval"`
	ConnectRetryTimeout  types.String  `tfsdk:"connect_retry_timeout"`
	Bastion              *bastionModel `tfsdk:"bastion"`

	// Defined in connection_sshconfig.go.
	SSHConfigFile types.String `tfsdk:"ssh_config_file"`
	// Defined in connection_transport.go.
	Transport types.String `tfsdk:"transport"`
}

// connSettings are the provider-level defaults every resource connects with.
type connSettings struct {
	User                  string
	Port                  int
	PrivateKey            string
	PrivateKeyFile        string
	HostKey               string
	KnownHostsFile        string
	InsecureIgnoreHostKey bool
	Timeout               time.Duration
	RsyncPath             string
	// Merged with a resource's `ssh` attribute by resolve (connection.go).
	PrivateKeyPassphrase string
	Certificate          string
	Password             string
	Agent                sshconn.AgentMode
	AgentIdentity        string
	KeepaliveInterval    time.Duration // 0: sshconn's default; negative: off
	ConnectRetryTimeout  time.Duration
	Bastion              *bastionSettings

	// The OpenSSH client configuration (connection_sshconfig.go):
	// SSHConfigFile when SSHConfigFileSet ("" turns it off), else
	// ~/.ssh/config when it exists.
	SSHConfigFile    string
	SSHConfigFileSet bool
	// Transport is transport ("" = auto); engines the choices made
	// (connection_transport.go).
	Transport string
	engines   *engineCache

	// pool shares SSH connections among everything this provider
	// instance does; set by Configure (connPool falls back otherwise).
	pool *sshconn.Pool
	// listings hands refresh's destination listings to the apply walk's
	// re-plan (listing_store.go); nil: each re-plan lists again.
	listings *listingStore
	// destinations records the destinations planned in this process, to
	// warn about two that overlap (directory_resource_overlap.go).
	destinations *destRegistry
	// manifests hands Read's readings to the ModifyPlan that follows
	// (directory_resource_manifest.go); nil: nothing is kept.
	manifests *manifestCache
	// baselines hands a plan's baseline to the apply that follows it
	// (plannedBaselines); nil: the apply keeps none.
	baselines *plannedBaselines
	// sources shares a local source's walk among the resources of this
	// walk (source_walks.go); nil: each resource walks it.
	sources *sourceWalks
	// digests keeps local files' digests between runs, so that an
	// unchanged file is stat'ed, not read (tree.DigestCache); nil: every
	// hash reads every file.
	digests *tree.DigestCache
	// streamed is rsyncProvider.streamed.
	streamed func(step string)
}

// settingsFromModel resolves the provider block into connSettings. Unset
// values stay zero (sshconn applies its defaults: port 22, the current
// user, ~/.ssh/known_hosts); rsync_path defaults to "rsync".
func settingsFromModel(m providerModel) (connSettings, diag.Diagnostics) {
	var diags diag.Diagnostics
	s := connSettings{
		User:                  m.User.ValueString(),
		Port:                  int(m.Port.ValueInt64()),
		PrivateKey:            m.PrivateKey.ValueString(),
		PrivateKeyFile:        m.PrivateKeyFile.ValueString(),
		HostKey:               m.HostKey.ValueString(),
		KnownHostsFile:        m.KnownHostsFile.ValueString(),
		InsecureIgnoreHostKey: m.InsecureIgnoreHostKey.ValueBool(),
		RsyncPath:             m.RsyncPath.ValueString(),
	}
	if s.RsyncPath == "" {
		s.RsyncPath = defaultRsyncPath
	}
	if t := m.Timeout.ValueString(); t != "" {
		d, err := parseTimeout(t)
		if err != nil {
			diags.AddAttributeError(path.Root("timeout"), "Invalid timeout", fmt.Sprintf("timeout: %s.", err))
		}
		s.Timeout = d
	}
	diags.Append(s.applyProviderExtras(m)...)
	return s, diags
}

func (p *rsyncProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "rsync"
	resp.Version = p.version
}

func (p *rsyncProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Synchronizes local directory trees to remote hosts, as `rsync -a` does, " +
			"by speaking the rsync protocol over SSH to the stock `rsync` on the remote host. " +
			"Every setting here is a default for every resource of this provider.",
		Attributes: map[string]schema.Attribute{
			"user": schema.StringAttribute{
				MarkdownDescription: "SSH user name, used when a destination does not name one (`user@host:path`). " +
					"Defaults to the name of the user running Terraform.",
				Optional: true,
			},
			"port": schema.Int64Attribute{
				MarkdownDescription: "SSH port. Defaults to `22`.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.Between(1, 65535)},
			},
			"private_key": schema.StringAttribute{
				MarkdownDescription: "PEM-encoded private key to authenticate with (the content, not a path). " +
					"Conflicts with `private_key_file`.",
				Optional:  true,
				Sensitive: true,
				Validators: []validator.String{
					stringvalidator.ConflictsWith(path.MatchRoot("private_key_file")),
				},
			},
			"private_key_file": schema.StringAttribute{
				MarkdownDescription: "Path of a PEM or OpenSSH private key file to authenticate with (a leading `~` is expanded; " +
					"on Windows `~` is `%USERPROFILE%`). Conflicts with `private_key`. When no key is configured, `~/.ssh/id_rsa`, " +
					"`~/.ssh/id_ecdsa` and `~/.ssh/id_ed25519` are tried when they exist, after the agent's keys, as `ssh` does.",
				Optional: true,
			},
			"host_key": schema.StringAttribute{
				MarkdownDescription: "The server's public host key, pinned, in `authorized_keys` format " +
					"(e.g. `ssh-ed25519 AAAA...`). When set, the server must present exactly this key. " +
					"`@cert-authority ssh-ed25519 AAAA...` pins instead the CA whose host certificates are trusted.",
				Optional: true,
				Validators: []validator.String{
					stringvalidator.ConflictsWith(path.MatchRoot("insecure_ignore_host_key")),
				},
			},
			"known_hosts_file": schema.StringAttribute{
				MarkdownDescription: "OpenSSH `known_hosts` file to verify host keys against. " +
					"Defaults to `~/.ssh/known_hosts` (`%USERPROFILE%\\.ssh\\known_hosts` on Windows). An unknown or changed host key is refused. " +
					"`@cert-authority` lines (host certificates) and `@revoked` lines are honoured; a pattern " +
					"without `[host]:port` matches port 22 only.",
				Optional: true,
			},
			"insecure_ignore_host_key": schema.BoolAttribute{
				MarkdownDescription: "Accept any host key without verifying it. Defaults to `false`. " +
					"This makes the connection open to man-in-the-middle attacks; use it only for throwaway hosts.",
				Optional: true,
			},
			"timeout": schema.StringAttribute{
				MarkdownDescription: "Connect timeout, as a duration such as `\"30s\"` or `\"2m\"`: it bounds the TCP connect and, " +
					"separately, the SSH handshake and authentication. Defaults to `\"30s\"`.",
				Optional:   true,
				Validators: []validator.String{durationValidator{}},
			},
			"rsync_path": schema.StringAttribute{
				MarkdownDescription: "The remote command that starts rsync, inserted verbatim into the remote command line, " +
					"e.g. `\"sudo rsync\"` or `\"/opt/rsync/bin/rsync\"`. Defaults to `\"rsync\"`.",
				Optional: true,
			},
		},
	}
	addProviderConnectionAttributes(resp.Schema.Attributes)
}

func (p *rsyncProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, diags := settingsFromModel(m)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	s.pool = sshconn.NewPool(sshconn.PoolOptions{})
	s.listings = newListingStore()
	s.engines = &engineCache{}
	s.destinations = newDestRegistry()
	s.manifests = newManifestCache()
	s.baselines = newPlannedBaselines()
	s.sources = newSourceWalks(p.sourceWalked)
	s.sources.readingsMade = p.sourceReadings
	s.digests = p.digests
	s.streamed = p.streamed
	if s.digests == nil {
		s.digests = newDigestCache()
	}
	tflog.Debug(ctx, "provider configured", map[string]interface{}{
		"user": s.User, "port": s.Port, "private_key_file": s.PrivateKeyFile,
		"known_hosts_file": s.KnownHostsFile, "host_key_pinned": s.HostKey != "",
		"insecure_ignore_host_key": s.InsecureIgnoreHostKey, "timeout": s.Timeout.String(),
		"rsync_path": s.RsyncPath, "agent_identity": s.AgentIdentity,
		"keepalive_interval": s.KeepaliveInterval.String(), "connect_retry_timeout": s.ConnectRetryTimeout.String(),
		"bastion_set": s.Bastion != nil,
	})
	resp.ResourceData = &s
	resp.DataSourceData = &s
}

func (p *rsyncProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newDirectoryResource,
	}
}

func (p *rsyncProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		newManifestDataSource,
	}
}
