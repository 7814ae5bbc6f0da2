package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// Acceptance tests: max_delete and on_destroy, the guards on what a sync or a destroy removes.

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

	accTest(t, resource.TestCase{
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

	accTest(t, resource.TestCase{
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
