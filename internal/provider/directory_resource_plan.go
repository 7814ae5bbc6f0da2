package provider

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// This file holds the pure decisions behind rsync_directory's plan: what
// the computed attributes are planned to be, given the prior state, the
// source manifest and (when known) the diff against the destination. No
// I/O happens here; directory_resource.go gathers the inputs.

// Drift detection modes (attribute drift_detection).
const (
	driftChecksum = "checksum"
	driftMetadata = "metadata"
	driftNone     = "none"
)

// on_destroy values.
const (
	onDestroyKeep   = "keep"
	onDestroyDelete = "delete"
)

// pendingCap is how many paths of each kind pending lists.
const pendingCap = 100

var pendingAttrTypes = map[string]attr.Type{
	"create":       types.ListType{ElemType: types.StringType},
	"update":       types.ListType{ElemType: types.StringType},
	"delete":       types.ListType{ElemType: types.StringType},
	"create_count": types.Int64Type,
	"update_count": types.Int64Type,
	"delete_count": types.Int64Type,

	// The estimate (directory_resource_estimate.go).
	"transfer_bytes": types.Int64Type,
	"matched_bytes":  types.Int64Type,
	"bytes":          types.MapType{ElemType: types.StringType},
}

var lastSyncAttrTypes = map[string]attr.Type{
	"files_transferred": types.Int64Type,
	"bytes_sent":        types.Int64Type,
	"bytes_received":    types.Int64Type,
	"literal_bytes":     types.Int64Type,
	"matched_bytes":     types.Int64Type,
	"deleted":           types.Int64Type,
}

// pendingChanges is a diff as pending shows it: the first pendingCap
// paths of each list, and how many each holds. It is all a plan keeps of
// a diff it folds over the tree (planCreateStreamed): a create of 300,000
// files would otherwise list 300,000 paths.
type pendingChanges struct {
	Create, Update, Delete    []string // directories end in "/"
	Creates, Updates, Deletes int
}

// pendingOf is what pending shows of c.
func pendingOf(c tree.Changes) *pendingChanges {
	first := func(paths []string) []string { return paths[:min(len(paths), pendingCap)] }
	return &pendingChanges{
		Create: first(c.Create), Update: first(c.Update), Delete: first(c.Delete),
		Creates: len(c.Create), Updates: len(c.Update), Deletes: len(c.Delete),
	}
}

// pendingIfDiffed is pendingOf(*c), nil when there is no diff.
func pendingIfDiffed(c *tree.Changes) *pendingChanges {
	if c == nil {
		return nil
	}
	return pendingOf(*c)
}

// changes is what p shows as tree.Changes: the first paths of each kind.
func (p *pendingChanges) changes() tree.Changes {
	return tree.Changes{Create: p.Create, Update: p.Update, Delete: p.Delete}
}

// empty reports whether nothing is pending.
func (p *pendingChanges) empty() bool { return p.Creates+p.Updates+p.Deletes == 0 }

// addCreate counts a path created, keeping it if pending shows it (the
// string is kept as it is: not a part of a larger one).
func (p *pendingChanges) addCreate(path string) {
	if p.Creates < pendingCap {
		p.Create = append(p.Create, path)
	}
	p.Creates++
}

// pendingValue is the pending object for a set of changes: the first
// pendingCap paths of each kind, the full counts, and the estimate of the
// bytes to send (nil: not made; none are sent when nothing is pending).
func pendingValue(p *pendingChanges, est *transferEstimate) types.Object {
	list := func(paths []string) attr.Value {
		vals := make([]attr.Value, len(paths))
		for i, p := range paths {
			vals[i] = types.StringValue(displayPath(p))
		}
		return types.ListValueMust(types.StringType, vals)
	}
	return types.ObjectValueMust(pendingAttrTypes, map[string]attr.Value{
		"create":       list(p.Create),
		"update":       list(p.Update),
		"delete":       list(p.Delete),
		"create_count": types.Int64Value(int64(p.Creates)),
		"update_count": types.Int64Value(int64(p.Updates)),
		"delete_count": types.Int64Value(int64(p.Deletes)),

		"transfer_bytes": est.transferValue(p),
		"matched_bytes":  est.matchedValue(p),
		"bytes":          est.bytesValue(p),
	})
}

