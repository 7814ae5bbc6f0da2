//go:build unix

package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// modes checks the permission bits of paths below root.
func modes(root string, want map[string]os.FileMode) error {
	for p, m := range want {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			return err
		}
		if got := fi.Mode().Perm(); got != m {
			return fmt.Errorf("%s has mode %o, want %o", p, got, m)
		}
	}
	return nil
}

// owners checks the uid and gid of paths below root.
func owners(root string, uid, gid uint32, paths ...string) error {
	for _, p := range paths {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != uid || st.Gid != gid {
			return fmt.Errorf("%s is owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
	}
	return nil
}

// settleDirTime gives dir a whole-second modification time in the past: a
// directory created or filled just now may share its second with the copy
// (see writeFile).
func settleDirTime(t *testing.T, dir string) {
	t.Helper()
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(dir, past, past); err != nil {
		t.Fatal(err)
	}
}

// TestAccDirectory_chmod: the pushed permissions differ from the local
// ones, yet apply → empty plan holds (the plan hashes the source with the
// chmod applied); a mode changed on the server is drift and is put back;
// changing chmod plans an update of every path whose mode changes. With
// delete = true each apply takes destination_hash from the source's hash
// (with chmod applied), which the next refresh must read back unchanged.
func TestAccDirectory_chmod(t *testing.T) {
	srv := accSetup(t)
	src := newSource(t)
	testtree.Write(t, src, []testtree.Entry{
		{Path: "index.html", Mode: 0o600, Content: []byte("<h1>private locally</h1>\n")},
		{Path: "bin", Dir: true, Mode: 0o700},
		{Path: "bin/run.sh", Mode: 0o700, Content: []byte("#!/bin/sh\n")},
		{Path: "link", Target: "index.html"},
	})
	if err := os.Chmod(src, 0o700); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "www")
	config := func(chmod string) string {
		return providerConfig(srv, nil) + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "chmod": hclString(chmod),
			"delete": "true",
		})
	}
	settled := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectEmptyPlan(), expectDrift{res, "destination_hash", false},
	}}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:            config("D755,Fgo+rX"),
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check: func(*terraform.State) error {
					return modes(dst, map[string]os.FileMode{".": 0o755, "index.html": 0o644, "bin": 0o755, "bin/run.sh": 0o755})
				},
			},
			{
				Config:           config("D755,Fgo+rX"),
				ConfigPlanChecks: settled,
			},
			{
				PreConfig: func() {
					if err := os.Chmod(filepath.Join(dst, "index.html"), 0o600); err != nil {
						t.Fatal(err)
					}
				},
				Config: config("D755,Fgo+rX"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"index.html"}, nil)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check: func(*terraform.State) error {
					return modes(dst, map[string]os.FileMode{"index.html": 0o644})
				},
			},
			{
				Config: config("D750,F640"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"),
						pendingIs(nil, []string{".", "index.html", "bin/", "bin/run.sh"}, nil)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check: func(*terraform.State) error {
					return modes(dst, map[string]os.FileMode{".": 0o750, "index.html": 0o640, "bin": 0o750, "bin/run.sh": 0o640})
				},
			},
			{
				Config:           config("D750,F640"),
				ConfigPlanChecks: settled,
			},
		},
	})
}

// TestAccDirectory_chmodPull: pulling with chmod, the local copy gets the
// changed modes and the plan after apply is empty (the remote source's
// listing is compared with the chmod applied).
func TestAccDirectory_chmodPull(t *testing.T) {
	srv := accSetup(t)
	remote := newSource(t)
	testtree.Write(t, remote, []testtree.Entry{
		{Path: "a.txt", Mode: 0o600, Content: []byte("a\n")},
		{Path: "d", Dir: true, Mode: 0o700},
		{Path: "d/b.txt", Mode: 0o640, Content: []byte("b\n")},
	})
	dst := filepath.Join(t.TempDir(), "copy")
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(remoteDest(srv, remote+"/")), "destination": hclString(dst + "/"), "chmod": `"a+rX,u+w"`,
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check: func(*terraform.State) error {
					return modes(dst, map[string]os.FileMode{"a.txt": 0o644, "d": 0o755, "d/b.txt": 0o644})
				},
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// TestAccDirectory_chmodInvalid: a chmod string rsync would refuse fails
// at plan, naming the attribute and the clause.
func TestAccDirectory_chmodInvalid(t *testing.T) {
	srv := accSetup(t)
	for _, tc := range []struct{ chmod, want string }{
		{"D755,F64x", `chmod: "D755,F64x" is not an rsync --chmod string: chmod clause "F64x": "64x" is not an octal mode`},
		{"u+rwz", `chmod: "u+rwz" is not an rsync --chmod string: chmod clause "u+rwz": unknown permission 'z'`},
		{"", `chmod: "" is not an rsync --chmod string: empty chmod string`},
	} {
		t.Run(tc.chmod, func(t *testing.T) {
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				Steps: []resource.TestStep{{
					Config: providerConfig(srv, nil) + rsyncDir("test", map[string]string{
						"source": hclString(t.TempDir() + "/"), "destination": hclString(remoteDest(srv, t.TempDir()+"/")),
						"chmod": hclString(tc.chmod),
					}),
					ExpectError: words("Invalid chmod … " + tc.want),
				}},
			})
		})
	}
}

