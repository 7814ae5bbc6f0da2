package provider

// Drift told apart from local change: which of the paths a plan lists
// changed on the destination since the last apply, and which in the
// source. Pure decisions and their encoding; ModifyPlan gathers the inputs.

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/zeebo/xxh3"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// privateBaseline is the private state key of the baseline: what the last
// apply left in the destination, as fingerprints (baseline below). The
// plan that syncs writes it; Terraform hands it to the apply with the plan
// and keeps it with the state.
const privateBaseline = "baseline"

// privatePlannedBaseline is where a plan that synced handed its apply
// the baseline before plannedBaselines: Update still clears the key.
const privatePlannedBaseline = "planned_baseline"

// baselineMaxItems bounds the baseline kept in private state (codeSet:
// about 2.2 bytes an entry, 5.2 in the state file once we, the framework
// and Terraform have each base64-encoded it). A larger tree is told apart
// by its hashes only (attributeByHash).
const baselineMaxItems = 10000

// printSetFalseRate is how often an entry the last apply did not leave
// passes for one it left (the set's false positives, codeBits): such an
// entry's path is then not named as drift, though still synced.
const printSetFalseRate = 1.0 / (1 << codeBits)

var driftAttrTypes = map[string]attr.Type{
	"paths": types.ListType{ElemType: types.StringType},
	"count": types.Int64Type,
}

// baseline records what an apply leaves in the destination: the hash of
// the planned tree and, for trees up to baselineMaxItems entries, the set
// of its entries' fingerprints, so that a later plan can tell per path
// whether the destination's entry is still the one the apply wrote.
type baseline struct {
	// Hash is the planned source's hash: what the destination holds after
	// the apply, up to the entries the sync leaves alone.
	Hash string `json:"hash"`
	// Dest is the destination_hash the apply recorded (with delete =
	// false the destination also holds what the source does not).
	Dest string `json:"dest,omitempty"`
	// Metadata is set when the fingerprints are of sizes and times
	// (drift_detection = "metadata") rather than contents.
	Metadata bool `json:"metadata,omitempty"`
	// Imported marks the record of an import: no apply has written the
	// destination yet, so nothing there counts as drift.
	Imported bool `json:"imported,omitempty"`
	// Codes holds the fingerprints as a Golomb-coded set (codeSet),
	// base64; empty when the tree was too large to keep them.
	Codes string `json:"codes,omitempty"`
	// Set is how providers before Codes kept them, still read: a Bloom
	// filter (decodePrintSet), base64, a third larger at the same false
	// positive rate.
	Set string `json:"set,omitempty"`
	// Prints is how providers before Set kept them, still read: sorted,
	// base64 of 8 bytes each. Every resource of a configuration carries
	// its baseline in the state file, which Terraform encodes whole after
	// each resource it applies: at 8 bytes a file (19 once encoded) that
	// was most of a 20-host fleet's apply (issue 15).
	Prints string `json:"prints,omitempty"`

	codes  *codeSet
	set    *bloom.BloomFilter
	prints []uint64
}

// fingerprint identifies an entry as sameItem compares it: a destination
// entry with the fingerprint of the planned source's entry is the one the
// apply wrote.
func fingerprint(it *tree.Item, metadata bool) uint64 {
	// On the stack for most names: a baseline fingerprints every entry of
	// the tree, in each walk's plan of each resource.
	var buf [256]byte
	b := append(buf[:0], byte(it.Kind))
	b = binary.LittleEndian.AppendUint32(b, it.Perm)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(it.Name)))
	b = append(b, it.Name...)
	switch {
	case it.Kind == tree.Symlink:
		b = append(b, it.Target()...)
	case it.Kind == tree.File && metadata:
		b = binary.LittleEndian.AppendUint64(b, uint64(it.Size))
		b = binary.LittleEndian.AppendUint64(b, uint64(it.ModTime))
	case it.Kind == tree.File:
		b = append(b, it.Digest()...)
	}
	// What else sameItem compares: a device's numbers, a hard link's set.
	b = binary.LittleEndian.AppendUint64(b, it.Rdev())
	b = append(b, it.LinkTo()...)
	return xxh3.Hash(b)
}

// newBaseline records src, the tree a sync is planned to leave.
func newBaseline(src *tree.Manifest, srcHash string, metadata bool) baseline {
	if len(src.Items) > baselineMaxItems {
		return baseline{Hash: srcHash, Metadata: metadata}
	}
	fps := make([]uint64, len(src.Items))
	for i := range src.Items {
		fps[i] = fingerprint(&src.Items[i], metadata)
	}
	return baselineOfPrints(srcHash, metadata, fps)
}

