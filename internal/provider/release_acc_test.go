//go:build unix

package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// releaseConfig renders a provider and an rsync_directory with a release
// block (releaseAttrs: HCL lines inside it) and extra attributes.
func releaseDir(srv *sshtest.Server, overrides map[string]string, src, dst, releaseAttrs string, extra map[string]string) string {
	attrs := map[string]string{
		"source": hclString(src + "/"), "destination": hclString(dst),
		"release": "{\n" + releaseAttrs + "\n  }",
	}
	for k, v := range extra {
		attrs[k] = v
	}
	return providerConfig(srv, overrides) + rsyncDir("test", attrs)
}

// inodeOf is the inode of p (not following a last symlink).
func inodeOf(p string) (uint64, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return 0, err
	}
	return fi.Sys().(*syscall.Stat_t).Ino, nil
}

// currentRelease reads app/current and returns the id it points to.
func currentRelease(app string) (string, error) {
	target, err := os.Readlink(filepath.Join(app, "current"))
	if err != nil {
		return "", err
	}
	id, ok := strings.CutPrefix(target, "releases/")
	if !ok {
		return "", fmt.Errorf("current -> %q is not releases/<id>", target)
	}
	return id, nil
}

// releaseDirs lists app/releases (without dot entries).
func releaseDirs(app string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(app, "releases"))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// checkCurrentIs checks that current points to a release whose tree equals
// src, that the state's current_release names it, and that the releases
// on disk are the state's releases.
func checkCurrentIs(app, src string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		id, err := currentRelease(app)
		if err != nil {
			return err
		}
		attrs := s.RootModule().Resources[res].Primary.Attributes
		if attrs["current_release"] != id {
			return fmt.Errorf("current_release = %q, current -> releases/%s", attrs["current_release"], id)
		}
		if err := checkTreesEqual(src, filepath.Join(app, "releases", id))(s); err != nil {
			return fmt.Errorf("release %s: %w", id, err)
		}
		dirs, err := releaseDirs(app)
		if err != nil {
			return err
		}
		var state []string
		for i := 0; ; i++ {
			v, ok := attrs[fmt.Sprintf("releases.%d", i)]
			if !ok {
				break
			}
			state = append(state, v)
		}
		if attrs["releases.#"] != fmt.Sprint(len(dirs)) {
			return fmt.Errorf("releases in state %q, on disk %q", state, dirs)
		}
		if len(state) == 0 || state[len(state)-1] != id {
			return fmt.Errorf("releases %q: the newest is not the current one (%s)", state, id)
		}
		return nil
	}
}

// TestAccRelease_basic: a first release and its link; a second one where
// the unchanged large file is a hard link to the first release's (same
// inode) and only the changed file's bytes cross the wire; a revert of the
// source switches back to the first release without sending file data.
func TestAccRelease_basic(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
	writeFile(t, filepath.Join(src, "assets", "big.bin"), big)
	app := filepath.Join(t.TempDir(), "app")
	config := releaseDir(srv, nil, src, remoteDest(srv, app+"/"), "    keep = 3", nil)
	var first string
	var bigInode uint64
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeTestCheckFunc(
					checkCurrentIs(app, src),
					func(*terraform.State) (err error) {
						if first, err = currentRelease(app); err != nil {
							return err
						}
						bigInode, err = inodeOf(filepath.Join(app, "releases", first, "assets", "big.bin"))
						return err
					},
				),
			},
			{
				PreConfig: func() { writeFile(t, filepath.Join(src, "index.html"), "<h1>v2</h1>\n") },
				Config:    config,
				Check: resource.ComposeTestCheckFunc(
					checkCurrentIs(app, src),
					func(s *terraform.State) error {
						id, _ := currentRelease(app)
						if id == first {
							return fmt.Errorf("the second release has the first one's id %s", id)
						}
						ino, err := inodeOf(filepath.Join(app, "releases", id, "assets", "big.bin"))
						if err != nil {
							return err
						}
						if ino != bigInode {
							return fmt.Errorf("assets/big.bin was copied into the new release (inode %d, was %d), not hard-linked", ino, bigInode)
						}
						a := s.RootModule().Resources[res].Primary.Attributes
						if a["last_sync.literal_bytes"] != "12" || a["last_sync.files_transferred"] != "1" {
							return fmt.Errorf("sent %s files, %s literal bytes; want only index.html (12 bytes)",
								a["last_sync.files_transferred"], a["last_sync.literal_bytes"])
						}
						return nil
					},
				),
			},
		},
	})
}
