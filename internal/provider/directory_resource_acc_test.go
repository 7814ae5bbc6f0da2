package provider

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

const res = "rsync_directory.test"

// rsyncDir renders an rsync_directory block; attrs maps attribute names
// to HCL expressions (source and destination first, the rest sorted).
func rsyncDir(name string, attrs map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nresource \"rsync_directory\" %q {\n", name)
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		if k != "source" && k != "destination" && k != "for_each" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range append([]string{"for_each", "source", "destination"}, keys...) {
		if v, ok := attrs[k]; ok {
			fmt.Fprintf(&b, "  %s = %s\n", k, v)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// pendingIs is the pending object with these paths.
func pendingIs(create, update, del []string) knownvalue.Check {
	list := func(ps []string) knownvalue.Check {
		checks := make([]knownvalue.Check, len(ps))
		for i, p := range ps {
			checks[i] = knownvalue.StringExact(p)
		}
		return knownvalue.ListExact(checks)
	}
	// Partial: the estimate's attributes are checked where it is tested
	// (estimate_acc_test.go).
	return knownvalue.ObjectPartial(map[string]knownvalue.Check{
		"create": list(create), "update": list(update), "delete": list(del),
		"create_count": knownvalue.Int64Exact(int64(len(create))),
		"update_count": knownvalue.Int64Exact(int64(len(update))),
		"delete_count": knownvalue.Int64Exact(int64(len(del))),
	})
}

// expectDrift checks whether refresh found attr of addr changed outside
// Terraform (the plan's resource_drift): changed when want is true, else
// unchanged (e.g. the destination_hash an apply set is the one the next
// refresh reads).
type expectDrift struct {
	addr, attr string
	want       bool
}

func (e expectDrift) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceDrift {
		if rc.Address != e.addr || rc.Change == nil {
			continue
		}
		before, _ := rc.Change.Before.(map[string]any)
		after, _ := rc.Change.After.(map[string]any)
		if changed := before[e.attr] != after[e.attr]; changed != e.want {
			resp.Error = fmt.Errorf("%s: refresh changed %s from %v to %v: want changed = %v", e.addr, e.attr, before[e.attr], after[e.attr], e.want)
		}
		return
	}
	if e.want {
		resp.Error = fmt.Errorf("%s: refresh reported no drift", e.addr)
	}
}

// hashesEqual checks that res's destination_hash equals its source_hash in
// state.
func hashesEqual() statecheck.StateCheck {
	return statecheck.CompareValuePairs(res, tfjsonpath.New("source_hash"), res, tfjsonpath.New("destination_hash"), compare.ValuesSame())
}

var xxh128Hash = knownvalue.StringRegexp(regexp.MustCompile(`^xxh128:[0-9a-f]{32}$`))

var metaHash = regexp.MustCompile(`^meta:[0-9a-f]{32}$`)

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// A time apart from the copy's, so size+mtime checks see the edit too.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, future, future); err != nil {
		t.Fatal(err)
	}
	// The parent directory gets a whole second of its own too: rsync (the
	// stock one as well) decides a directory's time before filling it,
	// and leaves it when the two times fall in the same second, which
	// would make the trees' comparison flaky.
	dirTime := time.Now().Add(2*time.Hour + time.Duration(dirTimeSeq.Add(1))*time.Second).Truncate(time.Second)
	if err := os.Chtimes(filepath.Dir(p), dirTime, dirTime); err != nil {
		t.Fatal(err)
	}
}

var dirTimeSeq atomic.Int64

func mustExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); err != nil {
			t.Fatalf("%s should exist: %v", p, err)
		}
	}
}

func mustNotExist(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s should not exist", p)
		}
	}
	return nil
}

func smallTree(t *testing.T) string {
	t.Helper()
	src := newSource(t)
	testtree.Write(t, src, []testtree.Entry{
		{Path: "index.html", Mode: 0o644, Content: []byte("<h1>hello</h1>\n")},
		{Path: "css", Dir: true, Mode: 0o755},
		{Path: "css/site.css", Mode: 0o644, Content: []byte("body { margin: 0 }\n")},
		{Path: "link", Target: "index.html"},
	})
	return src
}

