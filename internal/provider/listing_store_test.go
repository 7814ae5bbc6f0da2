package provider

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

func testListing(name string) *tree.Manifest {
	return &tree.Manifest{Mode: tree.Content, Algo: csum.XXH128, Items: []tree.Item{
		{Name: ".", Kind: tree.Dir, Perm: 0o755},
		tree.Item{Name: name, Kind: tree.File, Perm: 0o644, Size: 3, ModTime: 1700000000}.WithDigest([]byte{1, 2, 3}),
	}}
}

func TestListingStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := &listingStore{dir: filepath.Join(t.TempDir(), "listings")}
	m := testListing("a.txt")
	ref, err := s.save(ctx, "key-1", m)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s.load(ctx, "key-1", ref)
	if !ok || got.Hash() != m.Hash() || got.Items[1].Size != 3 || got.Items[1].ModTime != 1700000000 {
		t.Fatalf("load = %+v, %v; want the saved listing", got, ok)
	}
	fi, err := os.Stat(s.dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("store directory mode %v (%v), want 0700", fi.Mode(), err)
	}

	// Another destination's key, a changed file and a forged token all
	// miss (the caller lists again).
	if _, ok := s.load(ctx, "key-2", ref); ok {
		t.Error("loaded a listing under another destination's key")
	}
	var r listingRef
	if err := json.Unmarshal(ref, &r); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.dir, r.Token)
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 1
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.load(ctx, "key-1", ref); ok {
		t.Error("loaded a listing whose bytes changed")
	}
	forged, _ := json.Marshal(listingRef{Token: "../../etc/passwd", Sum: r.Sum})
	if _, ok := s.load(ctx, "key-1", forged); ok {
		t.Error("loaded a listing through a token that is a path")
	}

	s.remove(ref)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("remove left %s (%v)", p, err)
	}
	// No store: nothing saved, nothing loaded.
	var none *listingStore
	if ref, err := none.save(ctx, "key-1", m); ref != nil || err != nil {
		t.Errorf("nil store saved: %q, %v", ref, err)
	}
}