// maxDeleteError is the message of a refused sync: it names the attribute,
// the numbers, some of the paths and what to do.
func maxDeleteError(n int, limit int64, paths []string) string {
	more := ""
	if n > len(paths) {
		more = fmt.Sprintf(" and %d more", n-len(paths))
	}
	return fmt.Sprintf("This sync would delete %d files or directories from the destination, more than max_delete = %d allows, "+
		"so nothing was changed. It would delete: %s%s.\n\n"+
		"If these deletions are intended, raise max_delete (or remove it); otherwise add the paths to the source, "+
		"to exclude or to protect, or set delete = false.", n, limit, strings.Join(paths, ", "), more)
}

func lastSyncValue(s rsync.Stats) types.Object {
	return types.ObjectValueMust(lastSyncAttrTypes, map[string]attr.Value{
		"files_transferred": types.Int64Value(int64(s.FilesTransferred)),
		"bytes_sent":        types.Int64Value(s.BytesSent),
		"bytes_received":    types.Int64Value(s.BytesReceived),
		"literal_bytes":     types.Int64Value(s.LiteralBytes),
		"matched_bytes":     types.Int64Value(s.MatchedBytes),
		"deleted":           types.Int64Value(int64(s.Deleted)),
	})
}

// computedValues are rsync_directory's computed sync attributes.
type computedValues struct {
	SourceHash      types.String
	DestinationHash types.String
	Pending         types.Object
	Drift           types.Object
	LastSync        types.Object
}

// planInput is what planComputed decides from.
type planInput struct {
	// Prior holds the prior state's values; PriorExists is false on create.
	Prior       computedValues
	PriorExists bool
	// SourceHash is the hash of the source now, with Algo.
	SourceHash string
	// Diff is what a sync would change, when the destination's manifest
	// is known (nil on create and with drift_detection = "none").
	Diff *pendingChanges
	// ListingChanged is set when what the destination hash describes
	// changed since the prior state (filters, drift_detection, where the
	// source lands): the prior destination_hash is no longer comparable.
	ListingChanged bool
	// Resync is set when a setting that the hashes do not describe
	// changed (owner, group): the apply must sync to apply it.
	Resync bool
	// Drift is drift_detection.
	Drift string
	// Drifted is the paths of Diff that changed on the destination since
	// the last apply (attributeDrift).
	Drifted driftResult
	// Estimate is what the apply will send, when the plan worked it out.
	Estimate *transferEstimate
}

// planComputed plans the computed attributes and says whether the apply
// has to sync.
//
// With work to do, source_hash is the new hash, pending the new diff
// (unknown when there is no destination manifest to diff against: it is
// then filled in from the transfer's itemized changes), destination_hash
// and last_sync unknown; drift names the diff's paths that changed on the destination (destination_hash stays null with
// drift_detection = "none"). With nothing to do every computed attribute
// keeps its prior value, so the plan is empty — except a null prior
// source_hash (after import), which takes the new value.
func planComputed(in planInput) (computedValues, bool) {
	work := !in.PriorExists || in.ListingChanged || in.Resync || sourceChanged(in)
	if in.Diff != nil && !in.Diff.empty() {
		work = true
	}
	if !work {
		out := in.Prior
		if out.SourceHash.IsNull() || out.SourceHash.IsUnknown() {
			out.SourceHash = types.StringValue(in.SourceHash)
		}
		return out, false
	}
	out := computedValues{
		SourceHash:      types.StringValue(in.SourceHash),
		DestinationHash: types.StringUnknown(),
		Pending:         types.ObjectUnknown(pendingAttrTypes),
		Drift:           types.ObjectUnknown(driftAttrTypes),
		LastSync:        types.ObjectUnknown(lastSyncAttrTypes),
	}
	if in.Drift == driftNone {
		out.DestinationHash = types.StringNull()
	}
	if in.Diff != nil {
		out.Pending = pendingValue(in.Diff, in.Estimate)
		out.Drift = driftValueOf(in.Drifted)
	}
	return out, true
}

