package provider

import (
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"golang.org/x/crypto/ssh"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// hclObject renders an HCL object from attribute → expression.
func hclObject(attrs map[string]string, indent string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("{\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s  %s = %s\n", indent, k, attrs[k])
	}
	b.WriteString(indent + "}")
	return b.String()
}

// TestAccSSH_bastion: the destination is reached through a jump host that
// may forward only to it (PermitOpen); apply, then an empty plan (refresh
// goes through the bastion too). The provider has no route of its own: its
// settings name the destination's sshd, whose known_hosts entry is used.
func TestAccSSH_bastion(t *testing.T) {
	srv := accSetup(t)
	bastion := sshtest.Start(t, sshtest.WithExtraConfig("AllowTcpForwarding yes\nPermitOpen "+srv.Addr()))
	front := sshtest.StartProxy(t, bastion.Addr()) // counts the connections to the bastion
	src := smallTree(t)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
		"ssh": hclObject(map[string]string{
			"bastion": hclObject(map[string]string{
				"host":             hclString(front.Host),
				"port":             fmt.Sprint(front.Port),
				"private_key_file": hclString(bastion.ClientKeyFile),
				"host_key":         hclString(bastion.HostKeyAuthorized),
			}, "    "),
		}, "  "),
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: config, Check: checkTreesEqual(src, dst)},
			{Config: config, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
		},
	})
	if front.Accepted() == 0 {
		t.Error("no connection went through the bastion")
	}
	if !strings.Contains(srv.Log(), "Accepted publickey for "+srv.User) {
		t.Error("the destination's sshd logged no login")
	}
}

// TestAccSSH_bastionRefused: a bastion that may not forward to the
// destination fails the apply saying what to check.
func TestAccSSH_bastionRefused(t *testing.T) {
	srv := accSetup(t)
	bastion := sshtest.Start(t, sshtest.WithExtraConfig("PermitOpen 127.0.0.1:1"))
	config := providerConfig(srv, map[string]string{}) + rsyncDir("test", map[string]string{
		"source": hclString(smallTree(t) + "/"), "destination": hclString(remoteDest(srv, t.TempDir()+"/")),
		"ssh": hclObject(map[string]string{
			"bastion": hclObject(map[string]string{
				"host":             hclString(bastion.Host),
				"port":             fmt.Sprint(bastion.Port),
				"private_key_file": hclString(bastion.ClientKeyFile),
				"known_hosts_file": hclString(bastion.KnownHostsFile),
			}, "    "),
		}, "  "),
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{{
			Config:      config,
			ExpectError: words("through the bastion … administratively prohibited … AllowTcpForwarding and PermitOpen"),
		}},
	})
}

// TestAccSSH_agent: the provider has no key; a real ssh-agent holds a
// decoy and the right key, and agent_identity picks the right one.
func TestAccSSH_agent(t *testing.T) {
	srv := accSetup(t)
	agent := sshtest.StartAgent(t)
	decoy, err := sshtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	agent.Add(t, sshtest.WriteKey(t, keys, decoy, "decoy"))
	agent.Add(t, srv.ClientKeyFile) // its comment is empty; pick it by fingerprint
	t.Setenv("SSH_AUTH_SOCK", agent.Socket)
	fingerprint := sshFingerprint(t, srv)

	src := smallTree(t)
	dst := t.TempDir()
	config := providerConfig(srv, map[string]string{"private_key_file": ""}) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
		"ssh": hclObject(map[string]string{"agent_identity": hclString(fingerprint)}, "  "),
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: config, Check: checkTreesEqual(src, dst)},
			{Config: config, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
		},
	})
	if !strings.Contains(srv.Log(), "Accepted publickey for "+srv.User) {
		t.Error("sshd logged no public key login")
	}
}

// TestAccSSH_agentOff: agent = false with no other credential is a clear
// error, not a silent use of the agent.
func TestAccSSH_agentOff(t *testing.T) {
	srv := accSetup(t)
	agent := sshtest.StartAgent(t)
	agent.Add(t, srv.ClientKeyFile)
	t.Setenv("SSH_AUTH_SOCK", agent.Socket)
	config := providerConfig(srv, map[string]string{"private_key_file": ""}) + rsyncDir("test", map[string]string{
		"source": hclString(smallTree(t) + "/"), "destination": hclString(remoteDest(srv, t.TempDir()+"/")),
		"ssh": hclObject(map[string]string{"agent": "false"}, "  "),
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps:                    []resource.TestStep{{Config: config, ExpectError: words("no authentication method: set private_key")}},
	})
}

