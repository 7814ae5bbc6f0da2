package provider

import (
	"fmt"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 999: "999 B", 1000: "1.0 kB", 1414: "1.4 kB", 1 << 20: "1.0 MB", 20_000_000: "20.0 MB",
		999_960: "1.0 MB", 2_000_000_000: "2.0 GB", 5e15: "5.0 PB", 5e18: "5000.0 PB",
	} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestPlanEstimateWork: new files and files replacing other kinds count
// whole; a file the quick check would skip (only its mode changed) is not
// sent; a changed file is compared with the server's copy; with checksum
// comparison a touched but identical file is not sent.
func TestPlanEstimateWork(t *testing.T) {
	file := func(name string, size, mtime int64, digest string) tree.Item {
		return tree.Item{Name: name, Kind: tree.File, Perm: 0o644, Size: size, ModTime: mtime}.WithDigest([]byte(digest))
	}
	src := &tree.Manifest{Items: []tree.Item{
		{Name: ".", Kind: tree.Dir},
		file("big", 5000, 2, "B2"), file("chmod", 10, 1, "C"), file("new", 7, 1, "N"), file("wasdir", 9, 1, "W"),
		file("touched", 4, 2, "T"), file("emptied", 0, 2, ""), file("fromempty", 6, 2, "F"),
	}}
	src.Items[2].Perm = 0o600
	dst := &tree.Manifest{Items: []tree.Item{
		{Name: ".", Kind: tree.Dir},
		file("big", 5000, 1, "B1"), file("chmod", 10, 1, "C"), {Name: "wasdir", Kind: tree.Dir},
		file("touched", 4, 1, "T"), file("emptied", 3, 1, "E"), file("fromempty", 0, 1, ""),
	}}
	diff := tree.Diff(src, dst, false, nil)
	w := planEstimateWork(diff, tree.Pair(src, dst), false)
	if len(w.Compare) != 1 || w.Compare[0] != "big" || w.CompareBytes != 5000 {
		t.Errorf("compared %v (%d bytes), want big (5000)", w.Compare, w.CompareBytes)
	}
	for name, size := range map[string]int64{"new": 7, "wasdir": 9, "fromempty": 6} {
		if f, ok := w.Whole[name]; !ok || f.Literal != size || !f.New {
			t.Errorf("%s: %+v, want all %d bytes, new", name, f, size)
		}
	}
	if f, ok := w.Whole["emptied"]; !ok || f.Literal != 0 {
		t.Errorf("emptied: %+v, want nothing to send", f)
	}
	if _, ok := w.Whole["chmod"]; ok {
		t.Error("a mode change is counted as data")
	}
	if _, ok := w.Whole["touched"]; ok {
		t.Error("touched, same content: listed although the diff by content does not list it")
	}
	// By size and time (drift_detection = "metadata"): the touched file is
	// listed and sent (the quick check sees its time), unless the apply
	// compares by checksum and the digests say it is the same.
	for i := range src.Items {
		src.Items[i].SetDigest(nil)
	}
	for i := range dst.Items {
		dst.Items[i].SetDigest(nil)
	}
	src.Mode, dst.Mode = tree.Metadata, tree.Metadata
	diff = tree.Diff(src, dst, false, nil)
	w = planEstimateWork(diff, tree.Pair(src, dst), true)
	if len(w.Compare) != 2 || w.Compare[0] != "big" || w.Compare[1] != "touched" {
		t.Errorf("by metadata compared %v, want big and touched", w.Compare)
	}
	sameDigest, touched := file("x", 4, 2, "T"), file("x", 4, 1, "T")
	if dataSent(&sameDigest, &touched, true) {
		t.Error("by checksum, a touched file with the same content is sent")
	}
}

