package tree

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// TestItemCompact: a plain file and a directory carry nothing beyond the
// 64-byte item (no extra, the digest inline); the rarer kinds keep what
// they need; a digest longer than the inline array is kept whole; a copy
// of an item changed through a setter leaves the original as it was.
func TestItemCompact(t *testing.T) {
	if size := unsafe.Sizeof(Item{}); unsafe.Sizeof(uintptr(0)) == 8 && size != 64 {
		t.Errorf("an Item is %d bytes, want 64", size)
	}
	sum := []byte("0123456789abcdef")
	m := FromEntriesWith([]*flist.Entry{
		{Name: ".", Mode: flist.SIFDIR | 0o755},
		{Name: "a", Mode: flist.SIFREG | 0o644, Checksum: sum, HlinkGroup: 1},
		{Name: "b", Mode: flist.SIFREG | 0o644, Checksum: sum, HlinkGroup: 1},
		{Name: "dev", Mode: flist.SIFCHR | 0o600, RdevMajor: 1, RdevMinor: 3},
		{Name: "l", Mode: flist.SIFLNK | 0o777, LinkTarget: "a"},
		{Name: "long", Mode: flist.SIFREG | 0o644, Checksum: []byte("0123456789abcdefXYZW")},
		{Name: "short", Mode: flist.SIFREG | 0o644, Checksum: []byte{7}},
	}, "", Content, csum.XXH128, Options{Devices: true, Specials: true, HardLinks: true})
	byName := map[string]*Item{}
	for i := range m.Items {
		byName[m.Items[i].Name] = &m.Items[i]
	}
	for _, name := range []string{".", "a", "short"} {
		if byName[name].extra != nil {
			t.Errorf("%s carries %+v beside its item", name, *byName[name].extra)
		}
	}
	sum[0] = 'X' // the item holds a copy, not the entry's slice
	if got := string(byName["a"].Digest()); got != "0123456789abcdef" {
		t.Errorf("a's digest %q", got)
	}
	if b := byName["b"]; b.LinkTo() != "a" || string(b.Digest()) != "0123456789abcdef" {
		t.Errorf("b: link to %q, digest %q", b.LinkTo(), b.Digest())
	}
	if d := byName["dev"]; d.Rdev() != 1<<32|3 || d.Digest() != nil || d.Target() != "" {
		t.Errorf("dev: rdev %#x, digest %q, target %q", d.Rdev(), d.Digest(), d.Target())
	}
	if l := byName["l"]; l.Target() != "a" || l.Rdev() != 0 {
		t.Errorf("l: target %q, rdev %d", l.Target(), l.Rdev())
	}
	if got := byName["long"].Digest(); string(got) != "0123456789abcdefXYZW" {
		t.Errorf("a 20-byte digest reads as %q", got)
	}
	if got := byName["short"].Digest(); !bytes.Equal(got, []byte{7}) || cap(got) != 1 {
		t.Errorf("a 1-byte digest reads as %v (cap %d)", got, cap(got))
	}

	c := *byName["l"]
	c.SetTarget("elsewhere")
	c.SetRdev(9)
	c.SetDigest([]byte("0123456789abcdefXYZW!"))
	if byName["l"].Target() != "a" || byName["l"].Rdev() != 0 || byName["l"].Digest() != nil {
		t.Errorf("changing a copy changed the original: %+v", *byName["l"].extra)
	}
	c.SetTarget("")
	c.SetRdev(0)
	c.SetDigest(nil)
	if c.extra != nil || c.Digest() != nil {
		t.Errorf("an item with nothing extra left still carries %+v", *c.extra)
	}
	long := *byName["long"]
	long.SetDigest([]byte{1, 2})
	if long.extra != nil || !bytes.Equal(long.Digest(), []byte{1, 2}) || string(byName["long"].Digest()) != "0123456789abcdefXYZW" {
		t.Errorf("a short digest over a long one: %v, the original %q", long.Digest(), byName["long"].Digest())
	}
}

// TestNameArena: names copied across several blocks, and one too long for
// a block, all read back as they were; short ones share their block.
func TestNameArena(t *testing.T) {
	var a nameArena
	var in, out []string
	for i := range 20000 {
		s := strings.Repeat(string(rune('a'+i%26)), 1+i%13) + "/" + strconv.Itoa(i)
		in, out = append(in, s), append(out, a.intern(s))
	}
	long := strings.Repeat("x", maxArenaName+1)
	in, out = append(in, long, "after"), append(out, a.intern(long), a.intern("after"))
	for i := range in {
		if in[i] != out[i] {
			t.Fatalf("name %d reads %q, want %q", i, out[i], in[i])
		}
	}
	// Short names lie end to end in one block, not in objects of their own.
	if unsafe.Pointer(unsafe.StringData(out[1])) != unsafe.Add(unsafe.Pointer(unsafe.StringData(out[0])), len(out[0])) {
		t.Error("the second name does not follow the first in its block")
	}
}
