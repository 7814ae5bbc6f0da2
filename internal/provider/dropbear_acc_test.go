package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccDropbear_pushDriftRepair: Dropbear 2022.83 as the server (with
// the stock rsync behind it): apply pushes the tree; a server edit that
// keeps the file's size and mtime is planned as drift (the checksums the
// server computes show it) naming the file; apply repairs it; the next
// plan is empty. The host key is verified against known_hosts (the key
// dropbearkey made), and the dropbear log proves the logins were its own.
func TestAccDropbear_pushDriftRepair(t *testing.T) {
	srv := accSetupDropbear(t)
	src := smallTree(t)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
		"delete": "true",
	})
	// Same length, same mtime: only the content differs.
	serverEdit := func() {
		p := filepath.Join(dst, "index.html")
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.ToUpper(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
	}

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				// The framework also checks that the plan after apply is
				// empty.
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check:             checkTreesEqual(src, dst),
			},
			{
				PreConfig:          serverEdit,
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					expectDrift{res, "destination_hash", true},
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"index.html"}, nil)),
				}},
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"index.html"}, nil)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check: resource.ComposeAggregateTestCheckFunc(checkTreesEqual(src, dst), func(*terraform.State) error {
					if log := srv.Log(); !strings.Contains(log, fmt.Sprintf("Pubkey auth succeeded for '%s'", srv.User)) {
						return fmt.Errorf("the dropbear log shows no key login:\n%s", log)
					}
					return nil
				}),
			},
			{
				// Repaired: the plan is empty again.
				Config:   config,
				PlanOnly: true,
			},
		},
	})
}

// TestAccDropbear_tenResources: ten resources on one Dropbear host, with
// the host key pinned. Their plans and applies share one pooled
// connection, which gives Dropbear one session at a time: with several at
// once Dropbear closes sessions still waiting for their command, and this
// failed as "rsync does not run on the destination host".
func TestAccDropbear_tenResources(t *testing.T) {
	srv := accSetupDropbear(t)
	src := smallTree(t)
	base := t.TempDir()
	// The destinations are written out, not computed, so that the plan
	// guard (accTest) snapshots each of them.
	var dests []string
	for i := range 10 {
		dests = append(dests, hclString(remoteDest(srv, fmt.Sprintf("%s/d%d/", base, i))))
	}
	config := providerConfig(srv, map[string]string{"known_hosts_file": "", "host_key": hclString(srv.HostKeyAuthorized)}) +
		rsyncDir("many", map[string]string{
			"count": "10", "source": hclString(src + "/"),
			"destination": "[" + strings.Join(dests, ", ") + "][count.index]",
		})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{{
			// The framework also checks that the plan after apply is empty.
			Config: config,
			Check: func(*terraform.State) error {
				for i := range 10 {
					if err := checkTreesEqual(src, filepath.Join(base, fmt.Sprintf("d%d", i)))(nil); err != nil {
						return fmt.Errorf("d%d: %w", i, err)
					}
				}
				return nil
			},
		}},
	})
}
