//go:build unix

package provider

// Acceptance test: a saved plan (terraform plan -out) applied after the
// source changed.

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAccDirectory_savedPlanStaleSource: a plan saved with -out, then the
// source edited again before `terraform apply PLANFILE`: the apply fails
// with our own error naming the source and the files that changed, copies
// nothing, and says to plan again — not Terraform's "Provider produced
// inconsistent final plan" (a provider bug in its words). A fresh plan and
// apply then sync as usual.
func TestAccDirectory_savedPlanStaleSource(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  direction
	}{{"push", dirPush}, {"pull", dirPull}, {"local", dirLocal}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := accSetup(t)
			src := smallTree(t)
			dst := t.TempDir()
			source, dest := src+"/", dst+"/"
			switch tc.dir {
			case dirPush:
				dest = remoteDest(srv, dest)
			case dirPull:
				source = remoteDest(srv, source)
			}
			r := newTFRunner(t, providerConfig(srv, nil)+rsyncDir("test", map[string]string{
				"source": hclString(source), "destination": hclString(dest),
			}))
			r.run(0, "apply", "-input=false", "-auto-approve")

			writeFile(t, filepath.Join(src, "css/site.css"), "planned\n")
			r.run(2, "plan", "-input=false", "-detailed-exitcode", "-out=tfplan")
			writeFile(t, filepath.Join(src, "index.html"), "changed after the plan\n")

			got := r.exec(2*time.Minute, "apply", "-input=false", "tfplan")
			if got.code == 0 {
				t.Fatalf("apply of a stale saved plan succeeded:\n%s", got.output())
			}
			out := errorText(got.output())
			if !words("Source changed since the plan … The source " + source + " changed after terraform plan read it … Nothing was copied … Run terraform plan again").MatchString(out) {
				t.Fatalf("apply of a stale saved plan: want our error naming the source, got:\n%s", got.output())
			}
			for _, p := range []string{"css/site.css", "index.html"} {
				b, err := os.ReadFile(filepath.Join(dst, p))
				if err != nil {
					t.Fatal(err)
				}
				if s := string(b); s == "planned\n" || s == "changed after the plan\n" {
					t.Errorf("%s was copied by the refused apply", p)
				}
			}

			r.run(0, "apply", "-input=false", "-auto-approve")
			if err := checkTreesEqual(src, dst)(nil); err != nil {
				t.Error(err)
			}
			r.run(0, "plan", "-input=false", "-detailed-exitcode")
		})
	}
}
