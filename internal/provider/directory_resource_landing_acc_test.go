package provider

// Acceptance tests: where the source lands on a local destination — a
// single-file source, and a destination root that is a symlink — the same
// in every direction, as rsync does.

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// fileIs checks that p is a regular file holding content.
func fileIs(p, content string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is %v, want a regular file", p, fi.Mode())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if string(b) != content {
		return fmt.Errorf("%s holds %q, want %q", p, b, content)
	}
	return nil
}

// TestAccDirectory_singleFileLocalDest: a single-file source
// ("dir/one.txt") pulled or copied to a local destination lands inside
// it (destination/one.txt, the directory created when missing), as a
// push does and as `rsync file dest/` does; refresh finds it and the next
// plan is empty. Before the fix the file was written as the destination
// path itself and refresh failed.
func TestAccDirectory_singleFileLocalDest(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	for _, tc := range []struct {
		name   string
		source string
	}{
		{"pull", remoteDest(srv, filepath.Join(src, "index.html"))},
		{"local", filepath.Join(src, "index.html")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "conf")
			config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
				"source": hclString(tc.source), "destination": hclString(dst),
			})
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				Steps: []resource.TestStep{
					{
						Config:            config,
						ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
						Check: func(*terraform.State) error {
							return fileIs(filepath.Join(dst, "index.html"), "<h1>hello</h1>\n")
						},
					},
					{
						Config:           config,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
					},
				},
			})
		})
	}
}

// TestAccDirectory_symlinkedDestRoot: a destination whose root is a
// symlink to a directory is followed in every direction, as rsync (and
// our push) does: the tree lands in the link's target, refresh reads it
// there and the next plan is empty; server-side drift below the root is
// seen. A symlink below the root is still never written through (the
// receiver's per-component guard, tested in internal/rsync).
func TestAccDirectory_symlinkedDestRoot(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	for _, tc := range []struct {
		name   string
		source func(string) string
		remote bool
	}{
		{"push", func(s string) string { return s }, true},
		{"pull", func(s string) string { return remoteDest(srv, s) }, false},
		{"local", func(s string) string { return s }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			target, link := filepath.Join(base, "real"), filepath.Join(base, "link")
			if err := os.Mkdir(target, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("real", link); err != nil {
				t.Fatal(err)
			}
			dest := link + "/"
			if tc.remote {
				dest = remoteDest(srv, dest)
			}
			config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
				"source": hclString(tc.source(src + "/")), "destination": hclString(dest), "delete": "true",
			})
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				Steps: []resource.TestStep{
					{
						Config:            config,
						ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
						Check: func(*terraform.State) error {
							fi, err := os.Lstat(link)
							if err != nil {
								return fmt.Errorf("the destination link: %w", err)
							}
							if fi.Mode()&os.ModeSymlink == 0 {
								return fmt.Errorf("the destination link was replaced by a %v", fi.Mode().Type())
							}
							return checkTreesEqual(src, target)(nil)
						},
					},
					{
						Config:           config,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
					},
					{
						PreConfig: func() { writeFile(t, filepath.Join(target, "css/site.css"), "edited in place\n") },
						Config:    config,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
						}},
						Check: func(*terraform.State) error { return checkTreesEqual(src, target)(nil) },
					},
				},
			})
		})
	}
}
