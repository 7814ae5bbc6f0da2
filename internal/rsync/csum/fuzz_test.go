package csum

import (
	"github.com/rsyncprovider/terraform-provider-rsync/internal/fuzzseed"
	"strings"
	"testing"
)

func negotiateSeeds() []fuzzseed.Seed {
	return []fuzzseed.Seed{
		// What stock servers send (NOTES.md §4).
		{Name: "rsync-3.2.7", Args: []any{"xxh128 xxh3 xxh64 md5 md4 sha1 none"}},
		{Name: "rsync-3.2.3", Args: []any{"xxh128 xxh3 xxh64 md5 md4 none"}},
		{Name: "md-only", Args: []any{"md5 md4"}},
		{Name: "nothing-common", Args: []any{"md4 sha1 none"}},
	}
}

// FuzzNegotiate: the server's checksum list is peer input. Whatever it
// says, Negotiate picks the first of ours that it names (in any case, with
// "xxhash" for xxh64) or says clearly that there is none.
func FuzzNegotiate(f *testing.F) {
	for _, s := range negotiateSeeds() {
		f.Add(s.Args[0].(string))
	}
	f.Add("")
	f.Add("XXHASH\tMD5")
	f.Add("\xff\x00 md5\u00a0xxh3")
	f.Fuzz(func(t *testing.T, list string) {
		named := map[Algo]bool{}
		for _, w := range strings.Fields(list) {
			if a, ok := ByName(w); ok {
				named[a] = true
			}
		}
		var want Algo
		for _, a := range Offered {
			if named[a] {
				want = a
				break
			}
		}
		got, err := Negotiate(Offered, list)
		if want == 0 {
			if err == nil {
				t.Fatalf("Negotiate(%q) = %v, want an error", list, got)
			}
			if !strings.Contains(err.Error(), OfferString(Offered)) {
				t.Fatalf("error %q does not say what we support", err)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("Negotiate(%q) = %v, %v; want %v", list, got, err, want)
		}
	})
}

func TestFuzzSeedCorpus(t *testing.T) {
	fuzzseed.Check(t, "FuzzNegotiate", negotiateSeeds(), true)
}
