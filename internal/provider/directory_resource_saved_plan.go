package provider

// A plan applied after its source changed: a saved plan (`terraform plan
// -out` then `terraform apply PLANFILE`), or an interactive apply whose
// source was edited while Terraform waited for "yes".

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
)

// privateSourceAtRefresh is the private state key under which refresh
// records the source's hash (source_hash's definition) as it was when the
// plan that follows was made.
//
// Why: the apply walk plans every changed resource again and requires the
// result to equal the plan the user approved. It hashes the source again;
// if the source changed in between, its source_hash and pending differed
// and Terraform failed with "Provider produced inconsistent final plan"
// (in its words a provider bug), saying nothing of the cause. The
// framework does not say which walk a ModifyPlan belongs to, and the apply
// walk's re-plan never sees the saved plan's values; it does see the
// private state of the refreshed state the plan was made from. So Read
// records the hash there, and a re-plan whose fresh hash differs fails
// with our own error before anything is copied. In the plan walk the two
// are the same hash of the same moment (ModifyPlan uses the hash Read
// made, hashSourceAhead). Create and Update clear the record (the planned
// private state drops it), so a plan made with -refresh=false after an
// apply has none to compare with; one made with -refresh=false after a
// refresh-only apply and a source edit is refused too, and the message
// says to plan with refresh.
const privateSourceAtRefresh = "source_at_refresh"

// sourceRecord is what privateSourceAtRefresh holds: the hash, and which
// source (path, filters, chmod, where it lands) it is the hash of — Read
// hashes the source as the prior state configures it, and a plan that
// changes the configuration is not a stale plan.
type sourceRecord struct {
	Of   string `json:"of"`
	Hash string `json:"hash"`
}

// sourceIdentity names the configured source as sourceRecord.Of does.
func (r *directoryResource) sourceIdentity(c syncConfig) string {
	sum := sha256.Sum256([]byte(r.sourceAheadKey(c) + "\x00" + c.Chmod))
	return hex.EncodeToString(sum[:16])
}

// sourceAtRefresh is the record to keep in private state of the source
// hash Read made (hashSourceAhead), or nil when there is none (a remote or
// unknown source, or a hash that warned).
func (r *directoryResource) sourceAtRefresh(c syncConfig, hash string) []byte {
	if hash == "" {
		return nil
	}
	rec, err := json.Marshal(sourceRecord{Of: r.sourceIdentity(c), Hash: hash})
	if err != nil {
		return nil
	}
	return rec
}

// checkSourceSincePlan compares the source as this plan found it with the
// record refresh left (privateSourceAtRefresh) and fails when they
// differ: the plan being applied was made from another source. A record
// of another source configuration, or made with another digest
// algorithm, is not comparable and is ignored.
func (r *directoryResource) checkSourceSincePlan(ctx context.Context, private interface {
	GetKey(context.Context, string) ([]byte, diag.Diagnostics)
}, c syncConfig, now string) diag.Diagnostics {
	var diags diag.Diagnostics
	if now == "" {
		return nil // not read: its error says so
	}
	raw, d := private.GetKey(ctx, privateSourceAtRefresh)
	if d.HasError() || len(raw) == 0 {
		return nil
	}
	var rec sourceRecord
	if json.Unmarshal(raw, &rec) != nil || rec.Of != r.sourceIdentity(c) {
		return nil
	}
	then := rec.Hash
	if then == now || hashAlgoName(then) != hashAlgoName(now) {
		return nil
	}
	diags.AddAttributeError(path.Root("source"), "Source changed since the plan",
		fmt.Sprintf("The source %s changed after terraform plan read it (source_hash was %s when planned, %s now), "+
			"so the plan being applied no longer describes what would be copied. Nothing was copied.\n\n"+
			"Run terraform plan again and apply the new plan (with a saved plan: terraform plan -out=FILE, then "+
			"terraform apply FILE), or put the source back as it was planned. If this plan was made with "+
			"-refresh=false, plan with refresh.", c.Ends.Src.Raw, then, now))
	return diags
}

// hashAlgoName is the digest name a source_hash starts with ("xxh128").
func hashAlgoName(h string) string {
	name, _, _ := strings.Cut(h, ":")
	return name
}
