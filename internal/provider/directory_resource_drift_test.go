package provider

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

func file(name, digest string) tree.Item {
	return tree.Item{Name: name, Kind: tree.File, Perm: 0o644, Size: int64(len(digest))}.WithDigest([]byte(digest))
}

func manifest(items ...tree.Item) *tree.Manifest {
	return &tree.Manifest{Mode: tree.Content, Items: append([]tree.Item{{Name: ".", Kind: tree.Dir, Perm: 0o755}}, items...)}
}

// TestAttributeDriftByBaseline: with the last apply's fingerprints, each
// listed path is drift exactly when the destination's entry is not the one
// the apply left (or, missing there, the source's entry still is).
func TestAttributeDriftByBaseline(t *testing.T) {
	applied := manifest(file("a", "1"), file("b", "1"), file("c", "1"), file("d", "1"), file("e", "1"))
	b, ok := decodeBaseline(newBaseline(applied, applied.Hash(), false).encode())
	if !ok || !b.hasPrints() {
		t.Fatalf("baseline round trip: ok=%v prints=%v", ok, b.hasPrints())
	}
	// Source: a edited, e removed, f added. Destination: b edited on the
	// server, c removed there, g added there.
	src := manifest(file("a", "2"), file("b", "1"), file("c", "1"), file("d", "1"), file("f", "1"))
	dst := manifest(file("a", "1"), file("b", "9"), file("d", "1"), file("e", "1"), file("g", "1"))
	diff := tree.Diff(src, dst, true, nil)
	got := attributeDrift(driftInput{Diff: diff, Src: src, SrcHash: src.Hash(), Dst: dst, Baseline: b, HasBaseline: true,
		PriorSourceHash: types.StringValue(applied.Hash())})
	slices.Sort(got.Paths)
	want := []string{"b", "c", "g"}
	if !slices.Equal(got.Paths, want) || got.Unattributed {
		t.Fatalf("drift = %v (unattributed %v), want %v; diff %+v", got.Paths, got.Unattributed, want, diff)
	}
}

// TestAttributeDriftLooksUpListedPaths: attributing a one-file diff of a
// 5,000-entry tree allocates for the listed path, not an index of every
// entry of both trees (which a fleet's plan made once per resource and
// walk, issue 15).
func TestAttributeDriftLooksUpListedPaths(t *testing.T) {
	items := []tree.Item{{Name: ".", Kind: tree.Dir, Perm: 0o755}}
	for i := range 5000 {
		items = append(items, file(fmt.Sprintf("d%02d/f%04d", i/100, i), fmt.Sprint(i)))
	}
	applied := &tree.Manifest{Mode: tree.Content, Items: items}
	b, ok := decodeBaseline(newBaseline(applied, applied.Hash(), false).encode())
	if !ok {
		t.Fatal("baseline round trip")
	}
	dst := &tree.Manifest{Mode: tree.Content, Items: slices.Clone(items)}
	dst.Items[42] = file(dst.Items[42].Name, "edited on the server")
	diff := tree.Diff(applied, dst, true, nil)
	in := driftInput{Diff: diff, Src: applied, SrcHash: applied.Hash(), Dst: dst, Baseline: b, HasBaseline: true,
		PriorSourceHash: types.StringValue("xxh128:other")}
	var got driftResult
	allocs := testing.AllocsPerRun(10, func() { got = attributeDrift(in) })
	if !slices.Equal(got.Paths, []string{items[42].Name}) {
		t.Fatalf("drift = %+v, want [%s]", got, items[42].Name)
	}
	if allocs > 10 {
		t.Errorf("attributing a one-file diff of %d entries made %.0f allocations", len(items), allocs)
	}
}

