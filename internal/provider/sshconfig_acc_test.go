//go:build unix

package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"golang.org/x/crypto/ssh"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// Acceptance tests of the OpenSSH client configuration (issue 16 item 1).

// decoyKey writes a valid private key no server authorizes, and returns
// its path and fingerprint.
func decoyKey(t *testing.T) (string, string) {
	t.Helper()
	k, err := sshtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "decoy_key")
	if err := os.WriteFile(p, []byte(k.PEM), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, ssh.FingerprintSHA256(k.Signer.PublicKey())
}

// lineOf is the 1-based number of the line of content that starts with
// prefix (after indentation).
func lineOf(t *testing.T, content, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(content, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line %q in\n%s", prefix, content)
	return 0
}

// TestAccSSHConfig_proxyJumpInclude: the destination is the alias "web1"
// of ~/.ssh/config (read by default: HOME is the working directory), whose
// block names its HostName, Port, IdentityFile, known_hosts and
// "ProxyJump jumpbox"; "jumpbox" is an alias defined in a file the config
// Includes. The provider block is empty. The jump is proven by the jump
// server's own log (a direct-tcpip channel to the target's port, at
// LogLevel DEBUG1), not assumed; the LocalForward in web1's block is warned
// about at plan, naming it and its file:line.
func TestAccSSHConfig_proxyJumpInclude(t *testing.T) {
	srv := accSetup(t)
	jump := sshtest.Start(t, sshtest.WithLogLevel("DEBUG1"),
		sshtest.WithExtraConfig("AllowTcpForwarding yes\nPermitOpen "+srv.Addr()))
	src := smallTree(t)
	dst := t.TempDir()

	config := strings.Join([]string{
		"# ~/.ssh/config written by TestAccSSHConfig_proxyJumpInclude",
		"Include jumps.conf",
		"",
		"Host web1 !web2",
		"  HostName 127.0.0.1",
		fmt.Sprintf("  Port %d", srv.Port),
		"  IdentityFile " + srv.ClientKeyFile,
		"  UserKnownHostsFile " + srv.KnownHostsFile,
		"  ProxyJump jumpbox",
		"  LocalForward 18080 127.0.0.1:80",
		"",
	}, "\n")
	jumps := strings.Join([]string{
		"Host jumpbox",
		"  HostName 127.0.0.1",
		fmt.Sprintf("  Port %d", jump.Port),
		"  IdentityFile " + jump.ClientKeyFile,
		"  UserKnownHostsFile " + jump.KnownHostsFile,
		"",
	}, "\n")
	r := newBinRunner(t, map[string]string{
		".ssh/config":     config,
		".ssh/jumps.conf": jumps,
		"main.tf": "provider \"rsync\" {}\n" + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString("web1:" + dst + "/"),
		}),
	})
	cfgPath := filepath.Join(r.dir, ".ssh", "config")

	plan := r.run(0, "plan", "-input=false", "-no-color")
	want := words(fmt.Sprintf("Warning: ssh_config: LocalForward not supported … LocalForward 18080 127.0.0.1:80 (%s:%d (Host web1 !web2)) applies to web1",
		cfgPath, lineOf(t, config, "LocalForward")))
	if !want.MatchString(plan.output()) {
		t.Errorf("the plan does not warn about LocalForward as %q:\n%s", want, plan.output())
	}
	r.run(0, "apply", "-input=false", "-auto-approve", "-no-color")
	if err := checkTreesEqual(src, dst)(nil); err != nil {
		t.Error(err)
	}
	forwarded := regexp.MustCompile(fmt.Sprintf(`server_request_direct_tcpip: originator \S+ port \d+, target 127\.0\.0\.1 port %d\b`, srv.Port))
	if !forwarded.MatchString(jump.Log()) {
		t.Errorf("the jump host's log shows no forwarded connection to %s:\n%s", srv.Addr(), jump.Log())
	}
	if !strings.Contains(jump.Log(), "Accepted publickey for "+jump.User) {
		t.Error("the jump host logged no login with its IdentityFile")
	}
	if !strings.Contains(srv.Log(), "Accepted publickey for "+srv.User) {
		t.Error("the target logged no login")
	}
	if res := r.run(0, "plan", "-input=false", "-no-color", "-detailed-exitcode"); strings.Contains(res.output(), "will be") {
		t.Errorf("the second plan is not empty:\n%s", res.output())
	}
}

