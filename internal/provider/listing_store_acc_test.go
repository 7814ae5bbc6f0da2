//go:build unix

package provider

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccApplyPlansFromRefreshListing drives the terraform binary with the
// built provider (its own process per walk, as in real use):
//   - the apply walk's re-plan uses the listing refresh read
//     (listing_store.go), so a destination that changes between
//     `terraform plan -out` and `terraform apply tfplan` no longer makes
//     the approved plan "inconsistent" — the apply carries it out, and
//     rsync's own comparison handles the late change;
//   - the apply removes the listing it used;
//   - the plan uses the source hash made while refresh waited on the
//     server;
//   - an apply that mirrored the source (delete = true) sets
//     destination_hash to exactly what the next refresh reads.
func TestAccApplyPlansFromRefreshListing(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "terraform.log")
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "delete": "true",
	})
	tf := newBinRunner(t, map[string]string{"main.tf": config}, "TF_LOG_PROVIDER=DEBUG", "TF_LOG_PATH="+logPath)
	store := filepath.Join(tf.dir, ".cache", "terraform-provider-rsync", "listings")

	tf.run(0, "apply", "-input=false", "-auto-approve")
	if err := checkTreesEqual(src, dst)(nil); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "index.html"), "<h1>changed</h1>\n")
	tf.run(2, "plan", "-input=false", "-detailed-exitcode", "-out=tfplan")
	if got := listings(t, store); len(got) != 2 || !strings.HasSuffix(got[0], estimateSuffix) && !strings.HasSuffix(got[1], estimateSuffix) {
		t.Fatalf("after a plan the store holds %v, want the listing refresh read and the plan's transfer estimate", got)
	}
	// The server changes after the plan was approved: a new file, and the
	// file the plan estimated (its estimate would now differ).
	writeFile(t, filepath.Join(dst, "late.txt"), "written after the plan\n")
	writeFile(t, filepath.Join(dst, "index.html"), "<h1>edited on the server after the plan</h1>\n")

	out := tf.run(0, "apply", "-input=false", "tfplan").output()
	if strings.Contains(out, "inconsistent") {
		t.Fatalf("apply reported an inconsistent plan:\n%s", out)
	}
	if err := checkTreesEqual(src, dst)(nil); err != nil {
		t.Fatal(err) // late.txt is gone too: delete = true
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "using the source hash made during refresh") {
		t.Error("the plan hashed the source after refresh instead of using the hash made while refresh listed")
	}
	if !strings.Contains(string(log), "using the destination listing refresh saved") {
		t.Error("the apply walk's re-plan did not use the listing refresh saved")
	}
	if !strings.Contains(string(log), "using the transfer estimate of the approved plan") {
		t.Error("the apply walk's re-plan estimated the transfer again instead of using the approved plan's estimate")
	}
	if !strings.Contains(string(log), "destination_hash is the source's") {
		t.Error("the apply read the destination again instead of taking the source's hash")
	}
	if left := listings(t, store); len(left) != 0 {
		t.Errorf("the apply left the listings %v behind", left)
	}

	applied := stateHashes(t, tf.dir)
	if applied["destination_hash"] != applied["source_hash"] || applied["destination_hash"] == "" {
		t.Fatalf("after the apply destination_hash = %q, source_hash = %q", applied["destination_hash"], applied["source_hash"])
	}
	tf.run(0, "apply", "-input=false", "-auto-approve", "-refresh-only")
	refreshed := stateHashes(t, tf.dir)
	if refreshed["destination_hash"] != applied["destination_hash"] {
		t.Errorf("refresh read destination_hash %q, the apply set %q", refreshed["destination_hash"], applied["destination_hash"])
	}
	tf.run(0, "plan", "-input=false", "-detailed-exitcode")
}

// listings returns the names of the listings in the store at dir.
func listings(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read the listing store: %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// stateHashes reads source_hash and destination_hash of the one resource
// in dir's terraform.tfstate.
func stateHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Instances []struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Resources) != 1 || len(st.Resources[0].Instances) != 1 {
		t.Fatalf("state holds %d resources, want 1", len(st.Resources))
	}
	attrs := st.Resources[0].Instances[0].Attributes
	out := map[string]string{}
	for _, k := range []string{"source_hash", "destination_hash"} {
		out[k], _ = attrs[k].(string)
	}
	return out
}