// TestFingerprintPinned: fingerprints are what baselines in state hold, so
// they may never change: these are the values the provider has written
// since baselines were introduced; and fingerprinting a 5,000-entry tree
// allocates for the set, not for each entry (5,024 allocations before).
func TestFingerprintPinned(t *testing.T) {
	link := tree.Item{Name: "a/link", Kind: tree.Symlink}
	link.SetTarget("../x")
	dev := tree.Item{Name: "dev", Kind: tree.CharDevice, Perm: 0o600}
	dev.SetRdev(4<<32 | 64)
	for _, tc := range []struct {
		it                tree.Item
		content, metadata uint64
	}{
		{file("a/b.txt", "0123456789abcdef"), 0x88063fd0ae1e6e35, 0x168a3fac0999c774},
		{tree.Item{Name: "dir", Kind: tree.Dir, Perm: 0o755}, 0xd20300d239d5cdc9, 0xd20300d239d5cdc9},
		{link, 0x6fc27009a3afabe2, 0x6fc27009a3afabe2},
		{dev, 0xdaf43c574a0eabe8, 0xdaf43c574a0eabe8},
		{tree.Item{Name: "m", Kind: tree.File, Perm: 0o644, Size: 7, ModTime: 1700000000}, 0x2ba3cb385e3b8d20, 0xa467026d02e32364},
	} {
		if got, got2 := fingerprint(&tc.it, false), fingerprint(&tc.it, true); got != tc.content || got2 != tc.metadata {
			t.Errorf("%s: fingerprints %#x, %#x; want %#x, %#x", tc.it.Name, got, got2, tc.content, tc.metadata)
		}
	}
	items := []tree.Item{{Name: ".", Kind: tree.Dir, Perm: 0o755}}
	for i := range 5000 {
		items = append(items, file(fmt.Sprintf("t%03d/l%03d/f%06d.txt", i/2500, i/100, i), fmt.Sprintf("%016d", i)))
	}
	m := &tree.Manifest{Mode: tree.Content, Items: items}
	if allocs := testing.AllocsPerRun(3, func() { newBaseline(m, "x", false) }); allocs > 100 {
		t.Errorf("the baseline of %d entries made %.0f allocations", len(items), allocs)
	}
}

// TestAttributeDriftByHash: without per-entry fingerprints, an unchanged
// source makes every path drift, an unchanged destination none, and both
// changed cannot be told apart.
func TestAttributeDriftByHash(t *testing.T) {
	applied := manifest(file("a", "1"), file("b", "1"))
	edited := manifest(file("a", "2"), file("b", "1"))
	serverEdited := manifest(file("a", "1"), file("b", "9"))
	big := baseline{Hash: applied.Hash(), Dest: applied.Hash()} // a tree too large for prints
	prior := types.StringValue(applied.Hash())

	onlyServer := attributeDrift(driftInput{Diff: tree.Diff(applied, serverEdited, true, nil), Src: applied, SrcHash: applied.Hash(), Dst: serverEdited,
		Baseline: big, HasBaseline: true, PriorSourceHash: prior})
	if !slices.Equal(onlyServer.Paths, []string{"b"}) {
		t.Errorf("source unchanged: drift = %v, want [b]", onlyServer.Paths)
	}
	onlyLocal := attributeDrift(driftInput{Diff: tree.Diff(edited, applied, true, nil), Src: edited, SrcHash: edited.Hash(), Dst: applied,
		Baseline: big, HasBaseline: true, PriorSourceHash: prior})
	if len(onlyLocal.Paths) != 0 || onlyLocal.Unattributed {
		t.Errorf("destination unchanged: drift = %+v, want none", onlyLocal)
	}
	both := attributeDrift(driftInput{Diff: tree.Diff(edited, serverEdited, true, nil), Src: edited, SrcHash: edited.Hash(), Dst: serverEdited,
		Baseline: big, HasBaseline: true, PriorSourceHash: prior})
	if !both.Unattributed || len(both.Paths) != 0 {
		t.Errorf("both changed: drift = %+v, want unattributed", both)
	}
	imported := attributeDrift(driftInput{Diff: tree.Diff(edited, serverEdited, true, nil), Src: edited, SrcHash: edited.Hash(), Dst: serverEdited,
		PriorSourceHash: types.StringNull()})
	if imported.Unattributed || len(imported.Paths) != 0 {
		t.Errorf("after import: drift = %+v, want none (nothing to drift from)", imported)
	}
}