// baselineFold makes newBaseline's baseline an item at a time, for the
// plans made as streams (createFold, planMerge): the fingerprints of the
// items while there are at most baselineMaxItems of them.
type baselineFold struct {
	metadata bool
	items    int
	prints   []uint64 // nil once there are more than baselineMaxItems items
}

// add folds in the next item of the source, chmod applied.
func (f *baselineFold) add(it *tree.Item) {
	f.items++
	if f.items <= baselineMaxItems {
		f.prints = append(f.prints, fingerprint(it, f.metadata))
	} else {
		f.prints = nil
	}
}

// baseline is newBaseline of the items added, which hash to srcHash.
func (f *baselineFold) baseline(srcHash string) baseline {
	if f.items > baselineMaxItems {
		return baseline{Hash: srcHash, Metadata: f.metadata}
	}
	return baselineOfPrints(srcHash, f.metadata, f.prints)
}

// baselineOfPrints is the baseline of a source of at most
// baselineMaxItems items whose fingerprints are fps.
func baselineOfPrints(srcHash string, metadata bool, fps []uint64) baseline {
	b := baseline{Hash: srcHash, Metadata: metadata}
	cs := newCodeSet(fps)
	b.codes = &cs
	b.Codes = base64.StdEncoding.EncodeToString(cs.encode())
	return b
}

// printSetSize is the size of the Bloom filter of n fingerprints: bits
// (a whole number of 64-bit words, as a filter read back from them has)
// and hash functions.
func printSetSize(n int) (m, k uint) {
	m, k = bloom.EstimateParameters(uint(max(n, 1)), printSetFalseRate)
	return (m + 63) / 64 * 64, k
}

// decodePrintSet reads a Bloom filter as Set kept it: its size in bits
// (uvarint), its number of hash functions (a byte) and its words,
// little-endian. It refuses a size larger than baselineMaxItems entries
// make or words that do not fill it.
func decodePrintSet(raw []byte) (*bloom.BloomFilter, bool) {
	m, n := binary.Uvarint(raw)
	maxM, _ := printSetSize(baselineMaxItems)
	if n <= 0 || m == 0 || m%64 != 0 || m > uint64(maxM) || len(raw) < n+1 {
		return nil, false
	}
	k, body := uint(raw[n]), raw[n+1:]
	if k == 0 || k > 64 || uint64(len(body)) != m/8 {
		return nil, false
	}
	words := make([]uint64, len(body)/8)
	for i := range words {
		words[i] = binary.LittleEndian.Uint64(body[8*i:])
	}
	return bloom.FromWithM(words, uint(m), k), true
}

func (b baseline) encode() []byte {
	out, err := json.Marshal(b)
	if err != nil {
		return nil // cannot happen: strings and a bool
	}
	return out
}

