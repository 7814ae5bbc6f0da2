package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
)

func TestProviderSchemaIsValid(t *testing.T) {
	ctx := context.Background()
	p := New("test")()
	var resp fwprovider.SchemaResponse
	p.Schema(ctx, fwprovider.SchemaRequest{}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatalf("provider schema: %v", resp.Diagnostics)
	}
	if d := resp.Schema.ValidateImplementation(ctx); d.HasError() {
		t.Fatalf("provider schema implementation: %v", d)
	}
	if !resp.Schema.Attributes["private_key"].IsSensitive() {
		t.Error("private_key must be sensitive")
	}

	r := newDirectoryResource()
	var rresp fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &rresp)
	if d := rresp.Schema.ValidateImplementation(ctx); d.HasError() {
		t.Fatalf("rsync_directory schema implementation: %v", d)
	}
}

func TestSettingsFromModel(t *testing.T) {
	m := providerModel{
		User:                  types.StringValue("deploy"),
		Port:                  types.Int64Value(2222),
		PrivateKey:            types.StringNull(),
		PrivateKeyFile:        types.StringValue("/k"),
		HostKey:               types.StringNull(),
		KnownHostsFile:        types.StringValue("/kh"),
		InsecureIgnoreHostKey: types.BoolNull(),
		Timeout:               types.StringValue("45s"),
		RsyncPath:             types.StringNull(),
	}
	s, diags := settingsFromModel(m)
	if diags.HasError() {
		t.Fatal(diags)
	}
	want := connSettings{User: "deploy", Port: 2222, PrivateKeyFile: "/k", KnownHostsFile: "/kh",
		Timeout: 45 * time.Second, RsyncPath: "rsync"}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("settings = %+v, want %+v", s, want)
	}

	cfg, _ := s.resolve(context.Background(), nil, "", "h")
	if cfg.User != "deploy" || cfg.Host != "h" || cfg.Port != 2222 || cfg.Timeout != 45*time.Second ||
		cfg.PrivateKeyFile != "/k" || cfg.KnownHostsFile != "/kh" {
		t.Errorf("resolve = %+v", cfg)
	}
	if cfg, _ := s.resolve(context.Background(), nil, "www", "h"); cfg.User != "www" {
		t.Errorf("destination user must override the provider's, got %q", cfg.User)
	}

	m.Timeout = types.StringValue("soon")
	if _, diags := settingsFromModel(m); !diags.HasError() {
		t.Error("bad timeout accepted")
	}
}

func TestParseTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{"30s": 30 * time.Second, "2m": 2 * time.Minute, "1m30s": 90 * time.Second} {
		if got, err := parseTimeout(in); err != nil || got != want {
			t.Errorf("parseTimeout(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "30", "abc", "0s", "-5s"} {
		if _, err := parseTimeout(in); err == nil {
			t.Errorf("parseTimeout(%q) accepted", in)
		}
	}
}

func runStringValidator(v validator.String, value types.String) []string {
	req := validator.StringRequest{Path: path.Root("destination"), ConfigValue: value}
	var resp validator.StringResponse
	v.ValidateString(context.Background(), req, &resp)
	var out []string
	for _, d := range resp.Diagnostics {
		out = append(out, d.Summary()+": "+d.Detail())
	}
	return out
}

func TestRemoteValidator(t *testing.T) {
	if d := runStringValidator(remoteValidator{}, types.StringValue("u@h:/p")); len(d) != 0 {
		t.Errorf("valid destination rejected: %v", d)
	}
	if d := runStringValidator(remoteValidator{}, types.StringUnknown()); len(d) != 0 {
		t.Errorf("unknown destination rejected: %v", d)
	}
	d := runStringValidator(remoteValidator{}, types.StringValue("/var/www"))
	if len(d) != 1 {
		t.Fatalf("local path: got %d diagnostics, want 1: %v", len(d), d)
	}
	for _, want := range []string{"destination", `no "host:" part`, "[user@]host:path", "deploy@web1.example.com:/var/www/site/"} {
		if !strings.Contains(d[0], want) {
			t.Errorf("diagnostic %q does not mention %q", d[0], want)
		}
	}
}

func TestDurationValidator(t *testing.T) {
	if d := runStringValidator(durationValidator{}, types.StringValue("30s")); len(d) != 0 {
		t.Errorf("30s rejected: %v", d)
	}
	if d := runStringValidator(durationValidator{}, types.StringValue("30")); len(d) != 1 || !strings.Contains(d[0], `"30s"`) {
		t.Errorf("30 accepted or unclear: %v", d)
	}
}

func TestCheckSource(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{dir, dir + "/", file} {
		if err := checkSource(ok); err != nil {
			t.Errorf("checkSource(%q): %v", ok, err)
		}
	}
	err := checkSource(filepath.Join(dir, "missing") + "/")
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "missing/") {
		t.Errorf("missing source: %v", err)
	}
	err = checkSource(file + "/")
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file with slash: %v", err)
	}
}

func TestHints(t *testing.T) {
	if h := pushHint(&rsync.ExitError{Code: 127}); !strings.Contains(h, "rsync_path") {
		t.Errorf("exit 127 hint: %s", h)
	}
	if h := pushHint(fmt.Errorf("wrapped: %w", &rsync.ExitError{Code: 23})); !strings.Contains(h, "writable") {
		t.Errorf("exit 23 hint: %s", h)
	}
	cfg := sshconn.Config{Host: "h", User: "u"}
	if s, d := dialDiagnostic(errors.New("ssh: connect to h:22: connection refused"), cfg); s != "SSH connection failed" || d != "Could not connect to u@h: connect to h:22: connection refused." {
		t.Errorf("dial diagnostic: %q, %q", s, d)
	}
}

// shTransport runs commands with the local /bin/sh: the same contract as the
// SSH transport, for testing remoteExists without sshd.
type shTransport struct{}

type shProcess struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr io.Reader
}

func (shTransport) Start(ctx context.Context, command string) (rsync.Process, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	p := &shProcess{cmd: cmd}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if p.stdout, err = cmd.StdoutPipe(); err != nil {
		return nil, err
	}
	if p.stderr, err = cmd.StderrPipe(); err != nil {
		return nil, err
	}
	return p, cmd.Start()
}

func (p *shProcess) Stdin() io.WriteCloser { return p.stdin }
func (p *shProcess) Stdout() io.Reader     { return p.stdout }
func (p *shProcess) Stderr() io.Reader     { return p.stderr }
func (p *shProcess) Kill() error           { return p.cmd.Process.Kill() }
func (p *shProcess) Wait() (int, error) {
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

func TestRemoteExists(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	site := filepath.Join(dir, "it's a site")
	if err := os.Mkdir(site, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		source, dest string
		want         bool
	}{
		{"x/", site, true},
		{"x/", site + "-gone", false},
		{"/local/it's a site", dir, true},
		{"/local/other", dir, false},
	}
	for _, tt := range tests {
		root := landing(tt.source, true, tt.dest, true)
		got, err := remoteExists(ctx, shTransport{}, existsCommand(root.RemovePath))
		if err != nil || got != tt.want {
			t.Errorf("remoteExists(%q -> %q) = %v, %v; want %v", tt.source, tt.dest, got, err, tt.want)
		}
	}
	_, err := remoteExists(ctx, shTransport{}, "echo oops >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "oops") || !strings.Contains(err.Error(), "status 3") {
		t.Errorf("failing command: %v", err)
	}
}
