//go:build unix

package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

// TestPlanGuardDetects: the guard's comparison sees each kind of write a
// plan could make on the server — a touched mtime, a chmod, a file
// replaced by a rename (same name, size, mode and mtime: only the inode
// differs), a new directory, and a missing destination's parent created —
// and sees nothing when nothing changed.
func TestPlanGuardDetects(t *testing.T) {
	when := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, c := range []struct {
		name   string
		change func(t *testing.T, site, missing string)
		want   string // a line of the report; "" for no change
	}{
		{"nothing", func(*testing.T, string, string) {}, ""},
		{"mtime", func(t *testing.T, site, _ string) {
			must(t, os.Chtimes(filepath.Join(site, "f"), when.Add(time.Second), when.Add(time.Second)))
		}, "f -rw-r--r--"},
		{"mode", func(t *testing.T, site, _ string) { must(t, os.Chmod(filepath.Join(site, "f"), 0o600)) }, "f -rw-------"},
		{"inode", func(t *testing.T, site, _ string) {
			// A copy made before the snapshot, renamed over f: same
			// name, content, mode and mtime; the site's own mtime put
			// back, so only the inode tells.
			must(t, os.Rename(filepath.Join(filepath.Dir(site), "spare", "f"), filepath.Join(site, "f")))
			must(t, os.Chtimes(site, when, when))
		}, "f -rw-r--r-- size=5"},
		{"new directory", func(t *testing.T, site, _ string) { must(t, os.Mkdir(filepath.Join(site, "d", "new"), 0o755)) }, "d/new"},
		{"missing destination's parent", func(t *testing.T, _, missing string) {
			must(t, os.Mkdir(filepath.Dir(missing), 0o755))
		}, "/parent drwxr-xr-x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			site := filepath.Join(root, "site")
			must(t, os.MkdirAll(filepath.Join(site, "d"), 0o755))
			must(t, os.WriteFile(filepath.Join(site, "f"), []byte("data\n"), 0o644))
			must(t, os.Chmod(filepath.Join(site, "f"), 0o644))
			must(t, os.Chtimes(filepath.Join(site, "f"), when, when))
			must(t, os.Chtimes(site, when, when))
			spare := filepath.Join(root, "spare", "f")
			must(t, os.MkdirAll(filepath.Dir(spare), 0o755))
			must(t, os.WriteFile(spare, []byte("data\n"), 0o644))
			must(t, os.Chmod(spare, 0o644))
			must(t, os.Chtimes(spare, when, when))
			missing := filepath.Join(root, "parent", "dest")
			targets := []string{site, missing}
			before := snapshotServer(t, targets)
			if !strings.Contains(before[site], "\nf -rw-r--r-- size=5") || !strings.Contains(before[missing], missing+" absent") {
				t.Fatalf("the snapshot does not describe the tree:\n%s\n%s", before[site], before[missing])
			}
			c.change(t, site, missing)
			errs := compareServerSnapshots(before, snapshotServer(t, targets))
			switch {
			case c.want == "" && len(errs) > 0:
				t.Fatalf("a change reported where there was none: %v", errs)
			case c.want != "" && !strings.Contains(strings.Join(errs, "\n"), c.want):
				t.Fatalf("want a change naming %q, got %q", c.want, errs)
			}
		})
	}
}

// TestPlanGuardTargets: the server paths come from the configuration's
// remote sources and destinations in the temporary directory, escapes
// undone; local paths and the login directory are not server trees to
// snapshot, and a plan naming a server path that was not snapshotted
// fails the check rather than pass having compared nothing.
func TestPlanGuardTargets(t *testing.T) {
	dst := filepath.Join(t.TempDir(), `we"ird ${x}`) + "/"
	src := t.TempDir() + "/"
	config := rsyncDir("a", map[string]string{"source": hclString(src), "destination": hclString("me@127.0.0.1:" + dst)}) +
		rsyncDir("b", map[string]string{"source": hclString("me@127.0.0.1:" + src), "destination": hclString(t.TempDir())}) +
		rsyncDir("c", map[string]string{"source": hclString(src), "destination": hclString("me@127.0.0.1:site/")})
	got := serverTargets(config)
	want := []string{filepath.Clean(src), filepath.Clean(dst)}
	sort.Strings(want)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("targets %q, want %q", got, want)
	}

	g := &planGuard{c: &caseGuard{t: t}, targets: got}
	g.snap = snapshotServer(t, g.targets)
	plan := func(dest string) plancheck.CheckPlanRequest {
		return plancheck.CheckPlanRequest{Plan: &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{{
			Type: "rsync_directory", Change: &tfjson.Change{After: map[string]interface{}{"source": src, "destination": dest}},
		}}}}
	}
	var resp plancheck.CheckPlanResponse
	planUnchanged{g, true}.CheckPlan(context.Background(), plan("me@127.0.0.1:"+dst), &resp)
	if resp.Error != nil {
		t.Fatalf("unchanged, snapshotted: %v", resp.Error)
	}
	planUnchanged{g, true}.CheckPlan(context.Background(), plan("me@127.0.0.1:site/"), &resp)
	if resp.Error == nil || !regexp.MustCompile(`server path site/, which the guard did not snapshot`).MatchString(resp.Error.Error()) {
		t.Fatalf("a plan against a path not snapshotted: %v", resp.Error)
	}
}

// errorRecorder is a testing.TB whose Errorf is recorded, not failed.
type errorRecorder struct {
	testing.TB
	errs []string
}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestPlanGuardFailedPlan: a step whose plan failed (no check of its ran)
// is compared with its snapshot when the next one starts; a step whose
// plan was checked is not compared again (the test may since have changed
// the server on purpose).
func TestPlanGuardFailedPlan(t *testing.T) {
	site := filepath.Join(t.TempDir(), "site")
	rec := &errorRecorder{TB: t}
	c := &caseGuard{t: rec}
	g := &planGuard{c: c, targets: []string{site}}
	g.snap = snapshotServer(t, g.targets)
	c.last = g
	must(t, os.Mkdir(site, 0o755)) // as if the failed plan created the destination
	c.checkFailedPlan()
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "a plan that failed wrote on the server") ||
		!strings.Contains(rec.errs[0], site+" absent") || c.failedPlans != 1 {
		t.Fatalf("a failed plan's write: errors %q, failed plans %d", rec.errs, c.failedPlans)
	}
	c.checkFailedPlan() // checked once
	checked := &planGuard{c: c, targets: []string{site}, snap: map[string]string{site: "different"}, checked: true}
	c.last = checked
	c.checkFailedPlan()
	if len(rec.errs) != 1 {
		t.Fatalf("compared again: %q", rec.errs)
	}
}

// TestAcceptanceTestsUseGuard: every acceptance test of the package goes
// through accTest, so that none plans without the guard.
func TestAcceptanceTestsUseGuard(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	must(t, err)
	direct := regexp.MustCompile(`resource\.(Test|ParallelTest|UnitTest)\(`)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		must(t, err)
		if f == "acc_plan_writes_nothing_test.go" {
			continue
		}
		for _, m := range direct.FindAllIndex(b, -1) {
			t.Errorf("%s:%d calls %s directly; use accTest, which checks that its plans write nothing on the server",
				f, 1+strings.Count(string(b[:m[0]]), "\n"), b[m[0]:m[1]-1])
		}
		n += strings.Count(string(b), "accTest(t, resource.TestCase{")
	}
	if n == 0 {
		t.Error("no acceptance test calls accTest(t, resource.TestCase{...}): this check no longer finds them")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
