package provider

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// TestAccDirectory_parallel applies a multi-directory tree of 2,800 files
// with parallel = 3, delete and exclude, into a destination with strays at
// the top and deep and an excluded file to keep: the stock rsync finds
// nothing left to change (rsync -rlptnic --delete with the same exclude),
// the next plan is empty, and the push ran four receivers (the top level,
// then three parts), counted by a wrapper rsync_path. A second apply
// after the source changed (a top-level file turned into a directory, a
// directory removed — 2,100 files stay, above the 2,000 below which a push
// stays whole — files added deep) is exact again; with parallel unset
// a push of a few changes runs one receiver. parallel = 0 is refused.
func TestAccDirectory_parallel(t *testing.T) {
	srv := accSetup(t)
	src := newSource(t)
	files := map[string]string{"index.html": "<h1>hi</h1>", "turns-dir": "a file first", "junk.tmp": "excluded"}
	for d := range 4 {
		for i := range 700 {
			files[fmt.Sprintf("d%d/s%d/f%03d.txt", d, i%6, i)] = fmt.Sprint(d, i)
		}
	}
	files["d1/s1/deep.tmp"] = "excluded"
	writeTree(t, src, files)
	dst := filepath.Join(t.TempDir(), "site")
	writeTree(t, dst, map[string]string{
		"stray.txt": "s", "gone/x/y": "y", "d2/s3/stale.txt": "stale", "d0/old/deeper/z": "z", "keep.tmp": "excluded, kept",
	})
	// Every remote rsync the provider starts notes its arguments.
	dir := t.TempDir()
	logPath := filepath.Join(dir, "starts.log")
	wrapper := filepath.Join(dir, "rsync-wrapper")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %s\nexec rsync \"$@\"\n", shellQuote(logPath))
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// A push's receivers: servers that are not senders, with --delete
	// (the plan's estimate runs a receiver without it).
	receivers := func() int {
		b, err := os.ReadFile(logPath)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		n := 0
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "--server") && !strings.Contains(l, "--sender") && strings.Contains(l, "--delete") {
				n++
			}
		}
		return n
	}
	config := func(parallel string) string {
		p := ""
		if parallel != "" {
			p = "  parallel    = " + parallel + "\n"
		}
		return providerConfig(srv, map[string]string{"rsync_path": hclString(wrapper)}) + fmt.Sprintf(`
resource "rsync_directory" "test" {
  source      = %s
  destination = %s
  delete      = true
  exclude     = ["*.tmp"]
%s}
`, hclString(src+"/"), hclString(remoteDest(srv, dst+"/")), p)
	}
	exact := func(wantReceivers int) resource.TestCheckFunc {
		return func(*terraform.State) error {
			out, err := exec.Command("rsync", "-rlptnic", "--delete", "--exclude=*.tmp", src+"/", dst+"/").CombinedOutput()
			if err != nil {
				return fmt.Errorf("rsync -rlptnic --delete: %w: %s", err, out)
			}
			if s := strings.TrimSpace(string(out)); s != "" {
				return fmt.Errorf("rsync -rlptnic --delete --exclude=*.tmp would still change:\n%s", s)
			}
			if _, err := os.Stat(filepath.Join(dst, "keep.tmp")); err != nil {
				return fmt.Errorf("the excluded keep.tmp was not kept: %w", err)
			}
			if got := receivers(); got != wantReceivers {
				return fmt.Errorf("%d receiver sessions so far, want %d", got, wantReceivers)
			}
			return nil
		}
	}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: config("0"), ExpectError: regexp.MustCompile(`(?s)parallel.*between 1 and 8, got: 0`)},
			{Config: config("3"), Check: exact(4)},
			{
				Config:           config("3"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            exact(4),
			},
			{
				PreConfig: func() {
					if err := os.Remove(filepath.Join(src, "turns-dir")); err != nil {
						t.Fatal(err)
					}
					if err := os.RemoveAll(filepath.Join(src, "d3")); err != nil {
						t.Fatal(err)
					}
					writeTree(t, src, map[string]string{"turns-dir/inside": "now a directory", "d0/s2/new/added.txt": "added"})
				},
				Config: config("3"),
				Check:  exact(8),
			},
			{
				PreConfig: func() { writeTree(t, src, map[string]string{"d1/s0/one-more.txt": "one"}) },
				Config:    config(""),
				Check:     exact(9), // a change of two paths: one session
			},
			{
				Config:           config(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// writeTree writes files (path → content) below root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
