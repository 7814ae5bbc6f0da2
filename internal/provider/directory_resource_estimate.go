package provider

// The plan's estimate of the bytes the apply will send: new files whole,
// changed files by matching them against the server's own block
// signatures (rsync.Options.EstimateOnly), with nothing written on the
// server and no file data sent.

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// defaultEstimateMaxBytes is estimate_max_bytes when it is not set: the
// server reads this much of the changed files at most (1 GiB takes a few
// seconds from disk) before the plan gives up on the estimate.
const defaultEstimateMaxBytes = 1 << 30

// estimateSettings reads estimate_transfer (default true) and
// estimate_max_bytes. Both are optional without a default, so that
// resources created before they existed plan no change.
func estimateSettings(m directoryModel) (on bool, limit int64) {
	on, limit = true, defaultEstimateMaxBytes
	if !m.EstimateTransfer.IsNull() && !m.EstimateTransfer.IsUnknown() {
		on = m.EstimateTransfer.ValueBool()
	}
	if !m.EstimateMaxBytes.IsNull() && !m.EstimateMaxBytes.IsUnknown() {
		limit = m.EstimateMaxBytes.ValueInt64()
	}
	return on, limit
}

// fileAmount is what the apply sends of one file.
type fileAmount struct {
	Literal int64 // file data sent
	Size    int64 // the file's size in the source
	New     bool  // no copy on the server to build from
	Drift   bool  // the server's copy changed since the last apply
}

// transferEstimate is what the apply will send, file data only (before
// compression, without the protocol's own bytes).
type transferEstimate struct {
	Transfer int64
	Matched  int64
	Files    map[string]fileAmount // by manifest name
}

func (e *transferEstimate) transferValue(c *pendingChanges) types.Int64 {
	switch {
	case e != nil:
		return types.Int64Value(e.Transfer)
	case c.empty():
		return types.Int64Value(0)
	}
	return types.Int64Null()
}

func (e *transferEstimate) matchedValue(c *pendingChanges) types.Int64 {
	switch {
	case e != nil:
		return types.Int64Value(e.Matched)
	case c.empty():
		return types.Int64Value(0)
	}
	return types.Int64Null()
}

// bytesValue is pending.bytes: for the files among the listed paths (the
// first pendingCap of create and update), how much of each is sent.
func (e *transferEstimate) bytesValue(c *pendingChanges) types.Map {
	if e == nil {
		if c.empty() {
			return types.MapValueMust(types.StringType, map[string]attr.Value{})
		}
		return types.MapNull(types.StringType)
	}
	vals := map[string]attr.Value{}
	for _, list := range [][]string{c.Create, c.Update} {
		for _, p := range list {
			if f, ok := e.Files[p]; ok {
				vals[displayPath(p)] = types.StringValue(f.String())
			}
		}
	}
	return types.MapValueMust(types.StringType, vals)
}

// String is the plan's text for a file: "1.4 kB of 2.0 GB".
func (f fileAmount) String() string {
	switch {
	case f.New:
		return humanBytes(f.Literal) + ", all of it (new)"
	case f.Drift:
		return humanBytes(f.Literal) + " of " + humanBytes(f.Size) + " (changed on the server)"
	}
	return humanBytes(f.Literal) + " of " + humanBytes(f.Size)
}

// humanBytes writes a byte count in decimal units, as `ls -h --si` and
// most transfer tools do: 999 B, 1.4 kB, 2.0 GB.
func humanBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB", "PB"} {
		v /= 1000
		if v < 999.95 || u == "PB" {
			return fmt.Sprintf("%.1f %s", v, u)
		}
	}
	return fmt.Sprintf("%d B", n) // not reached
}

// estimateWork sorts a diff's files into those sent whole (no usable copy
// on the server) and those whose server copy the delta builds from.
type estimateWork struct {
	// WholeBytes and WholeFiles sum the files sent whole; Whole holds the
	// amounts of those pending shows (the first pendingCap paths of
	// create and of update): a plan of a million new files keeps sums,
	// not an amount per file (1.7 s of such a plan's CPU, twice).
	WholeBytes int64
	WholeFiles int
	Whole      map[string]fileAmount
	Compare    []string // manifest names
	// CompareBytes is what the comparison reads: the larger of the two
	// copies of each compared file.
	CompareBytes int64
	// Src and Dst are the compared files' items, by name.
	Src, Dst map[string]*tree.Item
}

