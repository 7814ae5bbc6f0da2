package provider

// Issue 17, items 1–3: pending is what the next apply will do and nothing
// else; create plans look at the destination; drift is told apart from
// local change.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// driftIs is the drift object with these paths.
func driftIs(paths ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(paths))
	for i, p := range paths {
		checks[i] = knownvalue.StringExact(p)
	}
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"paths": knownvalue.ListExact(checks),
		"count": knownvalue.Int64Exact(int64(len(paths))),
	})
}

// expectBefore checks the value an attribute of addr had before the plan's
// change (the refreshed prior state): what the plan's diff starts from.
type expectBefore struct {
	addr, attr string
	check      knownvalue.Check
}

func (e expectBefore) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != e.addr || rc.Change == nil {
			continue
		}
		before, _ := rc.Change.Before.(map[string]any)
		if err := e.check.CheckValue(before[e.attr]); err != nil {
			resp.Error = fmt.Errorf("%s: %s before the change: %w", e.addr, e.attr, err)
		}
		return
	}
	resp.Error = fmt.Errorf("%s: no change planned", e.addr)
}

func manyFiles(t *testing.T, n int) string {
	t.Helper()
	src := newSource(t)
	var entries []testtree.Entry
	for i := range n {
		entries = append(entries, testtree.Entry{Path: fmt.Sprintf("f%03d.txt", i), Mode: 0o644, Content: []byte(fmt.Sprintf("file %d\n", i))})
	}
	testtree.Write(t, src, entries)
	return src
}

// TestAccPlanTruth_serverEditListsOnlyThatFile: after an apply of 150
// files, the plan after a one-file server edit starts from an empty
// pending (refresh cleared the apply's lists) and lists that file only,
// named as drift; the apply repairs it and the next plan is empty.
func TestAccPlanTruth_serverEditListsOnlyThatFile(t *testing.T) {
	srv := accSetup(t)
	src := manyFiles(t, 150)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)), "delete": "true",
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("pending").AtMapKey("create_count"), knownvalue.Int64Exact(150)),
				},
			},
			{
				PreConfig: func() { writeFile(t, filepath.Join(dst, "f042.txt"), "defaced\n") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					expectBefore{res, "pending", knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"create_count": knownvalue.Int64Exact(0), "update_count": knownvalue.Int64Exact(0),
						"create": knownvalue.ListSizeExact(0), "update": knownvalue.ListSizeExact(0),
					})},
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"f042.txt"}, nil)),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("drift"), driftIs("f042.txt")),
				}},
				Check: checkTreesEqual(src, dst),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// TestAccPlanTruth_driftApartFromLocal: one file edited in the source, one
// on the server, one added on the server and one removed there: pending
// lists all four, drift names the three the server changed.
func TestAccPlanTruth_driftApartFromLocal(t *testing.T) {
	srv := accSetup(t)
	src := manyFiles(t, 5)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)), "delete": "true",
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() {
					writeFile(t, filepath.Join(src, "f000.txt"), "edited in the source\n")
					writeFile(t, filepath.Join(dst, "f001.txt"), "edited on the server\n")
					writeFile(t, filepath.Join(dst, "stray.txt"), "added on the server\n")
					if err := os.Remove(filepath.Join(dst, "f002.txt")); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"),
						pendingIs([]string{"f002.txt"}, []string{"f000.txt", "f001.txt"}, []string{"stray.txt"})),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("drift"), driftIs("f002.txt", "f001.txt", "stray.txt")),
				}},
				Check: checkTreesEqual(src, dst),
			},
			{
				// Only a local change: nothing is drift.
				PreConfig: func() { writeFile(t, filepath.Join(src, "f003.txt"), "edited again\n") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"f003.txt"}, nil)),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("drift"), driftIs()),
				}},
			},
		},
	})
}

// TestAccPlanTruth_createPlanListsDeletions: a create onto a directory that
// already holds files lists, at plan time, what it will create and what
// delete = true will remove — and fails the plan past max_delete.
func TestAccPlanTruth_createPlanListsDeletions(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	writeFile(t, filepath.Join(dst, "old-a.txt"), "a\n")
	writeFile(t, filepath.Join(dst, "old-b.txt"), "b\n")
	if err := os.WriteFile(filepath.Join(dst, "index.html"), []byte("<h1>hello</h1>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)), "delete": "true",
	}
	limited := map[string]string{"max_delete": "1"}
	for k, v := range attrs {
		limited[k] = v
	}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:      providerConfig(srv, nil) + rsyncDir("test", limited),
				PlanOnly:    true,
				ExpectError: words("Too many deletions … would delete 2 … max_delete = 1 … old-a.txt, old-b.txt"),
			},
			{
				Config: providerConfig(srv, nil) + rsyncDir("test", attrs),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending").AtMapKey("delete"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("old-a.txt"), knownvalue.StringExact("old-b.txt")})),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending").AtMapKey("create"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("link"), knownvalue.StringExact("css/"), knownvalue.StringExact("css/site.css")})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("deleted"), knownvalue.Int64Exact(2)),
				},
				Check: checkTreesEqual(src, dst),
			},
		},
	})
}

