//go:build unix

package provider

// Acceptance test: what a sync with delete = true removes from the
// destination, the plan lists and counts, whatever its kind.

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccDirectory_deletePlansSpecials: a fifo that exists only in the
// destination is deleted by an apply with delete = true, so the plan lists
// it in pending.delete and max_delete counts it — at plan time, before
// anything is written. Before the fix the listing dropped it: the plan
// listed one deletion of two, and max_delete = 1 let the plan through.
func TestAccDirectory_deletePlansSpecials(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	cfg := func(maxDelete int) string {
		return providerConfig(srv, nil) + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)),
			"delete": "true", "max_delete": fmt.Sprint(maxDelete),
		})
	}
	fifo := filepath.Join(dst, "css/pipe")
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: cfg(1), Check: checkTreesEqual(src, dst)},
			{
				PreConfig: func() {
					if err := syscall.Mkfifo(fifo, 0o644); err != nil {
						t.Fatal(err)
					}
					writeFile(t, filepath.Join(dst, "extra.txt"), "only on the server\n")
				},
				Config:      cfg(1),
				PlanOnly:    true,
				ExpectError: words("Too many deletions … would delete 2 files … max_delete = 1 … the plan stops here … extra.txt, css/pipe"),
			},
			{
				Config: cfg(2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, nil, []string{"extra.txt", "css/pipe"})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("deleted"), knownvalue.Int64Exact(2)),
				},
				Check: func(*terraform.State) error {
					if _, err := os.Lstat(fifo); err == nil {
						return fmt.Errorf("%s was not deleted", fifo)
					}
					return checkTreesEqual(src, dst)(nil)
				},
			},
			{
				Config:           cfg(2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}