// TestAccSSH_hostKeyMismatch: a pinned host_key that is not the server's
// fails with a diagnostic that names both keys and what to do.
func TestAccSSH_hostKeyMismatch(t *testing.T) {
	srv := accSetup(t)
	other, err := sshtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(smallTree(t) + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
		"ssh": hclObject(map[string]string{"host_key": hclString(other.Authorized)}, "  "),
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{{
			Config: config,
			ExpectError: words("SSH host key not trusted … host key verification failed for " + srv.Addr() +
				" … the server presented ssh-ed25519 … but host_key pins ssh-ed25519 … update host_key"),
		}},
	})
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Errorf("files were written despite the host key mismatch: %v", entries)
	}
}

// TestAccSSH_forEachOverrides: one provider block; for_each over three
// servers with different ports, keys and known_hosts files, each given in
// the resource's ssh attribute.
func TestAccSSH_forEachOverrides(t *testing.T) {
	first := accSetup(t)
	servers := map[string]*sshtest.Server{"a": first, "b": sshtest.Start(t), "c": sshtest.Start(t)}
	src := smallTree(t)
	base := t.TempDir()
	var entries []string
	for _, name := range []string{"a", "b", "c"} {
		s := servers[name]
		entries = append(entries, fmt.Sprintf("    %s = { dest = %s, port = %d, key = %s, known_hosts = %s }", name,
			hclString(remoteDest(s, filepath.Join(base, name)+"/")), s.Port, hclString(s.ClientKeyFile), hclString(s.KnownHostsFile)))
	}
	// The provider's defaults are the first server's; b and c work only
	// through their overrides.
	config := providerConfig(first, nil) + fmt.Sprintf("\nlocals {\n  hosts = {\n%s\n  }\n}\n", strings.Join(entries, "\n")) +
		rsyncDir("web", map[string]string{
			"for_each": "local.hosts", "source": hclString(src + "/"), "destination": "each.value.dest",
			"ssh": "{\n    port = each.value.port\n    private_key_file = each.value.key\n    known_hosts_file = each.value.known_hosts\n  }",
		})
	tf := newTFRunner(t, config)
	tf.run(0, "apply", "-input=false", "-auto-approve")
	for name := range servers {
		if err := checkTreesEqual(src, filepath.Join(base, name))(nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for addr, action := range tf.planActions(0) {
		if action != "no-op" {
			t.Errorf("%s: %s after apply", addr, action)
		}
	}

	// All servers share this machine's file system, so the trees prove
	// nothing about the route: the logs do. Each server saw its own key.
	for name, s := range servers {
		if !strings.Contains(s.Log(), "Accepted publickey for "+s.User) {
			t.Errorf("server %s logged no login: its override was not used", name)
		}
	}
	tf.run(0, "destroy", "-input=false", "-auto-approve")
}

func sshFingerprint(t *testing.T, s *sshtest.Server) string {
	t.Helper()
	return ssh.FingerprintSHA256(s.ClientSigner.PublicKey())
}

// TestAccSSH_fiftyResources: 50 rsync_directory resources on one sshd with
// OpenSSH's default MaxSessions (10) and MaxStartups (10:30:100), applied
// with Terraform's default parallelism: every resource succeeds, and they
// share a handful of TCP connections (one per provider instance Terraform
// configures) instead of one each.
func TestAccSSH_fiftyResources(t *testing.T) {
	srv := accSetup(t)
	proxy := sshtest.StartProxy(t, srv.Addr())
	src := smallTree(t)
	base := t.TempDir()
	var entries []string
	for i := 0; i < 50; i++ {
		entries = append(entries, fmt.Sprintf("    d%02d = %s", i, hclString(remoteDest(srv, filepath.Join(base, fmt.Sprintf("d%02d", i))+"/"))))
	}
	config := providerConfig(srv, map[string]string{
		"port": fmt.Sprint(proxy.Port), "known_hosts_file": "", "host_key": hclString(srv.HostKeyAuthorized),
	}) + fmt.Sprintf("\nlocals {\n  dests = {\n%s\n  }\n}\n", strings.Join(entries, "\n")) +
		rsyncDir("many", map[string]string{"for_each": "local.dests", "source": hclString(src + "/"), "destination": "each.value"})
	tf := newTFRunner(t, config)
	tf.run(0, "apply", "-input=false", "-auto-approve")
	afterApply := proxy.Accepted()
	for i := 0; i < 50; i++ {
		if err := checkTreesEqual(src, filepath.Join(base, fmt.Sprintf("d%02d", i)))(nil); err != nil {
			t.Fatalf("d%02d: %v", i, err)
		}
	}
	actions := tf.planActions(0)
	if len(actions) != 50 {
		t.Fatalf("%d resources in the plan", len(actions))
	}
	t.Logf("TCP connections: %d for the apply (plan + apply of 50 resources), %d in all", afterApply, proxy.Accepted())
	if afterApply > 10 {
		t.Errorf("%d connections for one apply of 50 resources: connections are not shared", afterApply)
	}
	// sshd frees a session one turn of its main loop after the channel's
	// close, so a session opened right after another ended can still find
	// MaxSessions reached ("no more sessions") — more often the busier the
	// machine. The pool then waits for a session to end and opens it again
	// (pconn.learnLimit): every resource above succeeded, which is what
	// counts. Refused connections have no such excuse.
	t.Logf("sessions refused and retried: %d", strings.Count(srv.Log(), "no more sessions"))
	for _, refused := range []string{"past MaxStartups", "administratively prohibited"} {
		if strings.Contains(srv.Log(), refused) {
			t.Errorf("sshd log shows %q", refused)
		}
	}
}

// TestAccSSH_passphrase: an encrypted key file without its passphrase
// fails at once saying which setting is missing; with
// private_key_passphrase on the provider it works.
func TestAccSSH_passphrase(t *testing.T) {
	srv := accSetup(t)
	raw, err := ssh.ParseRawPrivateKey([]byte(srv.ClientKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(raw, "", []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "id_encrypted")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	src := smallTree(t)
	dst := t.TempDir()
	dir := rsyncDir("test", map[string]string{"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/"))})
	without := providerConfig(srv, map[string]string{"private_key_file": hclString(keyFile)})
	with := strings.Replace(without, "provider \"rsync\" {\n", "provider \"rsync\" {\n  private_key_passphrase = \"correct horse\"\n", 1)
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: without + dir, ExpectError: words("private key is encrypted: set private_key_passphrase")},
			{Config: with + dir, Check: checkTreesEqual(src, dst)},
		},
	})
}

