//go:build unix

package provider

// Issue 18 for the other two directions: a local copy's estimate is exact
// (the local engine copies whole files, as rsync between local paths
// does); a pull gets none, and its plan says so once.

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccEstimate_localCopy: local to local, a create counts every file
// whole, and a 1 MiB file with one byte changed counts 1 MiB (whole, not
// a delta), nothing matched; each apply sends exactly what its plan said.
func TestAccEstimate_localCopy(t *testing.T) {
	srv := accSetup(t)
	rng := rand.New(rand.NewSource(18))
	src := newSource(t)
	writeAged(t, filepath.Join(src, "big.bin"), seededBytes(rng, 1<<20), -3*time.Hour)
	writeAged(t, filepath.Join(src, "sub", "a.txt"), []byte("a\n"), -3*time.Hour)
	dst := filepath.Join(t.TempDir(), "copy")
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(dst + "/"),
	})
	var planned int64
	transfer := tfjsonpath.New("pending").AtMapKey("transfer_bytes")
	matched := tfjsonpath.New("pending").AtMapKey("matched_bytes")
	bytesOf := func(p string) tfjsonpath.Path { return tfjsonpath.New("pending").AtMapKey("bytes").AtMapKey(p) }
	exactly := func(want int64) recordInt {
		return recordInt{&planned, func(n int64) error {
			if n != want {
				return fmt.Errorf("%d, want %d", n, want)
			}
			return nil
		}}
	}
	appliedAsPlanned := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("literal_bytes"), equalsRecorded{&planned}),
		statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("matched_bytes"), knownvalue.Int64Exact(0)),
	}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, transfer, exactly(1<<20+2)),
					plancheck.ExpectKnownValue(res, matched, knownvalue.Int64Exact(0)),
					plancheck.ExpectKnownValue(res, bytesOf("big.bin"), knownvalue.StringExact("1.0 MB, all of it (new)")),
				}},
				ConfigStateChecks: appliedAsPlanned,
				Check:             checkTreesEqual(src, dst),
			},
			{
				PreConfig: func() { flipByte(t, filepath.Join(src, "big.bin"), 1<<19, -2*time.Hour) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, transfer, exactly(1<<20)),
					plancheck.ExpectKnownValue(res, matched, knownvalue.Int64Exact(0)),
					plancheck.ExpectKnownValue(res, bytesOf("big.bin"), knownvalue.StringExact("1.0 MB of 1.0 MB")),
				}},
				ConfigStateChecks: appliedAsPlanned,
				Check:             checkTreesEqual(src, dst),
			},
		},
	})
}

// TestAccEstimate_pull: a pull's plan with a changed file says once that
// the transfer is not estimated, leaves transfer_bytes, matched_bytes and
// bytes null, and the apply then pulls; with estimate_transfer = false it
// says nothing.
func TestAccEstimate_pull(t *testing.T) {
	srv := accSetup(t)
	remote := smallTree(t)
	local := filepath.Join(t.TempDir(), "copy")
	attrs := map[string]string{"source": hclString(remoteDest(srv, remote+"/")), "destination": hclString(local + "/")}
	tf := newTFRunner(t, providerConfig(srv, nil)+rsyncDir("test", attrs))
	tf.run(0, "apply", "-input=false", "-auto-approve")
	writeFile(t, filepath.Join(remote, "css/site.css"), "pulled\n")

	const warning = "Transfer size not estimated for a pull"
	out := tf.run(2, "plan", "-input=false", "-detailed-exitcode", "-out=tfplan")
	if n := strings.Count(out, "Warning: "+warning); n != 1 {
		t.Fatalf("the plan says %d times that a pull has no estimate, want once:\n%s", n, out)
	}
	if !words("the stock rsync has no way to count the delta without sending the data").MatchString(out) {
		t.Errorf("the warning does not say why:\n%s", out)
	}
	var plan struct {
		ResourceChanges []struct {
			Change struct {
				After struct {
					Pending map[string]any `json:"pending"`
				} `json:"after"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(tf.run(0, "show", "-json", "tfplan")), &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.ResourceChanges) != 1 {
		t.Fatalf("%d resource changes, want 1", len(plan.ResourceChanges))
	}
	p := plan.ResourceChanges[0].Change.After.Pending
	if fmt.Sprint(p["update"]) != "[css/site.css]" {
		t.Fatalf("pending %v, want css/site.css to update", p)
	}
	for _, k := range []string{"transfer_bytes", "matched_bytes", "bytes"} {
		if v, ok := p[k]; !ok || v != nil {
			t.Errorf("pending.%s = %v (present %v), want null", k, v, ok)
		}
	}
	tf.run(0, "apply", "-input=false", "tfplan")
	if err := checkTreesEqual(remote, local)(nil); err != nil {
		t.Fatal(err)
	}

	writeFile(t, filepath.Join(remote, "css/site.css"), "pulled again\n")
	attrs["estimate_transfer"] = "false"
	writeFile(t, filepath.Join(tf.dir, "main.tf"), providerConfig(srv, nil)+rsyncDir("test", attrs))
	if out := tf.run(2, "plan", "-input=false", "-detailed-exitcode"); strings.Contains(out, warning) {
		t.Errorf("warned with estimate_transfer = false:\n%s", out)
	}
}