// TestAttributeDriftOtherDigest: fingerprints made with another digest
// than the destination's listing (a create against a protocol 29 server,
// planned with the default digest; refresh lists md4) are not compared;
// the hashes decide: a destination still as the apply recorded it has no
// drift, a source unchanged since the apply makes the listed paths drift.
func TestAttributeDriftOtherDigest(t *testing.T) {
	withAlgo := func(m *tree.Manifest, a csum.Algo) *tree.Manifest { m.Algo = a; return m }
	planned := withAlgo(manifest(file("a", "1"), file("b", "1")), csum.XXH128)
	b, ok := decodeBaseline(newBaseline(planned, planned.Hash(), false).encode())
	applied := withAlgo(manifest(file("a", "4"), file("b", "4")), csum.MD4) // the same files, md4 sums
	b.Dest = applied.Hash()
	if !ok || b.comparable(applied) {
		t.Fatalf("a %s baseline compared with an md4 listing (ok=%v)", planned.Algo.Name(), ok)
	}
	edited := withAlgo(manifest(file("a", "5"), file("b", "4")), csum.MD4)
	local := attributeDrift(driftInput{Diff: tree.Diff(edited, applied, true, nil), Src: edited, SrcHash: edited.Hash(), Dst: applied,
		Baseline: b, HasBaseline: true, PriorSourceHash: types.StringValue(planned.Hash())})
	if len(local.Paths) != 0 || local.Unattributed {
		t.Errorf("a local edit after the create: drift = %+v, want none", local)
	}
	serverEdited := withAlgo(manifest(file("a", "4"), file("b", "9")), csum.MD4)
	server := attributeDrift(driftInput{Diff: tree.Diff(applied, serverEdited, true, nil), Src: applied, SrcHash: applied.Hash(), Dst: serverEdited,
		Baseline: b, HasBaseline: true, PriorSourceHash: types.StringValue(applied.Hash())})
	if !slices.Equal(server.Paths, []string{"b"}) {
		t.Errorf("a server edit, source unchanged: drift = %+v, want [b]", server)
	}
}

// TestDecodeBaselineRejectsDamage: private state that does not decode is no
// baseline, never a panic or a huge allocation.
func TestDecodeBaselineRejectsDamage(t *testing.T) {
	for _, in := range []string{"", "{", `{"hash":""}`, `{"hash":"x","prints":"!!"}`, `{"hash":"x","prints":"AAAA"}`,
		`{"hash":"x","prints":"AgAAAAAAAAABAAAAAAAAAA=="}`, `{"hash":"x","set":"!!"}`, `{"hash":"x","set":""}` + "x",
		// Bloom filters: no size, a size not in words, no hash function,
		// words missing, a size past what baselineMaxItems entries make.
		`{"hash":"x","set":"AA=="}`, `{"hash":"x","set":"AQEAAAAAAAAAAA=="}`, `{"hash":"x","set":"QAAAAAAAAAAAAA=="}`,
		`{"hash":"x","set":"QAEAAAAA"}`, `{"hash":"x","set":"gICAgIAgAQ=="}`,
		`{"hash":"x","codes":"!!"}`, `{"hash":"x","codes":"AQE="}`} {
		if _, ok := decodeBaseline([]byte(in)); ok {
			t.Errorf("decodeBaseline(%q) accepted it", in)
		}
	}
	big := make([]tree.Item, baselineMaxItems+1)
	for i := range big {
		big[i] = file(string(rune('a'+i%26))+string(rune(i)), "x")
	}
	if b := newBaseline(&tree.Manifest{Mode: tree.Content, Items: big}, "x", false); b.Set != "" || b.Prints != "" {
		t.Errorf("a tree of %d entries kept %d bytes of fingerprints", len(big), len(b.Set)+len(b.Prints))
	}
}

// TestBaselineSet: every entry of the largest tree a baseline keeps, and
// of a fleet's 5,000-file tree, is in the set read back from private
// state, at under 3 bytes an entry (the Bloom filter it replaces took
// 3.85: Terraform writes it into the state file resources × resources
// times an apply); other entries pass for them about as rarely as
// printSetFalseRate says.
func TestBaselineSet(t *testing.T) {
	for _, n := range []int{baselineMaxItems, 5050} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { testBaselineSet(t, n) })
	}
}

