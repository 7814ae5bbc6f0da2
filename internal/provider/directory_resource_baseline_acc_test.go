package provider

// Acceptance test: the drift baseline handed from the apply walk's plan to
// its apply in memory (plannedBaselines), not in the planned private state.

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"testing"
)

// TestAccDirectory_baselineNotInPlan: a saved plan of an update carries no
// planned baseline in its private state (only the prior one, which is the
// state's), yet the apply of that plan keeps the baseline: a later plan
// after a source edit and a server edit names only the server's path as
// drift, which needs the per-entry record (without it the two cannot be
// told apart).
func TestAccDirectory_baselineNotInPlan(t *testing.T) {
	srv := accSetup(t)
	src := manyFiles(t, 5)
	dst := t.TempDir()
	r := newTFRunner(t, providerConfig(srv, nil)+rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)), "delete": "true",
	}))
	r.run(0, "apply", "-input=false", "-auto-approve")

	writeFile(t, filepath.Join(src, "f000.txt"), "edited in the source\n")
	r.run(2, "plan", "-input=false", "-detailed-exitcode", "-out=tfplan")
	if private := planPrivate(t, filepath.Join(r.dir, "tfplan")); bytes.Contains(private, []byte(privatePlannedBaseline)) {
		t.Errorf("the saved plan's private state holds %q", privatePlannedBaseline)
	}
	r.run(0, "apply", "-input=false", "tfplan")
	if err := checkTreesEqual(src, dst)(nil); err != nil {
		t.Fatal(err)
	}

	writeFile(t, filepath.Join(src, "f001.txt"), "edited in the source again\n")
	writeFile(t, filepath.Join(dst, "f002.txt"), "edited on the server\n")
	r.run(2, "plan", "-input=false", "-detailed-exitcode", "-out=tfplan")
	var plan struct {
		ResourceChanges []struct {
			Change struct {
				After struct {
					Drift struct {
						Paths []string `json:"paths"`
					} `json:"drift"`
				} `json:"after"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(r.run(0, "show", "-json", "tfplan")), &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.ResourceChanges) != 1 || !slices.Equal(plan.ResourceChanges[0].Change.After.Drift.Paths, []string{"f002.txt"}) {
		t.Errorf("drift after a source edit and a server edit: %+v, want [f002.txt]", plan.ResourceChanges)
	}
}

// planPrivate is the plan file's tfplan entry, where Terraform keeps each
// change's private state (the keys as the framework wrote them).
func planPrivate(t *testing.T, planFile string) []byte {
	t.Helper()
	z, err := zip.OpenReader(planFile)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	for _, f := range z.File {
		if f.Name != "tfplan" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(privateBaseline)) {
			t.Fatalf("%s has no %q: not where the plan keeps private state", planFile, privateBaseline)
		}
		return b
	}
	t.Fatalf("%s has no tfplan entry", planFile)
	return nil
}
