package provider

import (
	"bytes"
	"encoding/gob"
	"flag"
	"fmt"
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
// tree.Item as it was) still reads back as the same manifest, and a file
// written now is a format 3 header and one chunk whose bytes are the
// packed items in testdata (listing-format3.items), and reads back as the
// same manifest: a change to how items are packed must change the format's
// number (listingFormat) and that file. (The gob stream around the chunks
// is not compared byte for byte: gob numbers types per process.)
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
		t.Fatalf("the format 2 file reads as\n%+v\nwant\n%+v", got.Items, m.Items)
	}

	var buf bytes.Buffer
	if err := encodeListing(gob.NewEncoder(&buf), "key-1", m); err != nil {
		t.Fatal(err)
	}
	got, err = decodeListing(gob.NewDecoder(bytes.NewReader(buf.Bytes())), "key-1")
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("a listing written now reads back as %+v (%v)", got, err)
	}
	dec := gob.NewDecoder(&buf)
	var hd listingHeader
	var chunk []byte
	if err := dec.Decode(&hd); err != nil || hd.Format != 4 {
		t.Fatalf("header %+v, %v", hd, err)
	}
	if err := dec.Decode(&chunk); err != nil {
		t.Fatal(err)
	}
	if *updateListingFormat {
		if err := os.WriteFile("testdata/listing-format3.items", chunk, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/listing-format3.items")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(chunk, want) {
		t.Errorf("the items written now (%d bytes) are not testdata/listing-format3.items (%d bytes): the format changed; "+
			"give it a new listingFormat, keep reading format %d, and write the new file with -update-listing-format", len(chunk), len(want), listingFormat)
	}
	if items, err := unpackItems(nil, want); err != nil || !reflect.DeepEqual(items, m.Items) {
		t.Errorf("testdata/listing-format3.items reads as %+v (%v)", items, err)
	}
}

// updateListingFormat rewrites testdata/listing-format3.gob.
var updateListingFormat = flag.Bool("update-listing-format", false, "rewrite testdata/listing-format3.items")

// TestListingDecodeAllocs: reading back a fleet destination's listing of
// 5,000 files allocates little more than each item's name and digest;
// gob's own encoding of the items (format 2) made 8 allocations an item, and reading
// 20 such listings was a tenth of a fleet apply walk's CPU (issue 15).
func TestListingDecodeAllocs(t *testing.T) {
	m := &tree.Manifest{Mode: tree.Content, Algo: csum.XXH128, Items: []tree.Item{{Name: ".", Kind: tree.Dir, Perm: 0o755}}}
	for i := range 5000 {
		m.Items = append(m.Items, tree.Item{Name: fmt.Sprintf("t%03d/l%03d/f%06d.txt", i/2500, i/100, i), Kind: tree.File,
			Perm: 0o644, Size: int64(i % 1024), ModTime: 1700000000 + int64(i)}.WithDigest([]byte(fmt.Sprintf("%016d", i))))
	}
	var buf bytes.Buffer
	if err := encodeListing(gob.NewEncoder(&buf), "key-1", m); err != nil {
		t.Fatal(err)
	}
	var got *tree.Manifest
	allocs := testing.AllocsPerRun(5, func() {
		var err error
		if got, err = decodeListing(gob.NewDecoder(bytes.NewReader(buf.Bytes())), "key-1"); err != nil {
			t.Fatal(err)
		}
	})
	if !reflect.DeepEqual(got, m) {
		t.Fatal("the listing does not read back as written")
	}
	if perItem := allocs / float64(len(m.Items)); perItem > 2.5 {
		t.Errorf("reading a listing of %d items made %.0f allocations, %.1f an item", len(m.Items), allocs, perItem)
	}
}