func TestPendingEstimateValues(t *testing.T) {
	c := tree.Changes{Create: []string{"d/", "d/new"}, Update: []string{"big", "drifted"}}
	est := &transferEstimate{Transfer: 1414 + 7 + 20, Matched: 1_998_586, Files: map[string]fileAmount{
		"d/new":   {Literal: 7, Size: 7, New: true},
		"big":     {Literal: 1414, Size: 2_000_000},
		"drifted": {Literal: 20, Size: 20, Drift: true},
	}}
	attrs := pendingValue(pendingOf(c), est).Attributes()
	if got := attrs["transfer_bytes"].(types.Int64).ValueInt64(); got != 1441 {
		t.Errorf("transfer_bytes %d", got)
	}
	want := map[string]string{"d/new": "7 B, all of it (new)", "big": "1.4 kB of 2.0 MB", "drifted": "20 B of 20 B (changed on the server)"}
	m := attrs["bytes"].(types.Map).Elements()
	if len(m) != len(want) {
		t.Errorf("bytes %v", m)
	}
	for k, v := range want {
		if got, ok := m[k].(types.String); !ok || got.ValueString() != v {
			t.Errorf("bytes[%q] = %v, want %q", k, m[k], v)
		}
	}
	// Not made: null while something is pending, zero when nothing is.
	if !pendingValue(pendingOf(c), nil).Attributes()["transfer_bytes"].IsNull() {
		t.Error("transfer_bytes is not null without an estimate")
	}
	empty := pendingValue(pendingOf(tree.Changes{}), nil).Attributes()
	if v := empty["transfer_bytes"].(types.Int64); v.IsNull() || v.ValueInt64() != 0 || len(empty["bytes"].(types.Map).Elements()) != 0 {
		t.Errorf("nothing pending: %v, %v", empty["transfer_bytes"], empty["bytes"])
	}
}

// TestEstimateStore: the estimate kept beside a listing comes back only
// for the same listing, destination key and source; "not made" is kept
// too (the re-plan must not make one the approved plan did not); remove
// takes it with the listing.
func TestEstimateStore(t *testing.T) {
	s := &listingStore{dir: t.TempDir()}
	ref := []byte(`{"token":"0123456789abcdef-0123456789abcdef0123456789abcdef","sum":"x"}`)
	other := []byte(`{"token":"0123456789abcdef-ffffffffffffffffffffffffffffffff","sum":"x"}`)
	est := &transferEstimate{Transfer: 1414, Matched: 1_998_586, Files: map[string]fileAmount{"big": {Literal: 1414, Size: 2_000_000}}}
	s.saveEstimate(t.Context(), ref, "key", "xxh128:aa", est)
	got, ok := s.loadEstimate(ref, "key", "xxh128:aa")
	if !ok || got == nil || got.Transfer != 1414 || got.Files["big"].Size != 2_000_000 {
		t.Fatalf("loaded %+v, %v", got, ok)
	}
	for _, c := range []struct {
		ref         []byte
		key, source string
	}{{other, "key", "xxh128:aa"}, {ref, "other", "xxh128:aa"}, {ref, "key", "xxh128:bb"}, {nil, "key", "xxh128:aa"}, {[]byte(`{"token":"../x"}`), "key", "xxh128:aa"}} {
		if _, ok := s.loadEstimate(c.ref, c.key, c.source); ok {
			t.Errorf("loaded an estimate for %s %s %s", c.ref, c.key, c.source)
		}
	}
	s.saveEstimate(t.Context(), other, "key", "xxh128:aa", nil)
	if got, ok := s.loadEstimate(other, "key", "xxh128:aa"); !ok || got != nil {
		t.Errorf("a plan without an estimate: loaded %+v, %v", got, ok)
	}
	s.remove(ref)
	if _, ok := s.loadEstimate(ref, "key", "xxh128:aa"); ok {
		t.Error("remove left the estimate")
	}
}

// TestPlanEstimateWorkKeepsSums: many new files are summed, with amounts
// kept only for the paths pending shows (the first pendingCap creates),
// whether the diff is DiffWith's (one pass) or a list in another order
// (matched by name).
func TestPlanEstimateWorkKeepsSums(t *testing.T) {
	src := &tree.Manifest{Items: []tree.Item{{Name: ".", Kind: tree.Dir}}}
	var total int64
	for i := range 250 {
		size := int64(i + 1)
		total += size
		src.Items = append(src.Items, tree.Item{Name: fmt.Sprintf("f%03d", i), Kind: tree.File, Size: size})
	}
	dst := &tree.Manifest{Items: []tree.Item{{Name: ".", Kind: tree.Dir}}}
	diff := tree.Diff(src, dst, false, nil)
	reversed := tree.Changes{Create: slices.Clone(diff.Create)}
	slices.Reverse(reversed.Create)
	for name, d := range map[string]tree.Changes{"as diffed": diff, "reversed": reversed} {
		w := planEstimateWork(d, tree.Pair(src, dst), false)
		if w.WholeFiles != 250 || w.WholeBytes != total || len(w.Whole) != pendingCap || len(w.Compare) != 0 {
			t.Errorf("%s: %d files, %d bytes, %d amounts kept; want 250, %d, %d", name, w.WholeFiles, w.WholeBytes, len(w.Whole), total, pendingCap)
		}
		for _, p := range d.Create[:pendingCap] {
			if _, ok := w.Whole[p]; !ok {
				t.Errorf("%s: no amount for %s, which pending shows", name, p)
			}
		}
	}
}
