package flist

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/fuzzseed"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// withLinks turns some non-directories of a send-order list into hard-link
// sets: a first entry and later ones that are its copies under their own
// names (the same inode has the same metadata). Labels are arbitrary, as
// the encoder must not depend on them being positions.
func withLinks(rng *rand.Rand, entries []*Entry) []*Entry {
	var firsts []*Entry
	label := uint32(1000)
	for i, e := range entries {
		if e.IsDir() {
			continue
		}
		switch {
		case len(firsts) > 0 && rng.IntN(3) == 0:
			f := firsts[rng.IntN(len(firsts))]
			cp := *f
			cp.Name, cp.TopDir = e.Name, false
			entries[i] = &cp
		case rng.IntN(3) == 0:
			label += 7
			e.HlinkGroup = label
			firsts = append(firsts, e)
		}
	}
	return entries
}

// canonical is what a decoder returns for a list with links: each set
// labelled 1 + the position of its first entry.
func canonical(c Codec, entries []*Entry) []*Entry {
	first := map[uint32]uint32{}
	out := make([]*Entry, len(entries))
	for i, e := range entries {
		x := expectDecoded(c, e)
		if x.HlinkGroup != 0 {
			g, ok := first[x.HlinkGroup]
			if !ok {
				g = uint32(i) + 1
				first[x.HlinkGroup] = g
			}
			x.HlinkGroup = g
		}
		out[i] = x
	}
	return out
}

// checkLinkSet: an entry of a hard-link set is no directory, and its set's
// label names an earlier (or the same) entry that is the set's first and
// that it copies in everything but the name.
func checkLinkSet(t *testing.T, c Codec, entries []*Entry, i int) {
	t.Helper()
	e := entries[i]
	if e.HlinkGroup == 0 {
		return
	}
	if !c.PreserveHardLinks || e.IsDir() {
		t.Fatalf("entry %d (%q, mode %o) is in hard-link set %d", i, e.Name, e.Mode, e.HlinkGroup)
	}
	g := int(e.HlinkGroup) - 1
	if g > i || entries[g].HlinkGroup != e.HlinkGroup {
		t.Fatalf("entry %d (%q) is in set %d, whose first entry is not before it", i, e.Name, e.HlinkGroup)
	}
	want := *entries[g]
	want.Name = e.Name
	if got := *e; g != i && !reflect.DeepEqual(got, want) {
		t.Fatalf("entry %d is a link to entry %d but differs:\n got %+v\nwant %+v", i, g, got, want)
	}
}

func TestHardLinkRoundTrip(t *testing.T) {
	for _, proto := range []int{30, 31, 32} {
		for _, varint := range []bool{false, true} {
			for _, sum := range []int{0, 16} {
				c := Codec{Protocol: proto, VarintFlags: varint, PreserveUID: true, PreserveGID: true, PreserveLinks: true,
					PreserveDevices: true, PreserveSpecials: true, PreserveHardLinks: true, ChecksumLen: sum}
				t.Run(codecName(c), func(t *testing.T) {
					for seed := range uint64(20) {
						rng := rand.New(rand.NewPCG(seed, 7))
						entries := withLinks(rng, randomEntries(rng, 60, sum))
						enc := encodeList(t, c, entries, 0)
						got, _, _, err := decodeList(c, enc)
						if err != nil {
							t.Fatalf("seed %d: %v", seed, err)
						}
						want := canonical(c, entries)
						if len(got) != len(want) {
							t.Fatalf("seed %d: %d entries, want %d", seed, len(got), len(want))
						}
						for i := range want {
							if !reflect.DeepEqual(got[i], want[i]) {
								t.Fatalf("seed %d entry %d:\n got %+v\nwant %+v", seed, i, got[i], want[i])
							}
							checkLinkSet(t, c, got, i)
						}
						// Without -H the same entries go out whole, unlinked.
						plain := c
						plain.PreserveHardLinks = false
						got, _, _, err = decodeList(plain, encodeList(t, plain, entries, 0))
						if err != nil {
							t.Fatalf("seed %d without -H: %v", seed, err)
						}
						for i := range got {
							if got[i].HlinkGroup != 0 || !reflect.DeepEqual(got[i], expectDecoded(plain, entries[i])) {
								t.Fatalf("seed %d without -H, entry %d: %+v", seed, i, got[i])
							}
						}
					}
				})
			}
		}
	}
}