// TestAccSSHConfig_identityFilesAndExplicit: ssh_config_file names the
// file. IdentityFile precedence: the matching blocks' IdentityFiles are
// tried in the file's order (a decoy first, then the authorized key; the
// "Host * !web4" one after them is never needed), as the server's log
// shows.
// A missing IdentityFile fails naming it and the lines the settings came
// from. Then explicit attributes win: for "web2", whose block says Port 1, User
// nosuchuser and only the decoy key, the connection fails first with a
// diagnostic naming each setting's file:line and Host block; with port,
// user and key set in `ssh` it succeeds. ssh_config_file = "" in `ssh`
// turns the file off: "web2" is then a plain host name, with no key.
func TestAccSSHConfig_identityFilesAndExplicit(t *testing.T) {
	srv := accSetup(t)
	decoy, decoyFP := decoyKey(t)
	decoy2, decoy2FP := decoyKey(t)
	rightFP := sshFingerprint(t, srv)
	config := strings.Join([]string{
		"Host web1",
		"  HostName 127.0.0.1",
		fmt.Sprintf("  Port %d", srv.Port),
		"  UserKnownHostsFile " + srv.KnownHostsFile,
		"  IdentitiesOnly yes",
		"  IdentityFile " + decoy,
		"  IdentityFile " + srv.ClientKeyFile,
		"",
		"Match host web2",
		"  HostName 127.0.0.1",
		"  Port 1",
		"  User nosuchuser",
		"  IdentityFile " + decoy,
		"  UserKnownHostsFile " + srv.KnownHostsFile,
		"",
		"Host web4",
		"  HostName 127.0.0.1",
		fmt.Sprintf("  Port %d", srv.Port),
		"  IdentityFile /nonexistent/key",
		"  UserKnownHostsFile " + srv.KnownHostsFile,
		"",
		"Host * !web4",
		"  IdentityFile " + decoy2,
		"",
	}, "\n")
	web2Line, web4Line := lineOf(t, config, "Match host web2"), lineOf(t, config, "Host web4")
	cfgPath := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	provider := fmt.Sprintf("provider \"rsync\" {\n  ssh_config_file = %s\n  agent = false\n}\n", hclString(cfgPath))
	src := smallTree(t)
	dst1, dst2 := t.TempDir(), t.TempDir()
	web1 := rsyncDir("one", map[string]string{"source": hclString(src + "/"), "destination": hclString("web1:" + dst1 + "/")})
	web2 := func(ssh map[string]string) string {
		attrs := map[string]string{"source": hclString(src + "/"), "destination": hclString("web2:" + dst2 + "/")}
		if ssh != nil {
			attrs["ssh"] = hclObject(ssh, "  ")
		}
		return rsyncDir("two", attrs)
	}
	explicit := map[string]string{
		"port": fmt.Sprint(srv.Port), "user": hclString(srv.User), "private_key_file": hclString(srv.ClientKeyFile),
	}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: provider + web1, Check: checkTreesEqual(src, dst1)},
			{
				// A key file that is not there: the failure names it, and
				// the line it came from.
				Config: provider + web1 + rsyncDir("four", map[string]string{"source": hclString(src + "/"), "destination": hclString("web4:" + t.TempDir() + "/")}),
				ExpectError: words(fmt.Sprintf("IdentityFile /nonexistent/key not used … Settings from ssh_config %s: HostName 127.0.0.1 from %s:%d (Host web4); Port %d from %s:%d (Host web4); IdentityFile /nonexistent/key from %s:%d (Host web4)",
					cfgPath, cfgPath, web4Line+1, srv.Port, cfgPath, web4Line+2, cfgPath, web4Line+3)),
			},
			{
				Config: provider + web1 + web2(nil),
				ExpectError: words(fmt.Sprintf("127.0.0.1:1 … Settings from ssh_config %s: HostName 127.0.0.1 from %s:%d (Match host web2); Port 1 from %s:%d (Match host web2); User nosuchuser from %s:%d (Match host web2)",
					cfgPath, cfgPath, web2Line+1, cfgPath, web2Line+2, cfgPath, web2Line+3)),
			},
			{
				Config: provider + web1 + web2(map[string]string{"ssh_config_file": `""`, "port": fmt.Sprint(srv.Port)}),
				// Neither web2's HostName nor its IdentityFile applies.
				ExpectError: words(fmt.Sprintf("SSH settings for web2 port %d cannot be used: no authentication method", srv.Port)),
			},
			{Config: provider + web1 + web2(explicit), Check: checkTreesEqual(src, dst2)},
			{Config: provider + web1 + web2(explicit), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
		},
	})
	log := srv.Log()
	failed := strings.Index(log, "Failed publickey for "+srv.User+" from 127.0.0.1")
	accepted := strings.Index(log, "Accepted publickey for "+srv.User)
	switch {
	case !strings.Contains(log, decoyFP):
		t.Errorf("the first IdentityFile (%s) was never offered:\n%s", decoyFP, log)
	case failed < 0 || accepted < 0 || strings.Index(log, decoyFP) > accepted:
		t.Errorf("the decoy IdentityFile was not tried before the authorized one:\n%s", log)
	case !strings.Contains(log[accepted:], rightFP):
		t.Errorf("the login was not made with the second IdentityFile (%s):\n%s", rightFP, log)
	case strings.Contains(log, decoy2FP):
		t.Errorf("the Host * !web4 IdentityFile was offered before the matching block's:\n%s", log)
	}
	if strings.Contains(log, "nosuchuser") {
		t.Errorf("the explicit user did not win over ssh_config's User:\n%s", log)
	}
}

// TestAccSSHConfig_acceptNew: StrictHostKeyChecking accept-new records an
// unknown host's key in the UserKnownHostsFile (created, with its
// directory) under its HostKeyAlias, without a prompt, and the next plan
// verifies against it.
func TestAccSSHConfig_acceptNew(t *testing.T) {
	srv := accSetup(t)
	known := filepath.Join(t.TempDir(), "new", "known_hosts")
	config := strings.Join([]string{
		"Host web3",
		"  HostName 127.0.0.1",
		fmt.Sprintf("  Port %d", srv.Port),
		"  IdentityFile " + srv.ClientKeyFile,
		"  UserKnownHostsFile " + known,
		"  StrictHostKeyChecking accept-new",
		"  HostKeyAlias web3-key",
		"",
	}, "\n")
	cfgPath := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	src, dst := smallTree(t), t.TempDir()
	tf := fmt.Sprintf("provider \"rsync\" {\n  ssh_config_file = %s\n  agent = false\n}\n", hclString(cfgPath)) +
		rsyncDir("test", map[string]string{"source": hclString(src + "/"), "destination": hclString("web3:" + dst + "/")})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: tf, Check: checkTreesEqual(src, dst)},
			{Config: tf, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
		},
	})
	b, err := os.ReadFile(known)
	if err != nil {
		t.Fatal(err)
	}
	if want := "web3-key " + srv.HostKeyAuthorized + "\n"; string(b) != want {
		t.Errorf("known_hosts holds %q, want %q", b, want)
	}
}
