package provider

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// Acceptance tests: terraform import of an existing tree.

// TestAccDirectory_import imports an existing remote tree by its
// destination. The first plan sets source in place (import cannot know
// it) and nothing else: pending stays null, no file is planned; the apply
// transfers nothing; then the plan is empty.
func TestAccDirectory_import(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	preload(t, src, dst)
	dest := remoteDest(srv, dst+"/")
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(dest),
	})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:             config,
				ResourceName:       res,
				ImportState:        true,
				ImportStateId:      dest,
				ImportStatePersist: true,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 || states[0].Attributes["destination"] != dest || states[0].ID != dest ||
						!strings.HasPrefix(states[0].Attributes["destination_hash"], "xxh128:") {
						return fmt.Errorf("imported %+v", states)
					}
					return nil
				},
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					// Refresh after import found nothing pending.
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, nil, nil)),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("last_sync"), knownvalue.Null()),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("source_hash"), xxh128Hash),
				}},
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check:             checkTreesEqual(src, dst),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// TestAccDirectory_importWithSource imports with "SOURCE|DESTINATION":
// the next plan is empty at once.
func TestAccDirectory_importWithSource(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	preload(t, src, dst)
	dest := remoteDest(srv, dst+"/")
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(dest),
	})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:             config,
				ResourceName:       res,
				ImportState:        true,
				ImportStateId:      src + "/|" + dest,
				ImportStatePersist: true,
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{
					hashesEqual(),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("source"), knownvalue.StringExact(src+"/")),
				},
			},
			{
				// Drift after import is found as usual.
				PreConfig: func() { writeFile(t, filepath.Join(dst, "index.html"), "changed\n") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"index.html"}, nil)),
				}},
				Check: checkTreesEqual(src, dst),
			},
		},
	})
}
