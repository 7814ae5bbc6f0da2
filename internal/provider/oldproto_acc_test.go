//go:build unix

package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// TestAccDirectory_protocol29: a server that speaks rsync protocol 29 (as
// macOS's openrsync and rsync 2.6.9 do; here the stock rsync forced down
// with rsync_path) gets the push, shows a server edit as drift by content
// (md4 sums computed on the server), is repaired, and then plans nothing.
func TestAccDirectory_protocol29(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	config := providerConfig(srv, map[string]string{"rsync_path": `"rsync --protocol=29"`}) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)), "delete": "true",
	})
	md4Hash := knownvalue.StringRegexp(regexp.MustCompile(`^md4:[0-9a-f]{32}$`))
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue(res, tfjsonpath.New("destination_hash"), md4Hash)},
				Check:             checkTreesEqual(src, dst),
			},
			// The create plan could not know the server's digest; the next
			// plan hashes the source with md4 and has nothing to do.
			{Config: config, PlanOnly: true},
			{
				PreConfig: func() {
					writeFile(t, filepath.Join(dst, "index.html"), "<h1>defaced</h1>\n")
					writeFile(t, filepath.Join(dst, "stray.txt"), "only on the server\n")
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					expectDrift{res, "destination_hash", true},
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"index.html"}, []string{"stray.txt"})),
				}},
			},
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check:             checkTreesEqual(src, dst),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// TestAccDirectory_oldServerOwnerRefusedAtPlan: owner/group in a push need
// --usermap/--groupmap (rsync 3.1+). Against a server whose rsync is 2.6.9
// (here a wrapper that answers --version as 2.6.9 and speaks protocol 29)
// the plan fails naming the server's version and the option, before
// anything is applied; a 3.x rsync forced down to 29 takes them.
func TestAccDirectory_oldServerOwnerRefusedAtPlan(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	old := filepath.Join(t.TempDir(), "rsync-2.6.9")
	writeFile(t, old, "#!/bin/sh\n"+
		"if [ \"$1\" = --version ]; then echo 'rsync  version 2.6.9  protocol version 29'; exit 0; fi\n"+
		"exec rsync --protocol=29 \"$@\"\n")
	if err := os.Chmod(old, 0o755); err != nil {
		t.Fatal(err)
	}
	resourceWith := func(rsyncPath string) string {
		return providerConfig(srv, map[string]string{"rsync_path": hclString(rsyncPath)}) + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)), "owner": `"nobody"`,
		})
	}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:      resourceWith(old),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)cannot set owner.*rsync 2\.6\.9 \(protocol 29\).*--chown`),
			},
			{
				Config: resourceWith("rsync --protocol=29"),
				Check: func(*terraform.State) error {
					if os.Geteuid() != 0 {
						return nil // only root can give files away; the apply itself is the check
					}
					return ownedBy(filepath.Join(dst, "index.html"), 65534)
				},
			},
		},
	})
	if fis, err := os.ReadDir(dst); err != nil || len(fis) == 0 {
		t.Fatalf("the forced-down 3.x server got nothing: %v", err)
	}
}

func ownedBy(p string, uid uint32) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid {
		return fmt.Errorf("%s is owned by uid %d, want %d", p, st.Uid, uid)
	}
	return nil
}

// TestAccManifest_protocol29: the manifest of a remote tree on a protocol-29
// server carries md4 sums computed there; its hash is the one this
// machine computes for the same tree with md4, file for file.
func TestAccManifest_protocol29(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	rules, err := filter.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	local, _, err := tree.Local(context.Background(), src+"/", rules, tree.Content, csum.MD4)
	if err != nil {
		t.Fatal(err)
	}
	config := providerConfig(srv, map[string]string{"rsync_path": `"rsync --protocol=29"`}) + `
data "rsync_manifest" "remote" {
  path = ` + hclString(remoteDest(srv, src+"/")) + `
}
`
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.rsync_manifest.remote", tfjsonpath.New("file_count"), knownvalue.Int64Exact(2)),
				statecheck.ExpectKnownValue("data.rsync_manifest.remote", tfjsonpath.New("hash"), knownvalue.StringExact(local.Hash())),
			},
		}},
	})
}

// TestAccDirectory_protocol27MaxDelete: below protocol 29 the server does
// not report deletions, so a dry run cannot count them; max_delete still
// holds. A create (whose plan has no listing to count from) into a
// directory holding three extra entries (a file, a directory and its file,
// counted as rsync reports them from 29 on) stops at max_delete = 2 with
// nothing deleted, and goes through with 3.
func TestAccDirectory_protocol27MaxDelete(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	writeFile(t, filepath.Join(dst, "extra.txt"), "only on the server\n")
	writeFile(t, filepath.Join(dst, "old/x.txt"), "only on the server\n")
	config := func(limit string) string {
		return providerConfig(srv, map[string]string{"rsync_path": `"rsync --protocol=27"`}) + rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)), "delete": "true", "max_delete": limit,
		})
	}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: config("2"), ExpectError: regexp.MustCompile(`(?s)Too many deletions.*delete 3 files or directories`)},
			{
				PreConfig: func() {
					for _, p := range []string{"extra.txt", "old/x.txt"} {
						if _, err := os.Stat(filepath.Join(dst, p)); err != nil {
							t.Fatalf("max_delete did not stop the deletion of %s: %v", p, err)
						}
					}
				},
				Config: config("3"),
				Check:  checkTreesEqual(src, dst),
			},
		},
	})
}