// planEstimateWork decides, file by file, what the apply transfers:
// rsync's quick check (size and time) or, when the apply compares by
// checksum (checksum = true, or files only a checksum tells apart), the
// content. A file whose data is not sent (only its permissions or times
// change) is left out.
//
// diff is normally pairs.Diff's, whose creates and updates come in the
// source's order as pairs.Each visits them: the paths are then matched to
// their items in that one pass. A diff made otherwise is matched through
// indexes of both manifests by name.
func planEstimateWork(diff tree.Changes, pairs *tree.Pairing, byChecksum bool) estimateWork {
	w := estimateWork{Whole: map[string]fileAmount{}, Src: map[string]*tree.Item{}, Dst: map[string]*tree.Item{}}
	created, updated := 0, 0
	pairs.Each(func(s, d *tree.Item) {
		if s == nil {
			return
		}
		name := tree.DiffPath(s)
		switch {
		case d == nil && created < len(diff.Create) && diff.Create[created] == name:
			w.add(name, s, nil, true, created < pendingCap, byChecksum)
			created++
		case d != nil && updated < len(diff.Update) && diff.Update[updated] == name:
			w.add(name, s, d, false, updated < pendingCap, byChecksum)
			updated++
		}
	})
	if created == len(diff.Create) && updated == len(diff.Update) {
		return w
	}
	srcIdx, dstIdx := indexItems(pairs.Src), indexItems(pairs.Dst)
	w = estimateWork{Whole: map[string]fileAmount{}, Src: map[string]*tree.Item{}, Dst: map[string]*tree.Item{}}
	for i, p := range diff.Create {
		if s, ok := srcIdx[p]; ok {
			w.add(p, s, nil, true, i < pendingCap, byChecksum)
		}
	}
	for i, p := range diff.Update {
		if s, ok := srcIdx[p]; ok {
			w.add(p, s, dstIdx[p], false, i < pendingCap, byChecksum)
		}
	}
	return w
}

// add sorts the change of one path, p, from d (nil: none) to s; shown
// says whether pending shows p's amount.
func (w *estimateWork) add(p string, s, d *tree.Item, create, shown, byChecksum bool) {
	if s.Kind != tree.File {
		return
	}
	whole := func(f fileAmount) {
		w.WholeBytes += f.Literal
		w.WholeFiles++
		if shown {
			w.Whole[p] = f
		}
	}
	switch {
	case create || d == nil || d.Kind != tree.File || d.Size == 0:
		// New, or replacing a directory, a symlink or an empty file:
		// nothing to build from (generator.c sends an empty sum head).
		whole(fileAmount{Literal: s.Size, Size: s.Size, New: true})
	case !dataSent(s, d, byChecksum):
	case s.Size == 0:
		whole(fileAmount{Size: 0})
	default:
		w.Compare = append(w.Compare, p)
		w.CompareBytes += max(s.Size, d.Size)
		w.Src[p], w.Dst[p] = s, d
	}
}

// dataSent reports whether the apply sends the data of a file present on
// both sides (generator.c:quick_check_ok).
func dataSent(s, d *tree.Item, byChecksum bool) bool {
	if s.Size != d.Size {
		return true
	}
	if byChecksum && len(s.Digest()) > 0 && len(d.Digest()) > 0 {
		return string(s.Digest()) != string(d.Digest())
	}
	return s.ModTime != d.ModTime
}

// estimateInput is what estimateTransfer works from.
type estimateInput struct {
	Diff *tree.Changes
	// Pairs pairs the source's manifest (Pairs.Src, hashing to SrcHash)
	// with the destination's (Pairs.Dst), as the plan compared them.
	Pairs      *tree.Pairing
	SrcHash    string
	Drift      []string
	ByChecksum bool
}

// estimateTransfer works out what the apply will send, or says (once, as a
// warning) why it could not; nil when it was not made.
func (r *directoryResource) estimateTransfer(ctx context.Context, cn *conn, c syncConfig, in estimateInput) (*transferEstimate, diag.Diagnostics) {
	var diags diag.Diagnostics
	if !c.Estimate || in.Diff == nil || in.Pairs == nil || in.Diff.Empty() {
		return nil, diags
	}
	return r.estimateFrom(ctx, cn, c, planEstimateWork(*in.Diff, in.Pairs, in.ByChecksum), in.Pairs.Src, in.Pairs.Dst, in.Drift)
}