func TestListingStorePrunes(t *testing.T) {
	ctx := context.Background()
	s := &listingStore{dir: filepath.Join(t.TempDir(), "listings")}
	var refs [][]byte
	for i := 0; i < listingKeepPerKey+2; i++ {
		ref, err := s.save(ctx, "key-1", testListing("a.txt"))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
		// Distinct times, oldest first.
		var r listingRef
		if err := json.Unmarshal(ref, &r); err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(time.Duration(i-10) * time.Minute)
		if err := os.Chtimes(filepath.Join(s.dir, r.Token), when, when); err != nil {
			t.Fatal(err)
		}
	}
	other, err := s.save(ctx, "key-2", testListing("b.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// An old listing of a third destination goes by age.
	stale, err := s.save(ctx, "key-3", testListing("c.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var r listingRef
	if err := json.Unmarshal(stale, &r); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * listingMaxAge)
	if err := os.Chtimes(filepath.Join(s.dir, r.Token), old, old); err != nil {
		t.Fatal(err)
	}
	// Old files are swept once per store, i.e. per configured provider
	// (walk): the next walk's store sweeps the one aged above.
	s = &listingStore{dir: s.dir}
	if _, err := s.save(ctx, "key-1", testListing("a.txt")); err != nil {
		t.Fatal(err)
	}

	ents, _ := os.ReadDir(s.dir)
	if len(ents) != listingKeepPerKey+1 {
		t.Errorf("store holds %d files, want %d for key-1 and 1 for key-2", len(ents), listingKeepPerKey+1)
	}
	if _, ok := s.load(ctx, "key-2", other); !ok {
		t.Error("pruning key-1 removed key-2's listing")
	}
	if _, ok := s.load(ctx, "key-3", stale); ok {
		t.Error("a listing older than listingMaxAge was kept")
	}
	if _, ok := s.load(ctx, "key-1", refs[0]); ok {
		t.Error("the oldest of key-1's listings was kept")
	}
	if _, ok := s.load(ctx, "key-1", refs[len(refs)-1]); !ok {
		t.Error("a recent listing of key-1 was pruned")
	}
}

func TestListingStoreRefusesSharedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "listings")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	s := &listingStore{dir: dir}
	if _, err := s.save(context.Background(), "key-1", testListing("a.txt")); err == nil {
		t.Error("saved into a directory others may write")
	}
}

// TestListingStoreChunks: a listing of several chunks comes back whole and
// equal; a file cut short, a file of the previous format (one gob value
// of the whole manifest) and a header that claims more items than its
// chunks hold are not loaded.
func TestListingStoreChunks(t *testing.T) {
	ctx := context.Background()
	s := &listingStore{dir: filepath.Join(t.TempDir(), "listings")}
	m := &tree.Manifest{Mode: tree.Content, Algo: csum.XXH3, Items: []tree.Item{{Name: ".", Kind: tree.Dir, Perm: 0o755}}}
	for i := range 2*listingChunk + 17 {
		m.Items = append(m.Items, tree.Item{Name: fmt.Sprintf("f%05d", i), Kind: tree.File, Perm: 0o644, Size: int64(i), ModTime: 1700000000 + int64(i)}.WithDigest([]byte{byte(i), byte(i >> 8)}))
	}
	ref, err := s.save(ctx, "key-1", m)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s.load(ctx, "key-1", ref)
	if !ok || !reflect.DeepEqual(got, m) {
		t.Fatalf("load of a %d-item listing: %v, equal %v", len(m.Items), ok, ok && reflect.DeepEqual(got, m))
	}
	var r listingRef
	if err := json.Unmarshal(ref, &r); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.dir, r.Token)
	whole, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// Written by other means, with a matching digest: only the content
	// decides.
	refTo := func(b []byte) []byte {
		t.Helper()
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(listingRef{Token: r.Token, Sum: digest(b)})
		return out
	}
	if _, ok := s.load(ctx, "key-1", refTo(whole[:len(whole)/2])); ok {
		t.Error("loaded a listing cut in half")
	}
	type oldStoredListing struct {
		Key      string
		Manifest tree.Manifest
	}
	var old bytes.Buffer
	if err := gob.NewEncoder(&old).Encode(oldStoredListing{Key: "key-1", Manifest: *m}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.load(ctx, "key-1", refTo(old.Bytes())); ok {
		t.Error("loaded a listing of the previous format")
	}
	var format3 bytes.Buffer
	enc := gob.NewEncoder(&format3)
	if err := enc.Encode(listingHeader{Format: 3, Key: "key-1", Mode: m.Mode, Algo: m.Algo, Items: len(m.Items)}); err != nil {
		t.Fatal(err)
	}
	if err := enc.Encode(packItems(nil, m.Items)); err != nil {
		t.Fatal(err)
	}
	if got, ok := s.load(ctx, "key-1", refTo(format3.Bytes())); !ok || !reflect.DeepEqual(got, m) {
		t.Errorf("a format 3 listing reads as %+v, %v", got, ok)
	}
	var lying bytes.Buffer
	enc = gob.NewEncoder(&lying)
	if err := enc.Encode(listingHeader{Format: 3, Key: "key-1", Mode: m.Mode, Algo: m.Algo, Items: len(m.Items) + 1}); err != nil {
		t.Fatal(err)
	}
	if err := enc.Encode(packItems(nil, m.Items)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.load(ctx, "key-1", refTo(lying.Bytes())); ok {
		t.Error("loaded a listing whose header claims more items than it holds")
	}
	var lyingTrailer bytes.Buffer
	enc = gob.NewEncoder(&lyingTrailer)
	for _, v := range []any{listingHeader{Format: 4, Key: "key-1", Mode: m.Mode}, packItems(nil, m.Items), []byte{}, listingTrailer{Algo: m.Algo, Items: len(m.Items) + 1}} {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := s.load(ctx, "key-1", refTo(lyingTrailer.Bytes())); ok {
		t.Error("loaded a listing whose trailer claims more items than it holds")
	}
}