// TestAccPlanTruth_createPlanWrongHostKey: a create's plan dials the host:
// a host key that does not match fails the plan, not the apply.
func TestAccPlanTruth_createPlanWrongHostKey(t *testing.T) {
	srv := accSetup(t)
	other, err := sshtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(smallTree(t) + "/"), "destination": hclString(remoteDest(srv, t.TempDir())),
		"ssh": hclObject(map[string]string{"host_key": hclString(other.Authorized)}, "  "),
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{{
			Config:      config,
			PlanOnly:    true,
			ExpectError: words("SSH host key not trusted … host key verification failed for " + srv.Addr()),
		}},
	})
}

// TestAccPlanTruth_createPlanMissingParent: a destination whose parent
// directory does not exist fails the create's plan, as the apply would.
func TestAccPlanTruth_createPlanMissingParent(t *testing.T) {
	srv := accSetup(t)
	missing := filepath.Join(t.TempDir(), "no", "such")
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(smallTree(t) + "/"), "destination": hclString(remoteDest(srv, missing+"/site/")),
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{{
			Config:      config,
			PlanOnly:    true,
			ExpectError: words("parent directory is missing … " + missing + " does not exist"),
		}},
	})
}

// TestAccPlanTruth_createPlanUnreachable: a host that does not answer at
// plan time (created in the same apply, say) plans as before: no error,
// pending known after apply.
func TestAccPlanTruth_createPlanUnreachable(t *testing.T) {
	srv := accSetup(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now: connection refused
	config := providerConfig(srv, map[string]string{"port": fmt.Sprint(closedPort)}) + rsyncDir("test", map[string]string{
		// A path in the test's tree, so the plan guard snapshots it
		// (nothing answers there, so it stays absent).
		"source": hclString(smallTree(t) + "/"), "destination": hclString("127.0.0.1:" + filepath.Join(t.TempDir(), "site") + "/"),
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{{
			Config:             config,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate),
				plancheck.ExpectUnknownValue(res, tfjsonpath.New("pending")),
				plancheck.ExpectUnknownValue(res, tfjsonpath.New("drift")),
			}},
		}},
	})
}

// TestAccPlanTruth_importThenPlan: what the import docs say. Imported with
// SOURCE|DESTINATION onto a matching tree, a configuration with
// delete = true plans `delete = false -> true` in place and lists in
// pending the one file only the server has; its apply removes it, records
// the setting, and the next plan is empty.
func TestAccPlanTruth_importThenPlan(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	preload(t, src, dst)
	writeFile(t, filepath.Join(dst, "stray.txt"), "only on the server\n")
	dest := remoteDest(srv, dst+"/")
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(dest), "delete": "true",
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
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					expectBefore{res, "delete", knownvalue.Bool(false)},
					plancheck.ExpectKnownValue(res, tfjsonpath.New("delete"), knownvalue.Bool(true)),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, nil, []string{"stray.txt"})),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("drift"), driftIs()),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("deleted"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("files_transferred"), knownvalue.Int64Exact(0)),
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

// TestAccPlanTruth_createPlanOntoEmptyDirectory: a create is planned from
// the source as a stream when its destination holds nothing but its root
// (issue 15), and plans what the apply then does. Onto nothing, the root
// is the first of the creates; onto an empty directory whose mode is not
// the source's, the root is an update and the rest are creates. Both send
// the two files whole; the apply is the plan (Terraform refuses a re-plan
// that differs) and leaves nothing to do.
func TestAccPlanTruth_createPlanOntoEmptyDirectory(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	if err := os.Chmod(src, 0o755); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	absent, empty := filepath.Join(base, "absent"), filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	config := providerConfig(srv, nil)
	for name, dst := range map[string]string{"absent": absent, "empty": empty} {
		config += rsyncDir(name, map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)), "delete": "true",
		})
	}
	paths := func(p ...string) knownvalue.Check {
		checks := make([]knownvalue.Check, len(p))
		for i, s := range p {
			checks[i] = knownvalue.StringExact(s)
		}
		return knownvalue.ListExact(checks)
	}
	rest := []string{"index.html", "link", "css/", "css/site.css"}
	const sent = int64(len("<h1>hello</h1>\n") + len("body { margin: 0 }\n")) // smallTree's two files
	var checks []plancheck.PlanCheck
	for name, want := range map[string]struct {
		create, update []string
	}{
		"absent": {create: append([]string{"."}, rest...)},
		"empty":  {create: rest, update: []string{"."}},
	} {
		addr := "rsync_directory." + name
		checks = append(checks,
			plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
			plancheck.ExpectKnownValue(addr, tfjsonpath.New("pending").AtMapKey("create"), paths(want.create...)),
			plancheck.ExpectKnownValue(addr, tfjsonpath.New("pending").AtMapKey("create_count"), knownvalue.Int64Exact(int64(len(want.create)))),
			plancheck.ExpectKnownValue(addr, tfjsonpath.New("pending").AtMapKey("update"), paths(want.update...)),
			plancheck.ExpectKnownValue(addr, tfjsonpath.New("pending").AtMapKey("transfer_bytes"), knownvalue.Int64Exact(sent)),
		)
	}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{{
			Config:           config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: checks},
			Check:            resource.ComposeTestCheckFunc(checkTreesEqual(src, absent), checkTreesEqual(src, empty)),
		}},
	})
}
