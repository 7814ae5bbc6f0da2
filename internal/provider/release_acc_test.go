//go:build unix

package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
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
func checkCurrentIs(app, src string, shared ...string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		id, err := currentRelease(app)
		if err != nil {
			return err
		}
		attrs := s.RootModule().Resources[res].Primary.Attributes
		if attrs["current_release"] != id {
			return fmt.Errorf("current_release = %q, current -> releases/%s", attrs["current_release"], id)
		}
		if err := testtree.CompareExcept(src, filepath.Join(app, "releases", id), shared...); err != nil {
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

// expectRelease checks the plan of res: current_release goes from the
// release from() names to the one to() names (both evaluated when the
// plan is checked), and releases after the apply are want() when set.
type expectRelease struct {
	from, to func() string
	want     func() []string
}

func (e expectRelease) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != res || rc.Change == nil {
			continue
		}
		before, _ := rc.Change.Before.(map[string]any)
		after, _ := rc.Change.After.(map[string]any)
		if fmt.Sprint(before["current_release"]) != e.from() || fmt.Sprint(after["current_release"]) != e.to() {
			resp.Error = fmt.Errorf("the plan makes current_release %v -> %v, want %s -> %s",
				before["current_release"], after["current_release"], e.from(), e.to())
			return
		}
		if e.want != nil {
			var got []string
			list, _ := after["releases"].([]any)
			for _, v := range list {
				got = append(got, fmt.Sprint(v))
			}
			if want := e.want(); fmt.Sprint(got) != fmt.Sprint(want) {
				resp.Error = fmt.Errorf("the plan keeps releases %q, want %q", got, want)
			}
		}
		return
	}
	resp.Error = fmt.Errorf("no change planned for %s", res)
}

// fixed is a function returning s.
func fixed(s string) func() string { return func() string { return s } }

// sent checks last_sync: files whose data was sent and literal bytes.
func sent(files, literal int) resource.TestCheckFunc {
	return resource.ComposeTestCheckFunc(
		resource.TestCheckResourceAttr(res, "last_sync.files_transferred", fmt.Sprint(files)),
		resource.TestCheckResourceAttr(res, "last_sync.literal_bytes", fmt.Sprint(literal)),
	)
}

// sameInode checks that p has the inode *ino recorded earlier.
func sameInode(p string, ino *uint64) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := inodeOf(p)
		if err != nil {
			return err
		}
		if got != *ino {
			return fmt.Errorf("%s has inode %d, want %d (the same file)", p, got, *ino)
		}
		return nil
	}
}

// record stores the inode of p in *ino.
func recordInode(p func() string, ino *uint64) resource.TestCheckFunc {
	return func(*terraform.State) (err error) {
		*ino, err = inodeOf(p())
		return err
	}
}

// TestAccRelease_deploy, against rsync 3.5.0 and 3.2.7, into an app root
// whose name needs quoting: a first release and its link; a second one
// where the unchanged large file is a hard link to the first release's
// (same inode) and only the changed file's bytes cross the wire; then the
// source reverted to the first content switches current back to the first
// release's directory — the plan says so, no file data is sent, its files
// keep their inodes. Every apply is followed by an empty plan.
func TestAccRelease_deploy(t *testing.T) {
	srv := accSetup(t)
	for _, server := range []struct{ name, path string }{{"rsync-3.5.0", ""}, {"rsync-3.2.7", sshtest.Rsync327(t)}} {
		t.Run(server.name, func(t *testing.T) {
			src := smallTree(t)
			writeFile(t, filepath.Join(src, "assets", "big.bin"), strings.Repeat("0123456789abcdef", 64<<10))
			base := t.TempDir()
			app := filepath.Join(base, "it's $(touch PWNED) app")
			overrides := map[string]string{}
			if server.path != "" {
				overrides["rsync_path"] = hclString(shellQuote(server.path))
			}
			config := releaseDir(srv, overrides, src, remoteDest(srv, app+"/"), "    keep = 3", map[string]string{"mkpath": "true"})
			var first, second string
			var bigInode, indexInode uint64
			firstIndex := func() string { return filepath.Join(app, "releases", first, "index.html") }
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				Steps: []resource.TestStep{
					{
						Config: config,
						Check: resource.ComposeTestCheckFunc(
							checkCurrentIs(app, src),
							func(*terraform.State) (err error) {
								first, err = currentRelease(app)
								return err
							},
							recordInode(func() string { return filepath.Join(app, "releases", first, "assets", "big.bin") }, &bigInode),
							recordInode(firstIndex, &indexInode),
							func(*terraform.State) error {
								return mustNotExist(filepath.Join(base, "PWNED"), filepath.Join(os.Getenv("HOME"), "PWNED"))
							},
						),
					},
					{
						PreConfig: func() { writeFile(t, filepath.Join(src, "index.html"), "<h1>v2</h1>\n") },
						Config:    config,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
							expectDrift{addr: res, attr: "current_release", want: false},
						}},
						Check: resource.ComposeTestCheckFunc(
							checkCurrentIs(app, src),
							func(*terraform.State) (err error) {
								if second, err = currentRelease(app); err == nil && second == first {
									err = fmt.Errorf("the second release has the first one's id %s", first)
								}
								return err
							},
							func(s *terraform.State) error {
								return sameInode(filepath.Join(app, "releases", second, "assets", "big.bin"), &bigInode)(s)
							},
							sent(1, len("<h1>v2</h1>\n")),
						),
					},
					{
						PreConfig: func() { writeFile(t, filepath.Join(src, "index.html"), "<h1>hello</h1>\n") },
						Config:    config,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							expectRelease{from: func() string { return second }, to: func() string { return first },
								want: func() []string { return []string{second, first} }},
						}},
						Check: resource.ComposeTestCheckFunc(
							checkCurrentIs(app, src),
							func(*terraform.State) error {
								if id, _ := currentRelease(app); id != first {
									return fmt.Errorf("current -> %s, want the first release %s", id, first)
								}
								return nil
							},
							func(s *terraform.State) error { return sameInode(firstIndex(), &indexInode)(s) },
							sent(0, 0),
						),
					},
				},
			})
		})
	}
}

// setIndex returns a function that writes the source's index.html.
func setIndex(t *testing.T, src, content string) func() {
	return func() { writeFile(t, filepath.Join(src, "index.html"), content) }
}

// mustReleases lists app/releases, or nil.
func mustReleases(app string) []string {
	ids, _ := releaseDirs(app)
	return ids
}
