//go:build unix

package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretNeedles are the strings whose presence anywhere means a secret
// leaked: the password, the passphrase, and every line of the private
// key's base64 body (in a log or JSON a key's newlines may be escaped, so
// its lines are looked for one by one).
func secretNeedles(password, passphrase, keyPEM string) map[string]string {
	n := map[string]string{"password": password, "private_key_passphrase": passphrase}
	for i, line := range strings.Split(keyPEM, "\n") {
		if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
			n[fmt.Sprintf("private_key line %d", i)] = line
		}
	}
	return n
}

// findSecrets reports which needles occur in text.
func findSecrets(text string, needles map[string]string) []string {
	var found []string
	for name, s := range needles {
		if strings.Contains(text, s) {
			found = append(found, name)
		}
	}
	return found
}

// TestAccSecretsNotLeaked: with private_key (content, encrypted),
// private_key_passphrase and password set on the provider, a create, a
// drift-detecting refresh and an update run with TF_LOG=TRACE and
// TF_LOG_PROVIDER=TRACE into TF_LOG_PATH; neither that log, nor the plan
// (human and `terraform show -json` of the saved plan), nor the apply
// output, nor the state holds any of the secrets. The provider runs as
// Terraform starts it (a built binary), so its logs go through Terraform.
func TestAccSecretsNotLeaked(t *testing.T) {
	srv := accSetup(t)
	password, passphrase := "pw-"+randomHex(12), "pp-"+randomHex(12)
	keyPEM := encryptedKeyPEM(t, srv, passphrase)
	needles := secretNeedles(password, passphrase, keyPEM)
	if len(needles) < 5 {
		t.Fatalf("only %d needles", len(needles))
	}

	src := smallTree(t)
	dst := t.TempDir()
	config := fmt.Sprintf(`provider "rsync" {
  port                   = %d
  known_hosts_file       = %s
  private_key            = file("${path.module}/secrets/key.pem")
  private_key_passphrase = trimspace(file("${path.module}/secrets/passphrase"))
  password               = trimspace(file("${path.module}/secrets/password"))
  timeout                = "20s"
}
`, srv.Port, hclString(srv.KnownHostsFile)) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "delete": "true",
	})
	logPath := filepath.Join(t.TempDir(), "terraform.log")
	tf := newBinRunner(t, map[string]string{
		"main.tf": config, "secrets/key.pem": keyPEM, "secrets/passphrase": passphrase + "\n", "secrets/password": password + "\n",
	}, "TF_LOG=TRACE", "TF_LOG_PROVIDER=TRACE", "TF_LOG_PATH="+logPath)

	outputs := map[string]string{}
	outputs["apply (create)"] = tf.run(0, "apply", "-input=false", "-auto-approve").output()
	if err := checkTreesEqual(src, dst)(nil); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "index.html"), "<h1>changed</h1>\n")
	writeFile(t, filepath.Join(dst, "extra.txt"), "drift\n")
	outputs["plan"] = tf.run(2, "plan", "-input=false", "-detailed-exitcode", "-out=tfplan").output()
	outputs["show tfplan"] = tf.run(0, "show", "tfplan").output()
	showJSON := tf.run(0, "show", "-json", "tfplan").stdout
	outputs["show -json tfplan"] = showJSON
	outputs["apply (update)"] = tf.run(0, "apply", "-input=false", "tfplan").output()
	if err := checkTreesEqual(src, dst)(nil); err != nil {
		t.Fatal(err)
	}
	state, err := os.ReadFile(filepath.Join(tf.dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	outputs["terraform.tfstate"] = string(state)
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	outputs["TF_LOG_PATH log"] = string(log)

	// The places looked at hold what they should: the log has the
	// provider's own TRACE and INFO lines, the plan JSON the change, the
	// state the resource.
	for what, want := range map[string]string{
		"TF_LOG_PATH log":   "provider.terraform-provider-rsync: rsync change:",
		"show -json tfplan": `"rsync_directory.test"`,
		"terraform.tfstate": `"source_hash"`,
	} {
		if !strings.Contains(outputs[what], want) {
			t.Errorf("%s does not contain %s: the check would look at the wrong thing", what, want)
		}
	}
	if !strings.Contains(outputs["TF_LOG_PATH log"], "provider.terraform-provider-rsync") || !strings.Contains(outputs["TF_LOG_PATH log"], "[TRACE]") {
		t.Errorf("the log has no TRACE lines from the provider")
	}
	var plan map[string]any
	if err := json.Unmarshal([]byte(showJSON), &plan); err != nil {
		t.Errorf("show -json: %v", err)
	}
	// The scan itself finds a secret where there is one.
	if found := findSecrets("x"+keyPEM+password, needles); len(found) != len(needles)-1 {
		t.Fatalf("the scan finds %v in a text holding the key and the password", found)
	}
	for what, text := range outputs {
		if found := findSecrets(text, needles); len(found) > 0 {
			t.Errorf("%s (%d bytes) contains secrets: %v", what, len(text), found)
		}
		t.Logf("%s: %d bytes, no secret", what, len(text))
	}
	record(t, "secrets/not-leaked", fmt.Sprintf("no secret in: TF_LOG_PATH log (%d bytes), plan, show tfplan, show -json tfplan, apply output, terraform.tfstate", len(log)))
}
