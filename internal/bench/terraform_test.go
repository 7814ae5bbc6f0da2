package bench

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareContent(t *testing.T) {
	dir := t.TempDir()
	base, err := GenerateWebRoot(t.Context(), filepath.Join(dir, "base"), WebRootSpec{Seed: 9, Files: 40, Size: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, "copy")
	if out, err := exec.Command("cp", "-r", base.Root, cp).CombinedOutput(); err != nil { // no -p: as scp, new modes and times
		t.Fatalf("cp: %v: %s", err, out)
	}
	sample := []string{base.Files[5].Path, base.Big}
	if err := CompareContent(base.Root, cp, sample); err != nil {
		t.Fatal(err)
	}
	if err := CompareTrees(base.Root, cp, nil); err == nil {
		t.Error("CompareTrees should see the times a plain copy changed")
	}
	victim := filepath.Join(cp, filepath.FromSlash(base.Files[5].Path))
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 1
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CompareContent(base.Root, cp, sample); err == nil || !strings.Contains(err.Error(), "content differs") {
		t.Errorf("changed content: %v", err)
	}
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	if err := CompareContent(base.Root, cp, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
}

func TestReplaceWithEdits(t *testing.T) {
	dir := t.TempDir()
	base, err := GenerateWebRoot(t.Context(), filepath.Join(dir, "base"), WebRootSpec{Seed: 3, Files: 200, Size: 4e6})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Mutate(t.Context(), base, filepath.Join(dir, "edited"), MutationSpec{Seed: 4, Fraction: 0.01, BigEdit: 31})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src")
	if err := linkTree(t.Context(), base.Root, src); err != nil {
		t.Fatal(err)
	}
	if err := copyDirTimes(base.Root, src); err != nil {
		t.Fatal(err)
	}
	if err := replaceWithEdits(src, base, m); err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, f := range base.Files {
		all = append(all, f.Path)
	}
	if err := CompareTrees(m.Root, src, all); err != nil {
		t.Fatalf("the source is not the edited tree: %v", err)
	}
}

func TestLastSync(t *testing.T) {
	state := map[string]any{
		"version": 4,
		"resources": []any{map[string]any{
			"type": "rsync_directory", "name": "site",
			"instances": []any{map[string]any{"attributes": map[string]any{
				"last_sync": map[string]any{"files_transferred": 101, "bytes_sent": 382600, "literal_bytes": 91500, "matched_bytes": 102900000},
			}}},
		}},
	}
	b, err := json.Marshal(state)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "terraform.tfstate")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ls, err := lastSync(p)
	if err != nil {
		t.Fatal(err)
	}
	if ls.FilesTransferred != 101 || ls.LiteralBytes != 91500 || ls.MatchedBytes != 102900000 || ls.BytesSent != 382600 {
		t.Errorf("got %+v", ls)
	}
}

// TestTerraformConfigs checks that both configurations are canonical
// HCL (terraform fmt). It uses the terraform of the acceptance tests
// (make test sets TF_ACC_TERRAFORM_PATH, and then a missing one fails);
// outside them, one on PATH, or it skips.
func TestTerraformConfigs(t *testing.T) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		var err error
		if tf, err = exec.LookPath("terraform"); err != nil {
			if os.Getenv("TF_ACC") != "" {
				t.Fatal("TF_ACC is set but no terraform: set TF_ACC_TERRAFORM_PATH or put terraform on PATH")
			}
			t.Skip("terraform not installed")
		}
	}
	for name, cfg := range map[string]string{"ours": ourConfig, "file": fileConfig, "fleet": fleetConfig} {
		cmd := exec.Command(tf, "fmt", "-check", "-diff", "-")
		cmd.Stdin = strings.NewReader(cfg)
		cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s config: terraform fmt: %v\n%s", name, err, out)
		}
	}
}
