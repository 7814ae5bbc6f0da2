package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"golang.org/x/crypto/ssh"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
)

var (
	_ resource.Resource               = (*directoryResource)(nil)
	_ resource.ResourceWithConfigure  = (*directoryResource)(nil)
	_ resource.ResourceWithModifyPlan = (*directoryResource)(nil)
)

func newDirectoryResource() resource.Resource {
	return &directoryResource{}
}

// directoryResource is rsync_directory: a local tree pushed to a remote path.
type directoryResource struct {
	settings *connSettings
}

type directoryModel struct {
	ID          types.String `tfsdk:"id"`
	Source      types.String `tfsdk:"source"`
	Destination types.String `tfsdk:"destination"`
}

func (r *directoryResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_directory"
}

func (r *directoryResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Pushes a local directory tree to a remote host over SSH, as `rsync -a source destination` does: " +
			"regular files, directories and symlinks, with permissions and modification times. " +
			"Destroying the resource leaves the remote files in place.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The destination, as written in `destination`.",
				Computed:            true,
			},
			"source": schema.StringAttribute{
				MarkdownDescription: "Local path to push, absolute or relative to the directory Terraform runs in " +
					"(use `\"${path.module}/site/\"` to be independent of it). rsync's trailing-slash rule applies: " +
					"`\"dir/\"` pushes the contents of `dir` into `destination`; `\"dir\"` pushes the directory itself, " +
					"which lands as `destination/dir`.",
				Required:   true,
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"destination": schema.StringAttribute{
				MarkdownDescription: "Remote location in rsync's form `[user@]host:path`, e.g. `\"deploy@web1.example.com:/var/www/site/\"`. " +
					"IPv6 addresses go in brackets (`\"[2001:db8::1]:/srv/www\"`). A relative path is relative to the login " +
					"directory; an empty path (`\"host:\"`) is the login directory. The user, when given, overrides the " +
					"provider's `user`. Changing it replaces the resource.",
				Required:      true,
				Validators:    []validator.String{remoteValidator{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
		},
	}
}

func (r *directoryResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	s, ok := req.ProviderData.(*connSettings)
	if !ok {
		resp.Diagnostics.AddError("Unexpected provider data",
			fmt.Sprintf("Expected *connSettings, got %T. This is a bug in the provider; please report it.", req.ProviderData))
		return
	}
	r.settings = s
}

// ModifyPlan plans id (it is the destination) and checks, when the value is
// known, that the source exists, so a typo fails at plan and not at apply.
func (r *directoryResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan directoryModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.Destination.IsUnknown() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), plan.Destination)...)
	}
	if !plan.Source.IsUnknown() && !plan.Source.IsNull() {
		resp.Diagnostics.Append(sourceDiagnostics(plan.Source.ValueString())...)
	}
}

// checkSource returns an error saying what to fix when source cannot be
// pushed.
func checkSource(source string) error {
	_, err := os.Stat(source)
	if err == nil {
		return nil
	}
	where := fmt.Sprintf("%q", source)
	if abs, aerr := filepath.Abs(source); aerr == nil && abs != strings.TrimSuffix(source, "/") {
		where = fmt.Sprintf("%q (%s)", source, abs)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("source %s does not exist. Set source to an existing local directory "+
			"(relative paths are relative to the directory Terraform runs in; \"${path.module}/dir/\" avoids that): "+
			"\"dir/\" pushes its contents, \"dir\" the directory itself", where)
	case strings.HasSuffix(source, "/") && isNotDir(err):
		return fmt.Errorf("source %s is not a directory, but ends in \"/\"; remove the trailing slash to push a single file", where)
	}
	return fmt.Errorf("source %s cannot be read: %v. Check that it exists and that Terraform may read it", where, err)
}

func isNotDir(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "not a directory")
}

func sourceDiagnostics(source string) diag.Diagnostics {
	var diags diag.Diagnostics
	if err := checkSource(source); err != nil {
		diags.AddAttributeError(path.Root("source"), "Source not found", err.Error()+".")
	}
	return diags
}

