package provider

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// Acceptance tests: local edits and server drift, and how each drift_detection mode sees them.

// TestAccDirectory_localEditPlansUpdate: apply → empty plan; an edited
// local file → an update whose pending names it → apply → empty plan.
func TestAccDirectory_localEditPlansUpdate(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
	})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("source_hash"), xxh128Hash),
					// A create's plan lists what is there (an empty directory).
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"),
						pendingIs([]string{"index.html", "link", "css/", "css/site.css"}, nil, nil)),
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("destination_hash")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					hashesEqual(),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("pending"),
						pendingIs([]string{"index.html", "link", "css/", "css/site.css"}, nil, nil)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("files_transferred"), knownvalue.Int64Exact(2)),
				},
				Check: checkTreesEqual(src, dst),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				PreConfig: func() { writeFile(t, filepath.Join(src, "css/site.css"), "body { margin: 1em }\n") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"css/site.css"}, nil)),
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("destination_hash")),
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("last_sync")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					hashesEqual(),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("files_transferred"), knownvalue.Int64Exact(1)),
				},
				Check: checkTreesEqual(src, dst),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// TestAccDirectory_serverEditIsDrift: a file edited on the server makes
// the plan non-empty (refresh changes destination_hash, pending names the
// file) and the apply restores it; a file only added on the server is not
// drift without delete.
func TestAccDirectory_serverEditIsDrift(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)),
	})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: config, Check: checkTreesEqual(src, dst)},
			{
				PreConfig:          func() { writeFile(t, filepath.Join(dst, "index.html"), "<h1>defaced</h1>\n") },
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
				Check:             checkTreesEqual(src, dst),
			},
			{
				// Not drift without delete: the plan stays empty, though
				// destination_hash now describes the extra file too.
				PreConfig: func() { writeFile(t, filepath.Join(dst, "extra.txt"), "only on the server\n") },
				Config:    config,
				PlanOnly:  true,
			},
		},
	})
}

// TestAccDirectory_deleteRemovesServerAdditions: with delete = true a
// file added on the server is planned for deletion and removed; excluded
// and protected paths survive.
func TestAccDirectory_deleteRemovesServerAdditions(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	writeFile(t, filepath.Join(src, "debug.log"), "local log, never sent\n")
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)),
		"delete": "true", "exclude": `["*.log"]`, "protect": `["/uploads/"]`,
	})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check: func(*terraform.State) error {
					return mustNotExist(filepath.Join(dst, "debug.log"))
				},
			},
			{
				PreConfig: func() {
					writeFile(t, filepath.Join(dst, "extra.txt"), "x\n")
					writeFile(t, filepath.Join(dst, "css/old.css"), "x\n")
					writeFile(t, filepath.Join(dst, "server.log"), "server log\n")
					writeFile(t, filepath.Join(dst, "uploads/photo.jpg"), "jpg\n")
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, nil, []string{"extra.txt", "css/old.css"})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("deleted"), knownvalue.Int64Exact(2)),
				},
				Check: func(*terraform.State) error {
					mustExist(t, filepath.Join(dst, "server.log"), filepath.Join(dst, "uploads/photo.jpg"))
					return mustNotExist(filepath.Join(dst, "extra.txt"), filepath.Join(dst, "css/old.css"))
				},
			},
		},
	})
}

// TestAccDirectory_driftNone: with drift_detection = "none" server edits
// are not reported.
func TestAccDirectory_driftNone(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)),
		"drift_detection": `"none"`, "delete": "true",
	})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("destination_hash"), knownvalue.Null()),
				},
				Check: checkTreesEqual(src, dst),
			},
			{
				PreConfig: func() {
					writeFile(t, filepath.Join(dst, "index.html"), "<h1>edited on the server</h1>\n")
					writeFile(t, filepath.Join(dst, "extra.txt"), "x\n")
				},
				Config:   config,
				PlanOnly: true,
			},
			{
				// A local change is still seen, and the apply restores the tree.
				PreConfig: func() { writeFile(t, filepath.Join(src, "new.txt"), "new\n") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("pending")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					// Nothing is pending after the apply; last_sync says what it did.
					statecheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, nil, nil)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("files_transferred"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("deleted"), knownvalue.Int64Exact(1)),
				},
				Check: checkTreesEqual(src, dst),
			},
		},
	})
}

// TestAccDirectory_metadataDrift: drift_detection = "metadata" sees a
// server edit that changes size and time.
func TestAccDirectory_metadataDrift(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)), "drift_detection": `"metadata"`,
	})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("destination_hash"), knownvalue.StringRegexp(regexp.MustCompile(`^meta:`))),
				},
				Check: checkTreesEqual(src, dst),
			},
			{
				PreConfig: func() { writeFile(t, filepath.Join(dst, "css/site.css"), "body { color: red }\n") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"css/site.css"}, nil)),
				}},
				Check: checkTreesEqual(src, dst),
			},
		},
	})
}

// TestAccDirectory_editKeepingSizeAndTime: a server edit that keeps size
// and modification time is invisible to rsync's quick check; the plan sees
// it by checksum, and the apply compares by checksum to restore it (else
// the plan would never settle).
func TestAccDirectory_editKeepingSizeAndTime(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)),
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: config, Check: checkTreesEqual(src, dst)},
			{
				PreConfig: func() {
					p := filepath.Join(dst, "index.html")
					fi, err := os.Stat(p)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, []byte("<h1>HELLO</h1>\n"), 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"index.html"}, nil)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check:             checkTreesEqual(src, dst),
			},
		},
	})
}