// decodeBaseline reads a baseline from private state. Private state is
// ours, but it may come from an older provider or be damaged: anything
// that does not decode is no baseline.
func decodeBaseline(data []byte) (baseline, bool) {
	var b baseline
	if len(data) == 0 || json.Unmarshal(data, &b) != nil || (b.Hash == "" && !b.Imported) {
		return baseline{}, false
	}
	if b.Codes != "" {
		raw, err := base64.StdEncoding.DecodeString(b.Codes)
		if err != nil {
			return baseline{}, false
		}
		cs, err := decodeCodeSet(raw)
		if err != nil {
			return baseline{}, false
		}
		b.codes = &cs
		return b, true
	}
	if b.Set != "" {
		raw, err := base64.StdEncoding.DecodeString(b.Set)
		if err != nil {
			return baseline{}, false
		}
		set, ok := decodePrintSet(raw)
		if !ok {
			return baseline{}, false
		}
		b.set = set
		return b, true
	}
	raw, err := base64.StdEncoding.DecodeString(b.Prints)
	if err != nil || len(raw)%8 != 0 || len(raw)/8 > baselineMaxItems {
		return baseline{}, false
	}
	b.prints = make([]uint64, len(raw)/8)
	for i := range b.prints {
		b.prints[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	if !slices.IsSorted(b.prints) {
		return baseline{}, false
	}
	return b, true
}

// has reports whether it is an entry the apply left (up to the set's
// false positives).
func (b baseline) has(it *tree.Item) bool {
	fp := fingerprint(it, b.Metadata)
	if b.codes != nil {
		return b.codes.has(fp)
	}
	if b.set != nil {
		var key [8]byte
		binary.LittleEndian.PutUint64(key[:], fp)
		return b.set.Test(key[:])
	}
	_, ok := slices.BinarySearch(b.prints, fp)
	return ok
}

// hasPrints reports whether the baseline has per-entry fingerprints.
func (b baseline) hasPrints() bool { return b.codes != nil || b.set != nil || len(b.prints) > 0 }

// driftInput is what attributeDrift decides from.
type driftInput struct {
	Diff tree.Changes
	// Total is how many paths the diff lists when Diff holds only the
	// first of each kind (a plan made as a stream); 0: all of them.
	Total    int
	Src, Dst *tree.Manifest
	// SrcHash is Src.Hash(), which the plan has already made; DstHash,
	// when set, is Dst's (a plan made as a stream has no Dst).
	SrcHash, DstHash string
	// Baseline is the last apply's record, if private state has one.
	Baseline    baseline
	HasBaseline bool
	// PriorSourceHash is the source_hash the last apply recorded (null
	// after import).
	PriorSourceHash types.String
}

// driftResult is the paths of a diff that changed on the destination.
type driftResult struct {
	Paths []string
	// Total is how many paths changed on the destination when Paths
	// holds only the first of them (pending's first of each kind, in a
	// plan made as a stream); 0: len(Paths).
	Total int
	// Unattributed is set when the plan cannot tell (no baseline, and
	// both sides changed): Paths is then empty and the warning says so.
	Unattributed bool
}

// attributeDrift names the listed paths whose destination entry is not the
// one the last apply left there: edited, added or removed on the server.
//
// With per-entry fingerprints of what the apply left, a path is drift when
// the destination's entry is not among them (an update or a deletion
// listed) or, for a path missing on the destination, when the source's
// entry is still the applied one (so it was there, and the server removed
// it). Without them the hashes decide for the whole diff: a source
// unchanged since the apply means every listed path is drift; otherwise
// the paths cannot be told apart, unless the destination is still what
// the apply left (no drift at all).
func attributeDrift(in driftInput) driftResult {
	if in.Diff.Empty() {
		return driftResult{}
	}
	if in.HasBaseline && in.Baseline.Imported {
		return driftResult{} // no apply yet: what is there was there before
	}
	if in.HasBaseline && in.Baseline.hasPrints() && in.Baseline.comparable(in.Dst) {
		return driftResult{Paths: driftByBaseline(in)}
	}
	srcUnchanged := known(in.PriorSourceHash) && in.PriorSourceHash.ValueString() == in.SrcHash
	if srcUnchanged {
		return driftResult{Paths: allPaths(in.Diff), Total: in.Total}
	}
	if in.HasBaseline && (in.Dst != nil || in.DstHash != "") {
		h := in.DstHash
		if h == "" {
			h = in.Dst.Hash()
		}
		if h == in.Baseline.Hash || h == in.Baseline.Dest {
			return driftResult{}
		}
	}
	if !known(in.PriorSourceHash) {
		return driftResult{} // a first sync (or after import): nothing to drift from
	}
	return driftResult{Unattributed: true}
}

// comparable reports whether the baseline's fingerprints can be compared
// with the entries of dst: their file digests are of the same algorithm.
// They are not after a create against a server below protocol 30: the
// create's plan, with nothing to list, hashed the source with the default
// digest, while the server's listing is of md4 sums; every file would then
// look changed on the server. The hashes decide instead, and the apply
// recorded the destination's in the server's own digest (Dest).
func (b baseline) comparable(dst *tree.Manifest) bool {
	if b.Metadata || dst == nil || dst.Mode != tree.Content {
		return true
	}
	algo, ok := tree.AlgoOfHash(b.Hash)
	return !ok || algo == dst.Algo
}

func driftByBaseline(in driftInput) []string {
	// Only the listed paths' entries are looked up: indexing every entry
	// of both trees, per resource and per walk, was a tenth of a
	// 20-resource fleet's provider CPU for a one-file diff (issue 15).
	want := make(map[string]bool, len(in.Diff.Create)+len(in.Diff.Update)+len(in.Diff.Delete))
	for _, paths := range [][]string{in.Diff.Create, in.Diff.Update, in.Diff.Delete} {
		for _, p := range paths {
			want[trimDirSlash(p)] = true
		}
	}
	src := pickItems(in.Src, want)
	dst := pickItems(in.Dst, want)
	var out []string
	check := func(paths []string, missingOnDest bool) {
		for _, p := range paths {
			name := trimDirSlash(p)
			if missingOnDest {
				if s, ok := src[name]; ok && in.Baseline.has(s) {
					out = append(out, p)
				}
				continue
			}
			if d, ok := dst[name]; ok && !in.Baseline.has(d) {
				out = append(out, p)
			}
		}
	}
	check(in.Diff.Create, true)
	check(in.Diff.Update, false)
	check(in.Diff.Delete, false)
	return out
}

// pickItems indexes by name the entries of m named in want.
func pickItems(m *tree.Manifest, want map[string]bool) map[string]*tree.Item {
	if m == nil {
		return nil
	}
	idx := make(map[string]*tree.Item, len(want))
	for i := range m.Items {
		if want[m.Items[i].Name] {
			idx[m.Items[i].Name] = &m.Items[i]
		}
	}
	return idx
}

func indexItems(m *tree.Manifest) map[string]*tree.Item {
	if m == nil {
		return nil
	}
	idx := make(map[string]*tree.Item, len(m.Items))
	for i := range m.Items {
		idx[m.Items[i].Name] = &m.Items[i]
	}
	return idx
}

func trimDirSlash(p string) string {
	if len(p) > 1 && p[len(p)-1] == '/' {
		return p[:len(p)-1]
	}
	return p
}

func allPaths(c tree.Changes) []string {
	out := make([]string, 0, len(c.Create)+len(c.Update)+len(c.Delete))
	out = append(out, c.Create...)
	out = append(out, c.Update...)
	return append(out, c.Delete...)
}

// count is how many paths changed on the destination.
func (d driftResult) count() int { return max(d.Total, len(d.Paths)) }

// driftValue is the drift object: the first pendingCap paths and the count.
func driftValue(paths []string) types.Object {
	return driftValueOf(driftResult{Paths: paths})
}

// driftValueOf is driftValue of d's paths, which may be the first of them.
func driftValueOf(d driftResult) types.Object {
	first := d.Paths
	if len(first) > pendingCap {
		first = first[:pendingCap]
	}
	vals := make([]attr.Value, len(first))
	for i, p := range first {
		vals[i] = types.StringValue(displayPath(p))
	}
	return types.ObjectValueMust(driftAttrTypes, map[string]attr.Value{
		"paths": types.ListValueMust(types.StringType, vals),
		"count": types.Int64Value(int64(d.count())),
	})
}

// driftWarning is the plan's one warning about drift, or "" when there is
// none to report.
func driftWarning(d driftResult, pendingCount int) (summary, detail string) {
	switch {
	case d.Unattributed:
		return "Destination and source both changed since the last apply",
			fmt.Sprintf("The destination changed on the server since the last apply, and so did the source. Of the %d paths "+
				"this plan lists, which changed on the server cannot be told apart: the record the last apply kept is missing "+
				"(an older provider, an import, or a tree of more than %d entries). The apply makes the destination match the "+
				"source, overwriting the server's changes.", pendingCount, baselineMaxItems)
	case len(d.Paths) > 0:
		others := ""
		if d.count() < pendingCount {
			others = " The others changed in the source."
		}
		return "Destination changed outside Terraform",
			fmt.Sprintf("%d of the %d paths this plan lists changed on the destination since the last apply (drift), and the apply "+
				"will restore them from the source: %s. They are in drift.paths.%s",
				d.count(), pendingCount, firstPathsOf(displayPaths(d.Paths[:min(len(d.Paths), 10)]), d.count()), others)
	}
	return "", ""
}

func displayPaths(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = displayPath(p)
	}
	return out
}

// plannedBaselines hands the baseline a plan made (what its apply is
// planned to leave) to the Create or Update that follows it in the same
// process, keyed by destKey. Terraform's apply walk plans each resource
// again and applies it with the provider it planned with, so the baseline
// need not travel in the planned private state: there it was a second
// copy beside the prior baseline in every PlanResourceChange response and
// ApplyResourceChange request, which Terraform and the framework encode
// and decode, about 0.1 s of a 20-resource fleet apply's CPU (issue 15).
// Create never had private state from its plan and used the same way.
// It lives in the configured provider's settings, as manifestCache does;
// nil keeps nothing, and the apply then keeps no baseline (the next plan
// tells drift apart by the hashes).
type plannedBaselines struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newPlannedBaselines() *plannedBaselines { return &plannedBaselines{m: map[string][]byte{}} }

// put records the encoded baseline b of the plan for destination key.
func (p *plannedBaselines) put(key string, b []byte) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[key] = b
}

// take returns the baseline recorded for key and forgets it.
func (p *plannedBaselines) take(key string) []byte {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.m[key]
	delete(p.m, key)
	return b
}
