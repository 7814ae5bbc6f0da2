package tree_test

import (
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// everyKind is a file list with an entry of every kind a manifest
// describes: files (digests of 16, 8 and 20 bytes, none, and rsync's
// all-zero sum of a file it could not read), directories (one the
// lister could not open), a symlink, devices of both kinds (one with a
// major above 32 bits' worth of minor), a fifo, a socket and a hard-link
// set of three names, in rsync's order.
func everyKind() []*flist.Entry {
	sum := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = seed + byte(i)*7
		}
		return b
	}
	entries := []*flist.Entry{
		{Name: ".", Mode: flist.SIFDIR | 0o755},
		{Name: "a.txt", Mode: flist.SIFREG | 0o644, Size: 11, ModTime: 1700000001, Checksum: sum(16, 1)},
		{Name: "b8", Mode: flist.SIFREG | 0o600, Size: 0, ModTime: 1700000002, Checksum: sum(8, 2)},
		{Name: "c20", Mode: flist.SIFREG | 0o640, Size: 20, ModTime: 1700000003, Checksum: sum(20, 3)},
		{Name: "chr", Mode: flist.SIFCHR | 0o620, RdevMajor: 4, RdevMinor: 64},
		{Name: "blk", Mode: flist.SIFBLK | 0o660, RdevMajor: 0xfffff, RdevMinor: 0xffffffff},
		{Name: "fifo", Mode: flist.SIFIFO | 0o640},
		{Name: "link", Mode: flist.SIFLNK | 0o777, ModTime: 5, LinkTarget: "a.txt"},
		{Name: "h1", Mode: flist.SIFREG | 0o644, Size: 6, ModTime: 1700000004, Checksum: sum(16, 4), HlinkGroup: 9},
		{Name: "nosum", Mode: flist.SIFREG | 0o644, Size: 7, ModTime: 1700000005},
		{Name: "sock", Mode: flist.SIFSOCK | 0o755},
		{Name: "zero", Mode: flist.SIFREG | 0o400, Size: 8, ModTime: 1700000006, Checksum: make([]byte, 16)},
		{Name: "d", Mode: flist.SIFDIR | 0o711},
		{Name: "d/h2", Mode: flist.SIFREG | 0o644, Size: 6, ModTime: 1700000004, Checksum: sum(16, 4), HlinkGroup: 9},
		{Name: "d/h3", Mode: flist.SIFREG | 0o644, Size: 6, ModTime: 1700000004, Checksum: sum(16, 4), HlinkGroup: 9},
		{Name: "d/link2", Mode: flist.SIFLNK | 0o777, LinkTarget: "../no/such/target"},
		{Name: "locked", Mode: flist.SIFDIR}, // mode 0000,
	}
	flist.Sort(entries)
	return entries
}

// TestHashPinned: the hashes of a manifest of every kind, in both modes,
// with and without hard links and with devices and specials ignored, are
// the values they were before the item layout changed (issue 15's compact
// entries). State files hold these hashes: a change would show every
// existing resource as changed.
func TestHashPinned(t *testing.T) {
	noDev := tree.Options{HardLinks: true}
	cases := []struct {
		name string
		mode tree.Mode
		opts tree.Options
		want string
	}{
		{"content, -a -H", tree.Content, tree.Options{Devices: true, Specials: true, HardLinks: true}, "xxh128:29eb8850a9499e1e5b807456b332178d"},
		{"content, -a", tree.Content, tree.DefaultOptions(), "xxh128:082feb4dd02b72b21f1fcb3d63ad9d09"},
		{"content, -H, no devices or specials", tree.Content, noDev, "xxh128:db3cb07df3380c580b1050af331f48d3"},
		{"metadata, -a -H", tree.Metadata, tree.Options{Devices: true, Specials: true, HardLinks: true}, "meta:acf2f3c16d360eb55a621191b2a3bd78"},
	}
	for _, c := range cases {
		m := tree.FromEntriesWith(everyKind(), "", c.mode, csum.XXH128, c.opts)
		m.MarkUnlisted([]string{"locked"})
		if len(m.Items) != 17 {
			t.Fatalf("%s: %d items, want 17", c.name, len(m.Items))
		}
		if got := m.Hash(); got != c.want {
			t.Errorf("%s: hash %s, want %s", c.name, got, c.want)
		}
	}
}
