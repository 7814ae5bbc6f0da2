package provider

// Issue 18, "never writes": a plan changes nothing on the server. Every
// acceptance test runs through accTest, which holds every plan of every
// config step to that, so that the promise is checked under all the
// configurations the suite plans (creates, updates, new directories,
// deletions, releases, mkpath, pulls, read-only destinations), not only in
// the estimate's own tests.
//
// For each config step, after the step's PreConfig, it snapshots each
// server-side path the configuration names (a remote source or
// destination; those of the test's earlier steps too): the path itself
// recursively (names, types, modes, sizes, mtimes, inodes) and, one line
// each, the directories above it within the test's temporary tree, so that
// creating a missing destination or one of its parents shows too. After
// the plan, before the apply, the snapshot must be unchanged. It snapshots
// again after the apply and holds the two plans Terraform makes after it
// (the empty-plan checks, without and with refresh) to that second
// snapshot. A plan that fails (a step expecting the error) is checked at
// the start of the next step, or when the test ends if nothing was ever
// applied. Tests that drive the terraform CLI themselves (tfRunner) get
// the same check around each `terraform plan` (guardPlan).
//
// The test's sshd serves this machine's file system, so the server's paths
// are local paths here. Only paths inside the temporary directory are
// snapshotted (a test's trees are made there; the login directory is not
// a throwaway tree), and a plan that names a server path the guard did not
// snapshot fails the check: it can never pass by looking at nothing.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// accTest is resource.Test with every config step's plans held to writing
// nothing on the server (see the file comment). Acceptance tests call it
// instead of resource.Test; TestAcceptanceTestsUseGuard enforces that.
func accTest(t *testing.T, tc resource.TestCase) {
	t.Helper()
	c := &caseGuard{t: t}
	steps := make([]resource.TestStep, len(tc.Steps))
	var configs strings.Builder
	for i, s := range tc.Steps {
		// The paths of earlier steps too: a step that moves the
		// destination plans against the old one (replace, delete).
		configs.WriteString(s.Config)
		steps[i] = c.guardStep(s, serverTargets(configs.String()))
	}
	tc.Steps = steps
	resource.Test(t, tc)
	// A last step whose plan failed: nothing ran after that plan but
	// the destroy, which touches nothing when no apply ever ran.
	if !c.applied {
		c.checkFailedPlan()
	}
	t.Logf("plan guard: %d plans checked (%d of them failed plans) against %d snapshots of server paths; none wrote",
		c.plans, c.failedPlans, c.snapshots)
}

// caseGuard is the guard of one test case: what it checked, for its log,
// and the step whose plan may have failed.
type caseGuard struct {
	t                             testing.TB
	plans, failedPlans, snapshots int
	// last is the latest step that took a snapshot; applied is set once
	// any step's plan passed its pre-apply check (an apply may follow).
	last    *planGuard
	applied bool
}

// checkFailedPlan checks the latest step, when no check of its ran: its
// plan failed (an error the step expected), so no apply followed, and
// what changed since its snapshot was changed by that plan.
func (c *caseGuard) checkFailedPlan() {
	g := c.last
	if g == nil || g.snap == nil || g.checked {
		return
	}
	g.checked = true
	c.failedPlans++
	if errs := c.compare(g); len(errs) > 0 {
		c.t.Errorf("a plan that failed wrote on the server; a plan must write nothing there:\n%s", strings.Join(errs, "\n"))
	}
}

// compare counts a check of g's snapshot and returns what changed.
func (c *caseGuard) compare(g *planGuard) []string {
	c.plans++
	c.snapshots += len(g.targets)
	return compareServerSnapshots(g.snap, snapshotServer(c.t, g.targets))
}