// TestHardLinkFollowerIsNameAndIndex pins the wire form of a later link
// (flist.c:send_file_entry at protocol 30+): flags with XMIT_HLINKED and
// without XMIT_HLINK_FIRST, the name, the first entry's index as a varint,
// and nothing else; the first entry carries XMIT_HLINK_FIRST.
func TestHardLinkFollowerIsNameAndIndex(t *testing.T) {
	c := Codec{Protocol: 32, VarintFlags: true, PreserveUID: true, PreserveGID: true, PreserveLinks: true, PreserveHardLinks: true}
	entries := []*Entry{
		{Name: ".", Mode: SIFDIR | 0o755, TopDir: true, ModTime: 1577836800},
		{Name: "a", Mode: SIFREG | 0o644, ModTime: 1577836801, Size: 5, UID: 1000, GID: 1000, HlinkGroup: 2},
		{Name: "b", Mode: SIFREG | 0o644, ModTime: 1577836801, Size: 5, UID: 1000, GID: 1000, HlinkGroup: 2},
	}
	enc := encodeList(t, c, entries[:2], 0)
	head := len(enc) - 2 // the end marker: varint 0, io_error varint 0
	full := encodeList(t, c, entries, 0)
	r := wire.NewReader(bytes.NewReader(full[head : len(full)-2]))
	flags := uint32(r.Varint())
	l2, name, ref := r.Byte(), r.Bytes(1, 1, "name"), r.Varint()
	if r.Err() != nil || flags&(xmitHlinked|xmitHlinkFirst) != xmitHlinked || flags&(xmitSameName|xmitLongName) != 0 ||
		l2 != 1 || string(name) != "b" || ref != 1 || r.Count() != int64(len(full)-2-head) {
		t.Fatalf("follower encoded as % x: flags %#x, name %d %q, index %d (err %v)", full[head:len(full)-2], flags, l2, name, ref, r.Err())
	}
	// The first entry's flags: varint of XMIT_HLINKED|XMIT_HLINK_FIRST|... (bit 12 set).
	r = wire.NewReader(bytes.NewReader(enc[len(encodeList(t, c, entries[:1], 0))-2:]))
	if flags := uint32(r.Varint()); flags&(xmitHlinked|xmitHlinkFirst) != xmitHlinked|xmitHlinkFirst {
		t.Fatalf("first entry flags %#x lack HLINKED|HLINK_FIRST", flags)
	}
}

