package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// trees are the source trees the selected scenarios need.
type trees struct {
	web                 *Tree     // the web root
	edited              *Mutation // the web root with the 1% edit
	drifted             *Drifted  // a destination that drifted from the web root
	hashBig             *Tree     // the larger tree of the hash-1g scenario
	tiny                *Tree     // the tiny-files tree
	scale               []*Tree   // the scale scenarios' tiny-files trees, smallest first
	fleet               *Tree     // the fleet scenarios' source (tiny files)
	deltaBase, deltaNew string    // one big file, before and after the edit
}

// prepareTrees generates (or reuses, see cached) the trees under dir.
func prepareTrees(ctx context.Context, cfg Config, dir string, selected func(string) bool, logf func(string, ...any)) (*trees, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tr := &trees{}
	webSpec := WebRootSpec{Seed: cfg.Seed, Files: cfg.Files, Size: cfg.Size, BigSize: cfg.BigSize}
	mutSpec := MutationSpec{Seed: cfg.Seed + 1, Fraction: cfg.EditFrac, BigEdit: cfg.BigEdit}
	needEdit := selected("edit-1pct") || selected("wan-edit-1pct") || selected("delta-31b") ||
		selected("tf-initial") || selected("tf-edit-1pct") || selected("wan-tf-initial") || selected("wan-tf-edit-1pct") ||
		selected("tf-plan-initial") || selected("tf-plan-1pct")
	needDrift := selected("drift-changed")
	needWeb := needEdit || needDrift || selected("initial") || selected("noop") || selected("wan-initial") ||
		selected("drift") || selected("manifest") || selected("hash")
	var err error
	if needWeb {
		logf("web root: %d files, %s (big file %s)", cfg.Files, FormatBytes(cfg.Size), FormatBytes(cfg.BigSize))
		tr.web, err = cached(filepath.Join(dir, "web"), webSpec, func(root string) (*Tree, error) {
			return GenerateWebRoot(ctx, root, webSpec)
		})
		if err != nil {
			return nil, err
		}
	}
	if needEdit {
		logf("edited copy: %s of the files + %d bytes in the big file", percent(cfg.EditFrac), cfg.BigEdit)
		key := struct {
			Web WebRootSpec
			Mut MutationSpec
		}{webSpec, mutSpec}
		tr.edited, err = cached(filepath.Join(dir, "web-edited"), key, func(root string) (*Mutation, error) {
			return Mutate(ctx, tr.web, root, mutSpec)
		})
		if err != nil {
			return nil, err
		}
	}
	if needDrift {
		spec := DriftSpec{Seed: cfg.Seed + 2, ContentEdits: 3}
		logf("drifted copy: %d content edits (size and mtime kept), a permission change, a missing file, extra files", spec.ContentEdits)
		key := struct {
			Web   WebRootSpec
			Drift DriftSpec
		}{webSpec, spec}
		tr.drifted, err = cached(filepath.Join(dir, "web-drifted"), key, func(root string) (*Drifted, error) {
			return Drift(ctx, tr.web, root, spec)
		})
		if err != nil {
			return nil, err
		}
	}
	if selected("hash-1g") && cfg.HashSize > 0 {
		spec := WebRootSpec{Seed: cfg.Seed + 3, Files: cfg.HashFiles, Size: cfg.HashSize}
		logf("hash tree: %d files, %s", spec.Files, FormatBytes(spec.Size))
		tr.hashBig, err = cached(filepath.Join(dir, "hash-big"), spec, func(root string) (*Tree, error) {
			return GenerateWebRoot(ctx, root, spec)
		})
		if err != nil {
			return nil, err
		}
	}
	if selected(ScaleScenario) {
		for _, n := range cfg.ScaleFiles {
			logf("scale tree: %d tiny files", n)
			key := struct{ Seed, N uint64 }{cfg.Seed + 5, uint64(n)}
			t, err := cached(filepath.Join(dir, "scale-"+shortCount(n)), key, func(root string) (*Tree, error) {
				return GenerateTinyTree(ctx, root, cfg.Seed+5, n)
			})
			if err != nil {
				return nil, err
			}
			tr.scale = append(tr.scale, t)
		}
	}
	if selected("tiny-initial") {
		logf("tiny tree: %d files", cfg.TinyFiles)
		key := struct{ Seed, N uint64 }{cfg.Seed, uint64(cfg.TinyFiles)}
		tr.tiny, err = cached(filepath.Join(dir, "tiny"), key, func(root string) (*Tree, error) {
			return GenerateTinyTree(ctx, root, cfg.Seed, cfg.TinyFiles)
		})
		if err != nil {
			return nil, err
		}
	}
	if selectedFleet(selected) {
		if cfg.FleetFiles < 1 || cfg.FleetDests < 1 {
			return nil, fmt.Errorf("the fleet scenarios need at least one file and one destination (-fleet-files %d, -fleet-dests %d)", cfg.FleetFiles, cfg.FleetDests)
		}
		logf("fleet source: %d tiny files", cfg.FleetFiles)
		key := struct{ Seed, N uint64 }{cfg.Seed + 4, uint64(cfg.FleetFiles)}
		tr.fleet, err = cached(filepath.Join(dir, "fleet"), key, func(root string) (*Tree, error) {
			return GenerateTinyTree(ctx, root, cfg.Seed+4, cfg.FleetFiles)
		})
		if err != nil {
			return nil, err
		}
	}
	if selected("delta-31b") {
		tr.deltaBase, tr.deltaNew = filepath.Join(dir, "delta-base"), filepath.Join(dir, "delta-new")
		if err := singleFileTree(tr.deltaBase, filepath.Join(tr.web.Root, tr.web.Big)); err != nil {
			return nil, err
		}
		if err := singleFileTree(tr.deltaNew, filepath.Join(tr.edited.Root, tr.web.Big)); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

// singleFileTree makes dir hold exactly one hard link to file, with a
// fixed directory time.
func singleFileTree(dir, file string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Link(file, filepath.Join(dir, filepath.Base(file))); err != nil {
		return fmt.Errorf("delta tree: %w", err)
	}
	return os.Chtimes(dir, epoch, epoch)
}

// contentSample picks files whose bytes are compared after an initial
// push: the large binaries and every 97th small file.
func contentSample(t *Tree) []string {
	var list []string
	for i, f := range t.Files {
		if f.Large || i%97 == 0 {
			list = append(list, f.Path)
		}
	}
	return list
}

// generatorVersion changes whenever the generators would write different
// trees for the same spec, so that cached trees are rebuilt.
const generatorVersion = 1

// cached returns the value stored beside root for key, or builds root
// afresh with build and stores the value. Trees are large; reusing them
// across runs of the suite (with -work) saves minutes.
func cached[T any](root string, key any, build func(root string) (T, error)) (T, error) {
	var zero T
	manifest := root + ".manifest.json"
	type stored struct {
		Key   json.RawMessage
		Value T
	}
	keyJSON, err := json.Marshal(struct {
		Generator int
		Key       any
	}{generatorVersion, key})
	if err != nil {
		return zero, err
	}
	if b, err := os.ReadFile(manifest); err == nil {
		var st stored
		if json.Unmarshal(b, &st) == nil && bytes.Equal(st.Key, keyJSON) {
			if _, err := os.Stat(root); err == nil {
				return st.Value, nil
			}
		}
	}
	_ = os.Remove(manifest)
	if err := os.RemoveAll(root); err != nil {
		return zero, err
	}
	v, err := build(root)
	if err != nil {
		return zero, err
	}
	b, err := json.Marshal(stored{Key: keyJSON, Value: v})
	if err != nil {
		return zero, err
	}
	if err := os.WriteFile(manifest, b, 0o600); err != nil {
		return zero, err
	}
	return v, nil
}