// sourceChanged reports whether the source differs from what the prior
// state recorded. A prior hash made with another content algorithm (the
// server negotiated md5, say, after a create hashed with xxh128) is not
// comparable: the diff against the destination decides then, and without
// one the source counts as changed. A null prior hash (after import)
// counts as unchanged when there is a diff to decide.
func sourceChanged(in planInput) bool {
	prior := in.Prior.SourceHash
	if prior.IsUnknown() || prior.IsNull() {
		return in.Diff == nil
	}
	if prior.ValueString() == in.SourceHash {
		return false
	}
	pa, pok := tree.AlgoOfHash(prior.ValueString())
	na, nok := tree.AlgoOfHash(in.SourceHash)
	if pok && nok && pa != na && in.Diff != nil {
		return false
	}
	return true
}

// quickCheckBlind lists the files whose content differs between the
// paired source and destination although size and modification time match: rsync's quick check
// would skip them, so a sync that must fix them needs checksum mode.
func quickCheckBlind(pairs *tree.Pairing) []string {
	if pairs == nil || pairs.Src.Mode != tree.Content || pairs.Dst.Mode != tree.Content {
		return nil
	}
	var out []string
	pairs.Each(func(s, d *tree.Item) {
		if s != nil && d != nil && s.Kind == tree.File && d.Kind == tree.File && !s.Unreadable && !d.Unreadable &&
			s.Size == d.Size && s.ModTime == d.ModTime && string(s.Digest()) != string(d.Digest()) {
			out = append(out, s.Name)
		}
	})
	return out
}

// contentAlgo picks the digest algorithm for hashing a local tree: the
// one of the destination's manifest when it has one (its digests must be
// comparable with ours), else the one the prior state's hashes name, else
// xxh128.
func contentAlgo(dest *tree.Manifest, priorDestHash, priorSourceHash types.String) csum.Algo {
	if dest != nil && dest.Mode == tree.Content && dest.Algo != 0 {
		return dest.Algo
	}
	for _, h := range []types.String{priorDestHash, priorSourceHash} {
		if h.IsNull() || h.IsUnknown() {
			continue
		}
		if a, ok := tree.AlgoOfHash(h.ValueString()); ok {
			return a
		}
	}
	return csum.XXH128
}

// manifestMode is the manifest mode a drift_detection value reads the
// destination with.
func manifestMode(drift string) tree.Mode {
	if drift == driftMetadata {
		return tree.Metadata
	}
	return tree.Content
}

// filterSet is the effective filter configuration of a sync.
type filterSet struct {
	Include []string
	Exclude []string
	Protect []string
	// Fidelity is -D, -H and the transfer options (directory_resource_fidelity.go).
	Fidelity fidelityConfig
}

// localRules are the filters as a local walk applies them (hashLocal,
// eachLocal).
func (f filterSet) localRules() (*filter.List, error) {
	inc, exc := f.engineFilters()
	return filter.New(inc, exc)
}

// engineFilters are the include and exclude patterns: what is sent and
// listed. protect patterns are not among them: they are receiver-side
// rules (rsync.Options.Protect) that only spare paths from deletion.
func (f filterSet) engineFilters() (include, exclude []string) {
	return f.Include, f.Exclude
}

// key is a canonical text of the filters that decide what a listing
// holds (include and exclude; protect does not change a listing), for
// cache keys and to notice a change.
func (f filterSet) key() string {
	var b strings.Builder
	for _, l := range [][]string{f.Include, f.Exclude} {
		fmt.Fprintf(&b, "%d", len(l))
		for _, p := range l {
			fmt.Fprintf(&b, ":%d:%s", len(p), p)
		}
		b.WriteByte('|')
	}
	b.WriteString(f.Fidelity.key())
	return b.String()
}