func testBaselineSet(t *testing.T, n int) {
	items := make([]tree.Item, n)
	for i := range items {
		items[i] = file(fmt.Sprintf("d%03d/f%04d", i/100, i), fmt.Sprint(i))
	}
	m := &tree.Manifest{Mode: tree.Content, Items: items}
	data := newBaseline(m, "x", false).encode()
	if perEntry := float64(len(data)) / float64(len(items)); perEntry > 3.0 {
		t.Errorf("the baseline of %d entries is %d bytes, %.2f an entry", len(items), len(data), perEntry)
	}
	b, ok := decodeBaseline(data)
	if !ok || b.codes == nil {
		t.Fatalf("decode: ok=%v", ok)
	}
	for i := range items {
		if !b.has(&items[i]) {
			t.Fatalf("%s is not in the set", items[i].Name)
		}
	}
	const probes = 200000
	passed := 0
	for i := range probes {
		other := file(fmt.Sprintf("elsewhere/%d", i), "y")
		if b.has(&other) {
			passed++
		}
	}
	if limit := int(math.Ceil(10 * probes * printSetFalseRate)); passed > limit {
		t.Errorf("%d of %d other entries passed for applied ones (limit %d)", passed, probes, limit)
	}
}

// TestBaselineOldSet: a baseline a provider of session 8 wrote (a Bloom
// filter in Set) is still read and attributes drift as before.
func TestBaselineOldSet(t *testing.T) {
	applied := manifest(file("a", "1"), file("b", "1"))
	m, k := printSetSize(len(applied.Items))
	f := bloom.New(m, k)
	for i := range applied.Items {
		f.Add(binary.LittleEndian.AppendUint64(nil, fingerprint(&applied.Items[i], false)))
	}
	raw := binary.AppendUvarint(nil, uint64(f.Cap()))
	raw = append(raw, byte(f.K()))
	for _, w := range f.BitSet().Words() {
		raw = binary.LittleEndian.AppendUint64(raw, w)
	}
	old := fmt.Sprintf(`{"hash":%q,"set":%q}`, applied.Hash(), base64.StdEncoding.EncodeToString(raw))
	b, ok := decodeBaseline([]byte(old))
	if !ok || b.set == nil || b.codes != nil {
		t.Fatalf("old baseline: ok=%v", ok)
	}
	edited := file("b", "9")
	if !b.has(&applied.Items[1]) || b.has(&edited) {
		t.Errorf("old set: a kept %v, an edited b kept %v", b.has(&applied.Items[1]), b.has(&edited))
	}
}

// TestCodeSetRejectsDamage: codes that do not decode to what encode makes
// are refused: counts past the limit or the data, codes out of order or
// range, bits beyond the codes.
func TestCodeSetRejectsDamage(t *testing.T) {
	good := newCodeSet([]uint64{1 << 60, 3 << 60, 5 << 60}).encode()
	if s, err := decodeCodeSet(good); err != nil || len(s.codes) != 3 {
		t.Fatalf("good codes: %v, %d codes", err, len(s.codes))
	}
	over := binary.AppendUvarint(nil, baselineMaxItems+1)
	over = append(over, 0)
	for name, raw := range map[string][]byte{
		"empty":           nil,
		"too many":        over,
		"more codes":      {2, 3, 0, 0, 0, 0},
		"cut short":       good[:len(good)-1],
		"extra byte":      append(slices.Clone(good), 0),
		"padding set":     append(slices.Clone(good[:len(good)-1]), good[len(good)-1]|1),
		"same code twice": {2, 2, 0x00, 0x80, 0x00, 0x00, 0x00},
		"out of range":    {1, 1, 0xc0, 0x00, 0x00},
	} {
		if _, err := decodeCodeSet(raw); err == nil {
			t.Errorf("%s: decodeCodeSet(%x) accepted it", name, raw)
		}
	}
}

// TestBaselineOldPrints: a baseline an older provider wrote (8-byte sorted
// fingerprints) is still read and attributes drift as before.
func TestBaselineOldPrints(t *testing.T) {
	applied := manifest(file("a", "1"), file("b", "1"))
	prints := []uint64{}
	for i := range applied.Items {
		prints = append(prints, fingerprint(&applied.Items[i], false))
	}
	slices.Sort(prints)
	var raw []byte
	for _, p := range prints {
		raw = binary.LittleEndian.AppendUint64(raw, p)
	}
	old := fmt.Sprintf(`{"hash":%q,"prints":%q}`, applied.Hash(), base64.StdEncoding.EncodeToString(raw))
	b, ok := decodeBaseline([]byte(old))
	if !ok || b.set != nil || !b.hasPrints() {
		t.Fatalf("old baseline: ok=%v", ok)
	}
	edited := file("b", "9")
	if !b.has(&applied.Items[1]) || b.has(&edited) {
		t.Errorf("old prints: a kept %v, an edited b kept %v", b.has(&applied.Items[1]), b.has(&edited))
	}
}