// TestAccDirectory_ownerGroup: as root on the server, owner and group
// are applied to everything written; changing them plans an update that
// re-applies them although no file changed; a receiving user that may not
// change ownership (nobody, through rsync_path) leaves it as is without
// failing.
func TestAccDirectory_ownerGroup(t *testing.T) {
	srv := accSetup(t)
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root on the test server (CI runs as root)")
	}
	src := smallTree(t)
	dst := filepath.Join(t.TempDir(), "www")
	config := func(owner, group string) string {
		return providerConfig(srv, nil) + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
			"owner": hclString(owner), "group": hclString(group),
		})
	}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:            config("nobody", "nogroup"),
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check: func(*terraform.State) error {
					return owners(dst, 65534, 65534, ".", "index.html", "css", "css/site.css", "link")
				},
			},
			{
				Config:           config("nobody", "nogroup"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				Config: config("root", "daemon"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					return owners(dst, 0, 1, ".", "index.html", "css", "css/site.css", "link")
				},
			},
			{
				Config:           config("root", "daemon"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})

	// The receiving user is nobody: asking for root ownership is not an
	// error, and the files stay nobody's.
	dst2 := filepath.Join(t.TempDir(), "www")
	if err := os.MkdirAll(dst2, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dst2, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(dst2), filepath.Dir(filepath.Dir(dst2))} { // t.TempDir's are 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	asNobody := providerConfig(srv, map[string]string{"rsync_path": `"setpriv --reuid=65534 --regid=65534 --clear-groups rsync"`}) +
		rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst2+"/")),
			"owner": `"root"`, "group": `"root"`,
		})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{{
			Config: asNobody,
			Check: func(*terraform.State) error {
				return owners(dst2, 65534, 65534, "index.html", "css/site.css")
			},
		}},
	})
}

// TestAccDirectory_protectStillCopies: protect is a receiver-side rule: a
// source path matching it is copied (and updated), destination-only paths
// matching it are never planned for deletion nor deleted — nor is a
// directory that keeps one — and the plan after apply is empty.
func TestAccDirectory_protectStillCopies(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	writeFile(t, filepath.Join(src, "uploads/README"), "uploads go here\n")
	settleDirTime(t, src)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
		"delete": "true", "protect": `["/uploads/", ".env"]`,
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check:             checkTreesEqual(src, dst),
			},
			{
				PreConfig: func() {
					writeFile(t, filepath.Join(src, "uploads/README"), "uploads go here, edited\n")
					writeFile(t, filepath.Join(dst, "uploads/photo.jpg"), "jpg\n")
					writeFile(t, filepath.Join(dst, "uploads/2024/a.jpg"), "jpg\n")
					writeFile(t, filepath.Join(dst, "old/.env"), "SECRET=1\n")
					writeFile(t, filepath.Join(dst, "old/stale.txt"), "stale\n")
					writeFile(t, filepath.Join(dst, "extra.txt"), "extra\n")
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"),
						pendingIs(nil, []string{"uploads/README"}, []string{"extra.txt", "old/stale.txt"})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("deleted"), knownvalue.Int64Exact(2)),
				},
				Check: func(*terraform.State) error {
					mustExist(t, filepath.Join(dst, "uploads/photo.jpg"), filepath.Join(dst, "uploads/2024/a.jpg"), filepath.Join(dst, "old/.env"))
					if b, _ := os.ReadFile(filepath.Join(dst, "uploads/README")); string(b) != "uploads go here, edited\n" {
						return fmt.Errorf("uploads/README was not updated: %q", b)
					}
					return mustNotExist(filepath.Join(dst, "extra.txt"), filepath.Join(dst, "old/stale.txt"))
				},
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// TestAccDirectory_protectPull: pulling with delete = true, a local-only
// directory is deleted except a protected file inside it (and so is kept,
// as rsync keeps it); the plan says exactly that and is empty afterwards.
func TestAccDirectory_protectPull(t *testing.T) {
	srv := accSetup(t)
	remote := smallTree(t)
	dst := filepath.Join(t.TempDir(), "copy")
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(remoteDest(srv, remote+"/")), "destination": hclString(dst + "/"),
		"delete": "true", "protect": `[".env"]`,
	})
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: config, Check: checkTreesEqual(remote, dst)},
			{
				PreConfig: func() {
					writeFile(t, filepath.Join(dst, "old/.env"), "SECRET=1\n")
					writeFile(t, filepath.Join(dst, "old/stale.txt"), "stale\n")
					writeFile(t, filepath.Join(dst, "gone/x.txt"), "x\n")
					settleDirs(t, dst)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, nil, []string{"gone/", "gone/x.txt", "old/stale.txt"})),
				}},
				Check: func(*terraform.State) error {
					mustExist(t, filepath.Join(dst, "old/.env"))
					return mustNotExist(filepath.Join(dst, "old/stale.txt"), filepath.Join(dst, "gone"))
				},
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}