// guardStep adds the snapshot and its checks to a config step. Import and
// refresh-only steps do not plan a configuration and are left alone.
func (c *caseGuard) guardStep(s resource.TestStep, targets []string) resource.TestStep {
	if s.Config == "" || s.ImportState || s.RefreshState {
		return s
	}
	g := &planGuard{c: c, targets: targets}
	pre := s.PreConfig
	s.PreConfig = func() {
		c.checkFailedPlan() // before this step's PreConfig changes anything
		if pre != nil {
			pre()
		}
		g.snap = snapshotServer(c.t, g.targets)
		c.last = g
	}
	// First, before any check of the test's own that might touch the
	// server to set up what comes next.
	if !s.PlanOnly {
		s.ConfigPlanChecks.PreApply = append([]plancheck.PlanCheck{planUnchanged{g, true}}, s.ConfigPlanChecks.PreApply...)
	}
	check := planUnchanged{g, false}
	s.ConfigPlanChecks.PostApplyPreRefresh = append([]plancheck.PlanCheck{check}, s.ConfigPlanChecks.PostApplyPreRefresh...)
	s.ConfigPlanChecks.PostApplyPostRefresh = append([]plancheck.PlanCheck{check}, s.ConfigPlanChecks.PostApplyPostRefresh...)
	// Last, after the test's own Check and state checks, which may change
	// the server on purpose before the next plan.
	s.ConfigStateChecks = append(s.ConfigStateChecks, resnapshot{g})
	return s
}

// guardPlan holds a `terraform plan` run by a test that drives the CLI
// itself to the same rule: it snapshots the server paths the working
// directory's configuration names, and the returned function, called when
// the command has ended, fails the test if they changed. Other commands
// are not checked (an apply writes).
func (r *tfRunner) guardPlan(args []string) func() {
	if len(args) == 0 || args[0] != "plan" {
		return func() {}
	}
	files, err := filepath.Glob(filepath.Join(r.dir, "*.tf"))
	if err != nil {
		r.t.Fatal(err)
	}
	var config strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			r.t.Fatal(err)
		}
		config.Write(b)
	}
	targets := serverTargets(config.String())
	before := snapshotServer(r.t, targets)
	return func() {
		if errs := compareServerSnapshots(before, snapshotServer(r.t, targets)); len(errs) > 0 {
			r.t.Errorf("terraform %s wrote on the server; a plan must write nothing there:\n%s", strings.Join(args, " "), strings.Join(errs, "\n"))
		}
	}
}

// planGuard is one step's server paths and their latest snapshot.
type planGuard struct {
	c       *caseGuard
	targets []string
	snap    map[string]string
	checked bool // a plan of this step was checked
}

// resnapshot is the state check, after the apply, that takes the snapshot
// the plans after the apply are held to.
type resnapshot struct{ g *planGuard }

func (r resnapshot) CheckState(_ context.Context, _ statecheck.CheckStateRequest, _ *statecheck.CheckStateResponse) {
	r.g.snap = snapshotServer(r.g.c.t, r.g.targets)
}

// planUnchanged is the plan check: the server as snapshotted, and every
// server path the plan names among the snapshotted ones. preApply marks
// the check of the plan an apply follows.
type planUnchanged struct {
	g        *planGuard
	preApply bool
}

func (p planUnchanged) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	g := p.g
	if g.snap == nil {
		resp.Error = fmt.Errorf("plan guard: no snapshot of the server was taken before this plan")
		return
	}
	g.checked = true
	if p.preApply {
		g.c.applied = true
	}
	var errs []string
	for _, sp := range plannedServerPaths(req) {
		if _, ok := g.snap[sp]; !ok {
			errs = append(errs, fmt.Sprintf("the plan names the server path %s, which the guard did not snapshot "+
				"(only absolute paths in the temporary directory, written literally in the step's configuration, are)", sp))
		}
	}
	errs = append(errs, g.c.compare(g)...)
	if len(errs) > 0 {
		resp.Error = fmt.Errorf("a plan must write nothing on the server:\n%s", strings.Join(errs, "\n"))
	}
}