// TestHardLinkHostile: a sender may not make a link to what it did not
// describe as the first of a set before (an index out of range, negative,
// of a plain file, of a directory), nor mark a directory as linked, nor
// send links we did not ask for.
func TestHardLinkHostile(t *testing.T) {
	c := Codec{Protocol: 32, VarintFlags: true, PreserveLinks: true, PreserveHardLinks: true}
	prefix := encodeList(t, c, []*Entry{
		{Name: ".", Mode: SIFDIR | 0o755, TopDir: true},
		{Name: "plain", Mode: SIFREG | 0o644, Size: 1},
		{Name: "first", Mode: SIFREG | 0o644, Size: 1, HlinkGroup: 9},
	}, 0)
	prefix = prefix[:len(prefix)-2]
	follower := func(name string, ref int32) []byte {
		var b bytes.Buffer
		w := wire.NewWriter(&b)
		w.Varint(xmitHlinked)
		w.Byte(byte(len(name)))
		w.Raw([]byte(name))
		w.Varint(ref)
		w.Varint(0)
		w.Varint(0)
		return b.Bytes()
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for name, tc := range map[string]struct {
		codec Codec
		data  []byte
		msg   string
	}{
		"ok":              {c, cat(prefix, follower("link", 2)), ""},
		"negative index":  {c, cat(prefix, follower("link", -1)), "not the first"},
		"index ahead":     {c, cat(prefix, follower("link", 3)), "not the first"},
		"far ahead":       {c, cat(prefix, follower("link", 1<<30)), "not the first"},
		"plain file":      {c, cat(prefix, follower("link", 1)), "not the first"},
		"directory first": {c, cat(prefix, follower("link", 0)), "not the first"},
		"unsafe name":     {c, cat(prefix, follower("..", 2)), "unsafe"},
		"linked directory": {c, func() []byte {
			var b bytes.Buffer
			w := wire.NewWriter(&b)
			w.Varint(xmitHlinked | xmitHlinkFirst | xmitTopDir)
			w.Byte(1)
			w.Raw([]byte("."))
			w.Varlong(0, 3)
			w.Varlong(0, 4)
			w.Int32(int32(SIFDIR | 0o755))
			w.Varint(0)
			w.Varint(0)
			return b.Bytes()
		}(), "directory marked as hard-linked"},
		"not asked for": {Codec{Protocol: 32, VarintFlags: true, PreserveLinks: true}, cat(prefix, follower("link", 2)), "did not ask for"},
	} {
		t.Run(name, func(t *testing.T) {
			got, _, _, err := decodeList(tc.codec, tc.data)
			if tc.msg == "" {
				if err != nil || len(got) != 4 || got[3].Name != "link" || got[3].HlinkGroup != got[2].HlinkGroup || got[3].Size != 1 {
					t.Fatalf("valid link: %v, %+v", err, got)
				}
				return
			}
			if err == nil || !errors.Is(err, wire.ErrMalformed) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v, want a malformed-list error containing %q", err, tc.msg)
			}
		})
	}
}

func hardLinkSeeds() []fuzzseed.Seed {
	var out []fuzzseed.Seed
	for i, c := range []Codec{
		{Protocol: 32, VarintFlags: true, PreserveUID: true, PreserveGID: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true},
		{Protocol: 31, VarintFlags: true, PreserveUID: true, PreserveGID: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true, ChecksumLen: 16},
		{Protocol: 30, PreserveUID: true, PreserveGID: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true},
	} {
		var entries []*Entry
		// The first random list (by seed) with a set of at least two.
		for seed := uint64(i); !hasLinkSet(entries); seed += 3 {
			rng := rand.New(rand.NewPCG(seed, 17))
			entries = randomEntries(rng, 10, c.ChecksumLen)
			for _, e := range entries {
				if len(e.Name) > 40 {
					e.Name = e.Name[:40]
				}
				if len(e.LinkTarget) > 40 {
					e.LinkTarget = e.LinkTarget[:40]
				}
			}
			entries = withLinks(rng, safeNames(entries))
		}
		c.PreserveHardLinks = true
		out = append(out, fuzzseed.Seed{Name: "hlink-" + codecName(c), Args: []any{encodeList(panicker{}, c, entries, 0), variantOf(withoutLinks(c))}})
	}
	return out
}

func hasLinkSet(entries []*Entry) bool {
	n := map[uint32]int{}
	for _, e := range entries {
		if e.HlinkGroup != 0 {
			if n[e.HlinkGroup]++; n[e.HlinkGroup] == 2 {
				return true
			}
		}
	}
	return false
}

func withoutLinks(c Codec) Codec {
	c.PreserveHardLinks = false
	return c
}

// FuzzFileListHardLinks: FuzzFileList with -H, whose later links copy
// earlier entries by index: on top of FuzzFileList's checks, every link
// refers to an earlier first entry of its set, and copies it.
func FuzzFileListHardLinks(f *testing.F) {
	for _, s := range hardLinkSeeds() {
		f.Add(s.Args[0].([]byte), s.Args[1].(byte))
	}
	f.Add([]byte{0x82, 0x00, 0x01, 'b', 0x01}, byte(4))
	f.Fuzz(func(t *testing.T, data []byte, variant byte) {
		c := codecFor(variant)
		c.PreserveHardLinks = true
		checkDecoded(t, c, data)
	})
}