func (r *directoryResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan directoryModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(r.push(ctx, plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID = plan.Destination
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *directoryResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan directoryModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(r.push(ctx, plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID = plan.Destination
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Read keeps the resource while what it pushed exists on the remote host and
// removes it from state when it is gone, so the next apply pushes again.
func (r *directoryResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state directoryModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, err := parseRemote(state.Destination.ValueString())
	if err != nil {
		summary, detail := remoteDiagnostic("destination", err)
		resp.Diagnostics.AddAttributeError(path.Root("destination"), summary, detail)
		return
	}
	client, diags := r.dial(ctx, spec)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	defer client.Close()

	cmd := existsCommand(state.Source.ValueString(), spec.Path)
	exists, err := remoteExists(ctx, sshconn.NewTransport(client), cmd)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("destination"), "Cannot check the destination",
			fmt.Sprintf("Could not check whether %s exists on %s: %v. Check that the user can run a shell "+
				"command on the host and can read the destination path.", spec.Path, spec.Host, err))
		return
	}
	if !exists {
		tflog.Warn(ctx, "destination is gone from the remote host; removing rsync_directory from state",
			map[string]interface{}{"destination": state.Destination.ValueString(), "check": cmd})
		resp.State.RemoveResource(ctx)
		return
	}
	if state.ID.IsNull() || state.ID.IsUnknown() {
		state.ID = state.Destination
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Delete forgets the resource. The remote files stay in place.
func (r *directoryResource) Delete(ctx context.Context, req resource.DeleteRequest, _ *resource.DeleteResponse) {
	var state directoryModel
	_ = req.State.Get(ctx, &state)
	tflog.Info(ctx, "rsync_directory removed from state; the remote files are left in place",
		map[string]interface{}{"destination": state.Destination.ValueString()})
}

// push runs `rsync -a source destination` through the engine.
func (r *directoryResource) push(ctx context.Context, m directoryModel) diag.Diagnostics {
	var diags diag.Diagnostics
	source, dest := m.Source.ValueString(), m.Destination.ValueString()
	diags.Append(sourceDiagnostics(source)...)
	if diags.HasError() {
		return diags
	}
	spec, err := parseRemote(dest)
	if err != nil {
		summary, detail := remoteDiagnostic("destination", err)
		diags.AddAttributeError(path.Root("destination"), summary, detail)
		return diags
	}
	client, dd := r.dial(ctx, spec)
	diags.Append(dd...)
	if diags.HasError() {
		return diags
	}
	defer client.Close()

	s := r.settingsOrDefault()
	ctx = tflog.SetField(ctx, "destination", dest)
	tflog.Info(ctx, "pushing", map[string]interface{}{"source": source, "remote_path": pushDestPath(spec.Path)})
	res, err := rsync.Push(ctx, sshconn.NewTransport(client), source, pushDestPath(spec.Path), rsync.Options{
		RsyncPath: s.RsyncPath,
		Logger:    newEngineLogger(ctx),
	})
	if err != nil {
		diags.AddAttributeError(path.Root("destination"), "Push failed",
			fmt.Sprintf("Could not push %s to %s: %v.\n\n%s", source, dest, err, pushHint(err, s.RsyncPath)))
		return diags
	}
	for _, w := range res.Warnings {
		diags.AddAttributeWarning(path.Root("destination"), "Warning from the remote rsync", w)
	}
	tflog.Info(ctx, "pushed", map[string]interface{}{
		"protocol": res.Protocol, "checksum": res.Checksum, "files": res.Stats.FilesTotal,
		"transferred": res.Stats.FilesTransferred, "bytes_sent": res.Stats.BytesSent,
		"bytes_received": res.Stats.BytesReceived, "changes": len(res.Changes),
	})
	return diags
}

// pushHint says what to do about a failed push.
func pushHint(err error, rsyncPath string) string {
	var ee *rsync.ExitError
	if errors.As(err, &ee) {
		switch ee.Code {
		case 126, 127:
			return fmt.Sprintf("The remote command %q could not be run. Install rsync on the remote host, "+
				"or set the provider's rsync_path to the command that starts it.", rsyncPath)
		case 3, 11, 23:
			return "Check that the destination path is writable by the SSH user (rsync_path = \"sudo rsync\" " +
				"runs the remote side with sudo) and that the disk is not full."
		}
	}
	return "Check that rsync is installed on the remote host (or set the provider's rsync_path), and that the " +
		"SSH user may write to the destination path."
}

func (r *directoryResource) settingsOrDefault() connSettings {
	if r.settings != nil {
		return *r.settings
	}
	return connSettings{RsyncPath: defaultRsyncPath}
}

// dial opens the SSH connection for spec with the provider's settings.
func (r *directoryResource) dial(ctx context.Context, spec remoteSpec) (*ssh.Client, diag.Diagnostics) {
	var diags diag.Diagnostics
	cfg := r.settingsOrDefault().sshConfig(spec)
	tflog.Debug(ctx, "opening SSH connection", map[string]interface{}{
		"host": cfg.Host, "port": cfg.Port, "user": cfg.User,
	})
	client, err := sshconn.Dial(ctx, cfg)
	if err != nil {
		summary, detail := dialDiagnostic(err, cfg)
		diags.AddAttributeError(path.Root("destination"), summary, detail)
		return nil, diags
	}
	return client, diags
}

// dialDiagnostic words a failed SSH connection. sshconn's errors already
// name the setting to fix; the summary says which kind of failure it is.
func dialDiagnostic(err error, cfg sshconn.Config) (summary, detail string) {
	msg := strings.TrimPrefix(err.Error(), "ssh: ") + "."
	var hostKeyErr *sshconn.HostKeyError
	var authErr *sshconn.AuthError
	switch {
	case errors.As(err, &hostKeyErr):
		return "SSH host key not trusted", msg
	case errors.As(err, &authErr):
		return "SSH authentication failed", msg
	}
	return "SSH connection failed", fmt.Sprintf("Could not connect to %s: %s", displayHost(cfg), msg)
}

// remoteExists runs a `test` command through the transport: exit 0 means it
// exists, 1 that it does not; anything else is an error.
func remoteExists(ctx context.Context, t rsync.Transport, command string) (bool, error) {
	p, err := t.Start(ctx, command)
	if err != nil {
		return false, err
	}
	_ = p.Stdin().Close()
	stderr := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(p.Stderr(), 64<<10))
		_, _ = io.Copy(io.Discard, p.Stderr())
		stderr <- strings.TrimSpace(string(b))
	}()
	_, _ = io.Copy(io.Discard, p.Stdout())
	code, err := p.Wait()
	msg := <-stderr
	if err != nil {
		_ = p.Kill()
		return false, err
	}
	switch code {
	case 0:
		return true, nil
	case 1:
		return false, nil
	}
	if msg == "" {
		msg = "no message"
	}
	return false, fmt.Errorf("remote command %q exited with status %d: %s", command, code, msg)
}

// displayHost is user@host[ port N] for messages.
func displayHost(cfg sshconn.Config) string {
	h := cfg.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if cfg.User != "" {
		h = cfg.User + "@" + h
	}
	if cfg.Port != 0 {
		h = fmt.Sprintf("%s port %d", h, cfg.Port)
	}
	return h
}
