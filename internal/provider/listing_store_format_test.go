package provider

import (
	"bytes"
	"encoding/gob"
	"os"
	"reflect"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// listingOfEveryKind is a listing with an item of every kind: files
// (digests of 16, 8 and 20 bytes, none, unreadable), directories (one
// unlisted), symlinks, devices, a fifo, a socket, a hard-link set, and a
// device the options ignore.
func listingOfEveryKind() *tree.Manifest {
	entries := []*flist.Entry{
		{Name: ".", Mode: flist.SIFDIR | 0o755},
		{Name: "a.txt", Mode: flist.SIFREG | 0o644, Size: 11, ModTime: 1700000001, Checksum: []byte("0123456789abcdef")},
		{Name: "b8", Mode: flist.SIFREG | 0o600, ModTime: 1700000002, Checksum: []byte("01234567")},
		{Name: "c20", Mode: flist.SIFREG | 0o640, Size: 20, ModTime: 1700000003, Checksum: []byte("0123456789abcdefghij")},
		{Name: "chr", Mode: flist.SIFCHR | 0o620, RdevMajor: 4, RdevMinor: 64},
		{Name: "blk", Mode: flist.SIFBLK | 0o660, RdevMajor: 8, RdevMinor: 1},
		{Name: "fifo", Mode: flist.SIFIFO | 0o640},
		{Name: "link", Mode: flist.SIFLNK | 0o777, LinkTarget: "a.txt"},
		{Name: "h1", Mode: flist.SIFREG | 0o644, Size: 6, ModTime: 1700000004, Checksum: []byte("hhhhhhhhhhhhhhhh"), HlinkGroup: 3},
		{Name: "nosum", Mode: flist.SIFREG | 0o644, Size: 7, ModTime: 1700000005},
		{Name: "zero", Mode: flist.SIFREG | 0o400, Size: 8, ModTime: 1700000006, Checksum: make([]byte, 16)},
		{Name: "d", Mode: flist.SIFDIR | 0o711},
		{Name: "d/h2", Mode: flist.SIFREG | 0o644, Size: 6, ModTime: 1700000004, Checksum: []byte("hhhhhhhhhhhhhhhh"), HlinkGroup: 3},
		{Name: "locked", Mode: flist.SIFDIR}, // mode 0000,
	}
	flist.Sort(entries)
	m := tree.FromEntriesWith(entries, "", tree.Content, csum.XXH128, tree.Options{Devices: false, Specials: true, HardLinks: true})
	m.MarkUnlisted([]string{"locked"})
	return m
}

// TestListingFormatUnchanged: a listing file written by the provider
// before items were made compact (testdata, format 2, written by
// tree.Item as it was) reads back as the same manifest, and a file
// written now reads, as that provider read it, as the same items: the
// format did not change (gob matches fields by name; only the name of the
// item type it records differs), so its number did not either.
func TestListingFormatUnchanged(t *testing.T) {
	m := listingOfEveryKind()
	old, err := os.ReadFile("testdata/listing-format2.gob")
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeListing(gob.NewDecoder(bytes.NewReader(old)), "key-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) || got.Hash() != m.Hash() {
		t.Fatalf("the format %d file reads as\n%+v\nwant\n%+v", listingFormat, got.Items, m.Items)
	}

	var buf bytes.Buffer
	if err := encodeListing(gob.NewEncoder(&buf), "key-1", m); err != nil {
		t.Fatal(err)
	}
	// oldItem is tree.Item as the provider that wrote format 2 had it.
	type oldItem struct {
		Name          string
		Size, ModTime int64
		Digest        []byte
		Target        string
		LinkTo        string
		Rdev          uint64
		Perm          uint32
		Kind          tree.Kind
		Unreadable    bool
		Ignored       bool
	}
	dec := gob.NewDecoder(&buf)
	var hd listingHeader
	var items []oldItem
	if err := dec.Decode(&hd); err != nil || hd.Format != 2 || hd.Items != len(m.Items) {
		t.Fatalf("header %+v, %v", hd, err)
	}
	if err := dec.Decode(&items); err != nil || len(items) != len(m.Items) {
		t.Fatalf("%d items, %v", len(items), err)
	}
	for i := range items {
		it, o := &m.Items[i], items[i]
		if o.Name != it.Name || o.Size != it.Size || o.ModTime != it.ModTime || !bytes.Equal(o.Digest, it.Digest()) || o.Target != it.Target() ||
			o.LinkTo != it.LinkTo() || o.Rdev != it.Rdev() || o.Perm != it.Perm || o.Kind != it.Kind || o.Unreadable != it.Unreadable || o.Ignored != it.Ignored {
			t.Errorf("item %d reads as %+v, want %+v", i, o, *it)
		}
	}
}
