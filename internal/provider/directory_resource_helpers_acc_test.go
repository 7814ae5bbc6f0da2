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
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// Acceptance-test helpers shared by the rsync_directory tests: HCL rendering, plan and state checks, file edits.

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

// preload copies src into dst with the stock rsync, as if deployed earlier.
func preload(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("rsync", "-a", src+"/", dst+"/").CombinedOutput(); err != nil {
		t.Fatalf("rsync -a %s/ %s/: %v\n%s", src, dst, err, out)
	}
}