// plannedServerPaths are the remote sources and destinations of the
// plan's rsync_directory resources (before and after), cleaned.
func plannedServerPaths(req plancheck.CheckPlanRequest) []string {
	if req.Plan == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Type != "rsync_directory" || rc.Change == nil {
			continue
		}
		for _, v := range []interface{}{rc.Change.Before, rc.Change.After} {
			m, _ := v.(map[string]interface{})
			for _, k := range []string{"source", "destination"} {
				if s, ok := m[k].(string); ok {
					if e, err := parseEndpoint(s); err == nil && e.Remote {
						seen[serverPath(e.Spec.Path)] = true
					}
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// serverPath is how the guard keys a server path: cleaned when absolute,
// as written otherwise (the login directory's paths are never snapshotted).
func serverPath(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return p
}

// hclStringLit matches an HCL string literal on one line.
var hclStringLit = regexp.MustCompile(`"((?:[^"\\\n]|\\.)*)"`)

// serverTargets are the server paths a configuration names: each string
// literal of the `[user@]host:/path` form whose path is in the temporary
// directory (where every test makes its trees).
func serverTargets(config string) []string {
	unescape := strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n", `\r`, "\r", `\t`, "\t", "$${", "${", "%%{", "%{")
	seen := map[string]bool{}
	for _, m := range hclStringLit.FindAllStringSubmatch(config, -1) {
		e, err := parseEndpoint(unescape.Replace(m[1]))
		if err != nil || !e.Remote {
			continue
		}
		if p := serverPath(e.Spec.Path); inTempTree(p) {
			seen[p] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// inTempTree reports whether p is below the temporary directory, where
// every test makes its trees. The temporary directory itself is never
// snapshotted: others write to it all the time.
func inTempTree(p string) bool {
	return filepath.IsAbs(p) && strings.HasPrefix(p, filepath.Clean(os.TempDir())+string(filepath.Separator))
}

// snapshotServer snapshots each target: the directories above it in the
// temporary tree, one line each (creating an entry in a directory changes
// its mtime), then the target itself, recursively, or "absent".
func snapshotServer(t testing.TB, targets []string) map[string]string {
	t.Helper()
	out := make(map[string]string, len(targets))
	for _, p := range targets {
		var b strings.Builder
		for a := filepath.Dir(p); inTempTree(a); a = filepath.Dir(a) {
			if _, err := os.Lstat(a); err == nil {
				fmt.Fprintf(&b, "above: %s", testtree.SnapshotEntry(t, a))
			}
		}
		if _, err := os.Lstat(p); err != nil {
			fmt.Fprintf(&b, "%s absent\n", p)
		} else {
			s := testtree.Snapshot(t, p)
			if s == "" {
				t.Fatalf("plan guard: the snapshot of %s, which exists, is empty", p)
			}
			b.WriteString(s)
		}
		out[p] = b.String()
	}
	return out
}

// compareServerSnapshots lists, per target, the lines that differ.
func compareServerSnapshots(before, after map[string]string) []string {
	var errs []string
	for _, p := range sortedKeys(before) {
		if before[p] == after[p] {
			continue
		}
		gone, added := lineDiff(before[p], after[p])
		errs = append(errs, fmt.Sprintf("%s changed:\n  before: %s\n  after:  %s", p,
			strings.Join(gone, "\n          "), strings.Join(added, "\n          ")))
	}
	return errs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lineDiff is the lines only in a and only in b (at most 20 each).
func lineDiff(a, b string) (onlyA, onlyB []string) {
	inA, inB := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(a, "\n") {
		inA[l] = true
	}
	for _, l := range strings.Split(b, "\n") {
		inB[l] = true
		if !inA[l] && len(onlyB) < 20 {
			onlyB = append(onlyB, l)
		}
	}
	for _, l := range strings.Split(a, "\n") {
		if !inB[l] && len(onlyA) < 20 {
			onlyA = append(onlyA, l)
		}
	}
	return onlyA, onlyB
}
