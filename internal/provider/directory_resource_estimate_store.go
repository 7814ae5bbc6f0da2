package provider

// The estimate a plan made, kept for the apply walk's re-plan beside the
// listing refresh saved (listing_store.go): that re-plan must plan the
// same pending.transfer_bytes as the plan the user approved, and should
// not have the server read the changed files a second time. A server
// changed between plan and apply therefore does not fail the apply, as it
// does not with the listing.

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// estimateSuffix names the estimate beside its listing's file.
const estimateSuffix = ".estimate"

// storedEstimate is the file's content: whose plan it was (the listing's
// key and the source's hash), and the estimate, if one was made. It is
// gob-encoded, as the listing is: the estimate is keyed by file names,
// which need not be UTF-8, and JSON would replace their invalid bytes
// (the re-plan then lost "bad\xff.bin" from pending.bytes).
type storedEstimate struct {
	Key      string
	Source   string
	Made     bool
	Estimate *transferEstimate
}

// estimatePath is where the estimate of the listing private state refers
// to is kept ("" when there is no such listing).
func (s *listingStore) estimatePath(private []byte) string {
	if s == nil || len(private) == 0 {
		return ""
	}
	var ref listingRef
	if json.Unmarshal(private, &ref) != nil || !validToken(ref.Token) {
		return ""
	}
	return filepath.Join(s.dir, ref.Token+estimateSuffix)
}

// saveEstimate keeps est (nil: not made) as the estimate planned from the
// listing private state refers to, for key and a source hashing to source.
func (s *listingStore) saveEstimate(ctx context.Context, private []byte, key, source string, est *transferEstimate) {
	p := s.estimatePath(private)
	if p == "" {
		return
	}
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(storedEstimate{Key: key, Source: source, Made: est != nil, Estimate: est})
	if err == nil {
		err = writeFileAtomic(p, buf.Bytes())
	}
	if err != nil {
		tflog.Debug(ctx, "could not keep the transfer estimate for the apply's re-plan; it will estimate again", map[string]interface{}{"error": err.Error()})
	}
}

// loadEstimate returns the estimate a plan from the same listing, key and
// source kept, and whether there is one.
func (s *listingStore) loadEstimate(private []byte, key, source string) (*transferEstimate, bool) {
	p := s.estimatePath(private)
	if p == "" {
		return nil, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	var st storedEstimate
	if gob.NewDecoder(bytes.NewReader(b)).Decode(&st) != nil || st.Key != key || st.Source != source || st.Made != (st.Estimate != nil) {
		return nil, false
	}
	return st.Estimate, true
}

// writeFileAtomic writes b to p through a temporary file beside it, so a
// reader finds the old file or the new one.
func writeFileAtomic(p string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), p)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}

// estimateListing says where a plan's destination listing came from.
type estimateListing int

const (
	listingListed    estimateListing = iota // listed by the plan itself
	listingOfRefresh                        // refresh's, in this process: the plan walk
	listingSaved                            // refresh's, saved for the apply walk's re-plan
)

// plannedEstimate is the plan's estimate: in the apply walk's re-plan the
// one the approved plan made from the same listing and source, when it was
// kept; otherwise a new one, kept for that re-plan when the listing came
// from refresh.
func (r *directoryResource) plannedEstimate(ctx context.Context, cn *conn, c syncConfig, private interface {
	GetKey(context.Context, string) ([]byte, diag.Diagnostics)
}, from estimateListing, in estimateInput) (*transferEstimate, diag.Diagnostics) {
	return r.plannedEstimateOf(ctx, c, private, from, in.SrcHash, func() (*transferEstimate, diag.Diagnostics) {
		return r.estimateTransfer(ctx, cn, c, in)
	})
}

// plannedEstimateOf is plannedEstimate with the estimate made by estimate
// (of the source hashing to source) when the approved plan's is not
// found.
func (r *directoryResource) plannedEstimateOf(ctx context.Context, c syncConfig, private interface {
	GetKey(context.Context, string) ([]byte, diag.Diagnostics)
}, from estimateListing, source string, estimate func() (*transferEstimate, diag.Diagnostics)) (*transferEstimate, diag.Diagnostics) {
	var ref []byte
	if from != listingListed {
		ref, _ = private.GetKey(ctx, privateListing)
	}
	key := r.destKey(c)
	// Refresh's listing in this process is looked up too: a provider
	// served in one process for plan and apply (debug mode, reattach, as
	// the CLI-driven tests do) still holds it in the apply walk, which
	// must plan the approved estimate without asking the server again —
	// an apply whose connection fails then fails on that, not on an
	// inconsistent plan. A listing is saved once per refresh, so the plan
	// walk finds no estimate of its own listing but one it made itself.
	if from != listingListed {
		if est, ok := r.settings.listings.loadEstimate(ref, key, source); ok {
			tflog.Debug(ctx, "using the transfer estimate of the approved plan", map[string]interface{}{"destination": c.Ends.Dst.Raw})
			return est, nil
		}
	}
	est, diags := estimate()
	if from == listingOfRefresh {
		r.settings.listings.saveEstimate(ctx, ref, key, source, est)
	}
	return est, diags
}