// TestAccSSH_password: password authentication against a real sshd
// (which checks a shadow entry private to its mount namespace), with the
// resource's ssh.password; no key is authorized there.
func TestAccSSH_password(t *testing.T) {
	accSetup(t)
	srv, err := sshtest.StartServer(t.TempDir(), sshtest.WithPassword("s3cret pass"))
	if errors.Is(err, sshtest.ErrPasswordUnsupported) {
		t.Skipf("password logins cannot be set up on this machine (not faked): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	})
	if err := os.WriteFile(filepath.Join(srv.Dir, "authorized_keys"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	src := smallTree(t)
	dst := t.TempDir()
	config := providerConfig(srv, map[string]string{"private_key_file": ""}) +
		rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
			"ssh": hclObject(map[string]string{"password": hclString("s3cret pass"), "agent": "false"}, "  "),
		})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps:                    []resource.TestStep{{Config: config, Check: checkTreesEqual(src, dst)}},
	})
	if !strings.Contains(srv.Log(), "Accepted password for "+srv.User) {
		t.Errorf("sshd logged no password login:\n%s", srv.Log())
	}
}

// TestAccSSH_invalidSettings: mistakes in the ssh attribute fail at
// validation, naming the attribute.
func TestAccSSH_invalidSettings(t *testing.T) {
	srv := accSetup(t)
	dir := func(ssh string) string {
		return providerConfig(srv, nil) + rsyncDir("test", map[string]string{
			"source": hclString(t.TempDir() + "/"), "destination": hclString(remoteDest(srv, "/tmp/x/")), "ssh": ssh,
		})
	}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: dir(`{ bastion = { port = 22 } }`), ExpectError: words(`attribute "host" is required`)},
			{Config: dir(`{ port = 70000 }`), ExpectError: words("ssh.port value must be between 1 and 65535")},
			{Config: dir(`{ bastion = { host = "j", port = 0 } }`), ExpectError: words("ssh.bastion.port value must be between 1 and 65535")},
			{Config: dir(`{ keepalive_interval = "often" }`), ExpectError: words(`"often" is not a duration`)},
			{Config: dir(`{ connect_retry_timeout = "-1m" }`), ExpectError: words(`"-1m" is negative`)},
			{Config: dir(`{ timeout = "0s" }`), ExpectError: words(`"0s" is not positive`)},
			{Config: dir(`{ private_key = "x", private_key_file = "/k" }`), ExpectError: words("Invalid Attribute Combination")},
			{Config: dir(`{ host_key = "ssh-ed25519 AAAA", insecure_ignore_host_key = true }`), ExpectError: words("Invalid Attribute Combination")},
		},
	})
}
