package provider

// Acceptance test: two resources whose destinations overlap.

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestAccDirectory_overlapWarns: two rsync_directory resources on one
// host, one copying into a directory inside the other's, with delete =
// true on the outer one: the plan warns, naming both, before the first
// apply (which would delete the inner one's files). Siblings, and
// overlapping trees that neither deletes in, plan without the warning.
func TestAccDirectory_overlapWarns(t *testing.T) {
	srv := accSetup(t)
	outerSrc, innerSrc := smallTree(t), smallTree(t)
	dst := t.TempDir()
	plan := func(outer, inner map[string]string) string {
		r := newTFRunner(t, providerConfig(srv, nil)+rsyncDir("outer", outer)+rsyncDir("inner", inner))
		return r.run(2, "plan", "-input=false", "-detailed-exitcode")
	}
	inner := map[string]string{"source": hclString(innerSrc + "/"), "destination": hclString(remoteDest(srv, filepath.Join(dst, "sub")+"/")), "delete": "true"}
	outer := map[string]string{"source": hclString(outerSrc + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "delete": "true"}
	out := plan(outer, inner)
	warning := words("Warning: Destinations overlap … This resource copies … where another rsync_directory copies … " +
		"With delete = true … apply deletes what the other copied there")
	if !warning.MatchString(out) || !words("which lies inside "+dst+",").MatchString(out) && !words("which contains "+filepath.Join(dst, "sub")+",").MatchString(out) {
		t.Fatalf("no overlap warning for %s inside %s:\n%s", filepath.Join(dst, "sub"), dst, out)
	}

	sibling := map[string]string{"source": hclString(innerSrc + "/"), "destination": hclString(remoteDest(srv, dst+"-other/")), "delete": "true"}
	if out := plan(outer, sibling); strings.Contains(out, "Destinations overlap") {
		t.Errorf("siblings warned as overlapping:\n%s", out)
	}
	noDelete := map[string]string{"source": hclString(outerSrc + "/"), "destination": hclString(remoteDest(srv, dst+"/"))}
	innerKeep := map[string]string{"source": hclString(innerSrc + "/"), "destination": hclString(remoteDest(srv, filepath.Join(dst, "sub")+"/"))}
	if out := plan(noDelete, innerKeep); strings.Contains(out, "Destinations overlap") {
		t.Errorf("overlap without delete warned:\n%s", out)
	}
}
