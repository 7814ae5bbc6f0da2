package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// Acceptance tests: directions (pull, local to local, both remote refused) and a single-file source.

// TestAccDirectory_pull pulls a remote tree into a local directory: apply,
// empty plan, a change on the remote source is planned and pulled, a
// local edit of the copy is drift, and on_destroy = "delete" removes the
// local copy.
func TestAccDirectory_pull(t *testing.T) {
	srv := accSetup(t)
	remote := smallTree(t)
	local := filepath.Join(t.TempDir(), "copy")
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(remoteDest(srv, remote+"/")), "destination": hclString(local + "/"), "delete": "true",
		"on_destroy": `"delete"`,
	})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		CheckDestroy: func(*terraform.State) error {
			mustExist(t, filepath.Join(remote, "index.html")) // the source is never touched
			return mustNotExist(local)
		},
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check:             checkTreesEqual(remote, local),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				PreConfig: func() { writeFile(t, filepath.Join(remote, "css/site.css"), "pulled\n") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"css/site.css"}, nil)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check:             checkTreesEqual(remote, local),
			},
			{
				PreConfig: func() { writeFile(t, filepath.Join(local, "stray.txt"), "local only\n") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, nil, []string{"stray.txt"})),
				}},
				Check: checkTreesEqual(remote, local),
			},
		},
	})
}

// TestAccDirectory_localToLocal copies between two local paths.
func TestAccDirectory_localToLocal(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := filepath.Join(t.TempDir(), "out")
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src), "destination": hclString(dst),
	})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check:             checkTreesEqual(src, filepath.Join(dst, "src")),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				PreConfig: func() { writeFile(t, filepath.Join(dst, "src/index.html"), "edited copy\n") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"index.html"}, nil)),
				}},
				Check: checkTreesEqual(src, filepath.Join(dst, "src")),
			},
		},
	})
}

func TestAccDirectory_bothRemote(t *testing.T) {
	srv := accSetup(t)
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: providerConfig(srv, nil) + rsyncDir("test", map[string]string{
					"source": hclString(remoteDest(srv, "/a/")), "destination": hclString(remoteDest(srv, "/b/")),
				}),
				PlanOnly:    true,
				ExpectError: words("Source and destination are both remote … Make one of them a local path"),
			},
		},
	})
}

// TestAccDirectory_singleFile copies one file: it lands inside
// destination (created as a directory when missing), and the next plan is
// empty.
func TestAccDirectory_singleFile(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := filepath.Join(t.TempDir(), "conf")
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(filepath.Join(src, "index.html")), "destination": hclString(remoteDest(srv, dst)),
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check: func(*terraform.State) error {
					b, err := os.ReadFile(filepath.Join(dst, "index.html"))
					if err != nil || string(b) != "<h1>hello</h1>\n" {
						return fmt.Errorf("copied file: %q, %w", b, err)
					}
					return nil
				},
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}