// estimateFrom is estimateTransfer's work once the files are sorted (w):
// src and dst are the manifests w's compared files come from (nil when w
// compares none: a create, planned without them), drift the paths changed
// on the server since the last apply.
func (r *directoryResource) estimateFrom(ctx context.Context, cn *conn, c syncConfig, w estimateWork, src, dst *tree.Manifest, drift []string) (*transferEstimate, diag.Diagnostics) {
	var diags diag.Diagnostics
	switch c.Ends.Dir {
	case dirLocal:
		return localEstimate(ctx, c, w), diags
	case dirPull:
		diags.AddAttributeWarning(path.Root("source"), "Transfer size not estimated for a pull",
			"The source is remote, so the apply's data comes from the server's rsync, which matches its files against "+
				"this machine's block checksums only as it sends them: the stock rsync has no way to count the delta "+
				"without sending the data (a dry run exchanges no checksums, and a sending server does not take "+
				"--only-write-batch). pending.transfer_bytes, matched_bytes and bytes are left null; the plan is otherwise "+
				"complete, and last_sync reports what the apply received. Set estimate_transfer = false not to be told again.")
		return nil, diags
	}
	if w.CompareBytes > c.EstimateMax {
		diags.AddAttributeWarning(path.Root("estimate_max_bytes"), "Transfer size not estimated",
			fmt.Sprintf("The %d changed files that already exist on the destination hold %s, more than estimate_max_bytes "+
				"(%s) allows the plan to compare, so pending.transfer_bytes is left null and the apply sends what it must. "+
				"Raise estimate_max_bytes to estimate anyway, or set estimate_transfer = false not to be told.",
				len(w.Compare), humanBytes(w.CompareBytes), humanBytes(c.EstimateMax)))
		return nil, diags
	}
	est := &transferEstimate{Files: make(map[string]fileAmount, len(w.Whole)+len(w.Compare)), Transfer: w.WholeBytes}
	maps.Copy(est.Files, w.Whole)
	local, rest := oneBlockEstimates(c, r.rsyncPath(c), src, dst, w)
	for p, f := range local {
		est.Files[p] = f
		est.Transfer += f.Literal
		est.Matched += f.Size - f.Literal
	}
	if len(rest) > 0 {
		amounts, err := r.compareWithServer(ctx, cn, c, rest)
		if err != nil {
			diags.AddAttributeWarning(path.Root("destination"), "Transfer size not estimated",
				fmt.Sprintf("The plan could not work out how much data the apply will send: %s. pending.transfer_bytes is "+
					"left null; the plan is otherwise complete and the apply is not affected. A server that does not support "+
					"rsync's --only-write-batch (which the estimate uses to read block checksums without writing anything) "+
					"cannot give it: set estimate_transfer = false not to be told again.", safeText(err.Error())))
			return nil, diags
		}
		for p, f := range amounts {
			est.Files[p] = f
			est.Transfer += f.Literal
			est.Matched += f.Size - f.Literal
		}
	}
	for _, p := range drift {
		if f, ok := est.Files[p]; ok && !f.New {
			f.Drift = true
			est.Files[p] = f
		}
	}
	tflog.Info(ctx, "estimated the transfer", map[string]interface{}{
		"destination": c.Ends.Dst.Raw, "transfer_bytes": est.Transfer, "matched_bytes": est.Matched,
		"compared_files": len(w.Compare), "compared_from_listing": len(local), "new_files": w.WholeFiles,
	})
	return est, diags
}

// localEstimate is a local copy's estimate, exact without reading any
// file: the local engine copies whole files (rsync.Options.WholeFile, as
// rsync does between local paths), so each file whose data the apply
// sends counts its size and nothing is matched.
func localEstimate(ctx context.Context, c syncConfig, w estimateWork) *transferEstimate {
	est := &transferEstimate{Files: make(map[string]fileAmount, len(w.Whole)+len(w.Compare)), Transfer: w.WholeBytes}
	maps.Copy(est.Files, w.Whole)
	for _, p := range w.Compare {
		size := w.Src[p].Size
		est.Files[p] = fileAmount{Literal: size, Size: size}
		est.Transfer += size
	}
	tflog.Info(ctx, "estimated the transfer of a local copy (whole files)", map[string]interface{}{
		"destination": c.Ends.Dst.Raw, "transfer_bytes": est.Transfer, "files": w.WholeFiles + len(w.Compare),
	})
	return est
}

// compareWithServer runs the estimate exchange for the named files
// (manifest names) and returns what each would send.
func (r *directoryResource) compareWithServer(ctx context.Context, cn *conn, c syncConfig, names []string) (map[string]fileAmount, error) {
	t, d := cn.transport(ctx)
	if d.HasError() {
		return nil, fmt.Errorf("no connection to the destination: %s", diagText(d))
	}
	src, dst := pushTarget(c.Ends.Src.Path(), c.Ends.Dst.Path())
	prefix := tree.ContentRoot(src)
	flName := func(name string) string {
		switch {
		case prefix == "":
			return name
		case name == ".":
			return prefix
		}
		return prefix + "/" + name
	}
	byFl := make(map[string]string, len(names))
	opts := r.engineOptions(ctx, c)
	opts.EstimateOnly = true
	for _, n := range names {
		byFl[flName(n)] = n
		opts.EstimatePaths = append(opts.EstimatePaths, flName(n))
	}
	res, err := rsync.Push(ctx, t, src, dst, opts)
	if err != nil {
		return nil, err
	}
	out := make(map[string]fileAmount, len(names))
	for _, e := range res.Estimates {
		if n, ok := byFl[e.Path]; ok {
			out[n] = fileAmount{Literal: e.Literal, Size: e.Literal + e.Matched, New: !e.Basis}
		}
	}
	if len(out) != len(names) {
		return nil, fmt.Errorf("the server compared %d of the %d changed files", len(out), len(names))
	}
	return out, nil
}

// pushTarget is where a push of src goes on the server: a single file
// lands inside destination (where Read looks for it), never as
// destination itself.
func pushTarget(src, dst string) (string, string) {
	dst = pushDestPath(dst)
	if fi, err := os.Stat(src); err == nil && !fi.IsDir() && !strings.HasSuffix(dst, "/") {
		dst += "/"
	}
	return src, dst
}

func diagText(d diag.Diagnostics) string {
	var parts []string
	for _, e := range d.Errors() {
		parts = append(parts, e.Summary()+": "+e.Detail())
	}
	return strings.Join(parts, "; ")
}
