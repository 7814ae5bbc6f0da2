package provider

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// protoV6ProviderFactories serves the provider in-process to the terraform
// binary that terraform-plugin-testing runs.
func protoV6ProviderFactories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"rsync": providerserver.NewProtocol6WithError(New("test")()),
	}
}

// accSetup is the start of every acceptance test. Without TF_ACC it skips,
// like resource.Test. With TF_ACC it fails (never skips) when terraform,
// rsync or sshd are missing, points Terraform at a CLI config that exists
// (the environment may name one that does not), and starts a throwaway sshd
// that is stopped when the test ends.
func accSetup(t *testing.T) *sshtest.Server {
	t.Helper()
	return accSetupWith(t)
}

// accSetupWith is accSetup with options for the test server.
func accSetupWith(t *testing.T, opts ...sshtest.Option) *sshtest.Server {
	t.Helper()
	accEnv(t)
	return sshtest.Start(t, opts...)
}

// accSetupDropbear is accSetup with Dropbear as the server (missing
// Dropbear fails the test too, TF_ACC being set).
func accSetupDropbear(t *testing.T) *sshtest.Server {
	t.Helper()
	accEnv(t)
	return sshtest.StartDropbear(t)
}

// accEnv is accSetup without the server: the checks and the environment.
func accEnv(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance tests run only with TF_ACC=1 (make test sets it)")
	}
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("TF_ACC_TERRAFORM_PATH=%s: %v", p, err)
		}
	} else {
		p, err := exec.LookPath("terraform")
		if err != nil {
			t.Fatal("terraform not found on PATH and TF_ACC_TERRAFORM_PATH not set: install terraform (.ci/run does)")
		}
		t.Setenv("TF_ACC_TERRAFORM_PATH", p)
	}
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Fatal("rsync not found on PATH: the test server runs the stock rsync; install it (apt-get install rsync)")
	}
	if f := os.Getenv("TF_CLI_CONFIG_FILE"); f != "" {
		if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
			empty := filepath.Join(t.TempDir(), "terraformrc")
			if err := os.WriteFile(empty, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("TF_CLI_CONFIG_FILE", empty)
		}
	}
	t.Setenv("CHECKPOINT_DISABLE", "1")
}

// providerAddrs are the addresses a configuration can give this provider
// when the tests drive the CLI themselves (reattach, dev_overrides): unnamed
// (hashicorp/rsync) or as published (rsyncprovider/rsync). The host is the
// one the CLI fills in for a bare source: registry.terraform.io for
// Terraform, registry.opentofu.org for OpenTofu, which make test-tofu says
// in TF_ACC_PROVIDER_HOST (terraform-plugin-testing's own variable, read for
// the same purpose).
func providerAddrs() []string {
	host := strings.TrimSuffix(os.Getenv("TF_ACC_PROVIDER_HOST"), "/")
	if host == "" {
		host = "registry.terraform.io"
	}
	return []string{host + "/hashicorp/rsync", host + "/rsyncprovider/rsync"}
}

// hclString quotes s as an HCL string literal.
func hclString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "${", "$${", "%{", "%%{")
	return `"` + r.Replace(s) + `"`
}

// providerConfig is a provider block for srv, with overrides of its
// attributes (name → HCL expression).
func providerConfig(srv *sshtest.Server, overrides map[string]string) string {
	attrs := map[string]string{
		"port":             fmt.Sprint(srv.Port),
		"private_key_file": hclString(srv.ClientKeyFile),
		"known_hosts_file": hclString(srv.KnownHostsFile),
		"timeout":          `"20s"`,
	}
	for k, v := range overrides {
		attrs[k] = v
	}
	var b strings.Builder
	b.WriteString("provider \"rsync\" {\n")
	for _, k := range []string{"user", "port", "private_key", "private_key_file", "host_key", "known_hosts_file", "insecure_ignore_host_key", "timeout", "rsync_path"} {
		if v, ok := attrs[k]; ok && v != "" {
			fmt.Fprintf(&b, "  %s = %s\n", k, v)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

func directoryConfig(provider, source, destination string) string {
	return provider + fmt.Sprintf(`
resource "rsync_directory" "test" {
  source      = %s
  destination = %s
}
`, hclString(source), hclString(destination))
}

// remoteDest is srv's `user@host:path` for a local path.
func remoteDest(srv *sshtest.Server, p string) string {
	return fmt.Sprintf("%s@%s:%s", srv.User, srv.Host, p)
}

// words matches the words of s in order, with any whitespace between them
// (Terraform wraps diagnostic text); "…" stands for any text.
func words(s string) *regexp.Regexp {
	var pieces []string
	for _, seg := range strings.Split(s, "…") {
		parts := strings.Fields(seg)
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		pieces = append(pieces, strings.Join(parts, `\s+`))
	}
	return regexp.MustCompile(`(?s)` + strings.Join(pieces, `.*?`))
}