// TestAccDirectory_localEditPlansUpdate: apply → empty plan; an edited
// local file → an update whose pending names it → apply → empty plan.
func TestAccDirectory_localEditPlansUpdate(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
	})

	resource.Test(t, resource.TestCase{
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

	resource.Test(t, resource.TestCase{
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

	resource.Test(t, resource.TestCase{
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

	resource.Test(t, resource.TestCase{
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

	resource.Test(t, resource.TestCase{
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

// preload copies src into dst with the stock rsync, as if deployed earlier.
func preload(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("rsync", "-a", src+"/", dst+"/").CombinedOutput(); err != nil {
		t.Fatalf("rsync -a %s/ %s/: %v\n%s", src, dst, err, out)
	}
}

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

	resource.Test(t, resource.TestCase{
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

	resource.Test(t, resource.TestCase{
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

// TestAccDirectory_maxDelete: a sync that would delete more than
// max_delete fails and deletes nothing — at plan time when the plan sees
// the deletions, at apply time (dry run first) when it cannot.
func TestAccDirectory_maxDelete(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	extra := []string{filepath.Join(dst, "a.old"), filepath.Join(dst, "b.old")}
	cfg := func(drift string, maxDelete int) string {
		return providerConfig(srv, nil) + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)),
			"delete": "true", "max_delete": fmt.Sprint(maxDelete), "drift_detection": hclString(drift),
		})
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: cfg("checksum", 1), Check: checkTreesEqual(src, dst)},
			{
				PreConfig: func() {
					for _, p := range extra {
						writeFile(t, p, "old\n")
					}
				},
				Config:      cfg("checksum", 1),
				ExpectError: words("Too many deletions … would delete 2 files … max_delete = 1 … a.old, b.old … raise max_delete"),
			},
			{
				// The plan cannot see deletions without drift detection;
				// the apply's dry run does, and changes nothing.
				PreConfig:   func() { mustExist(t, extra...) },
				Config:      cfg("none", 1),
				ExpectError: words("Too many deletions … would delete 2 files … max_delete = 1 … nothing was changed"),
			},
			{
				PreConfig: func() { mustExist(t, extra...) },
				Config:    cfg("checksum", 2),
				Check: func(*terraform.State) error {
					return mustNotExist(extra...)
				},
			},
		},
	})
}

// TestAccDirectory_onDestroy: on_destroy = "delete" removes what was
// copied (destination/src for a "src" source, leaving destination);
// the default keeps it.
func TestAccDirectory_onDestroy(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	keepDst, delDst := t.TempDir(), t.TempDir()
	config := providerConfig(srv, nil) +
		rsyncDir("keep", map[string]string{"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, keepDst))}) +
		rsyncDir("del", map[string]string{"source": hclString(src), "destination": hclString(remoteDest(srv, delDst)), "on_destroy": `"delete"`})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeTestCheckFunc(
					checkTreesEqual(src, keepDst),
					checkTreesEqual(src, filepath.Join(delDst, "src")),
				),
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if err := testtree.Compare(src, keepDst); err != nil {
				return fmt.Errorf("on_destroy = keep: %w", err)
			}
			if err := mustNotExist(filepath.Join(delDst, "src")); err != nil {
				return fmt.Errorf("on_destroy = delete: %w", err)
			}
			if _, err := os.Stat(delDst); err != nil {
				return fmt.Errorf("on_destroy = delete removed the destination itself: %w", err)
			}
			return nil
		},
	})
}

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

	resource.Test(t, resource.TestCase{
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

	resource.Test(t, resource.TestCase{
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
	resource.Test(t, resource.TestCase{
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
	resource.Test(t, resource.TestCase{
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
	resource.Test(t, resource.TestCase{
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
