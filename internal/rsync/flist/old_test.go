package flist

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/fuzzseed"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// expectDecodedProto is expectDecoded with what protocols below 30 cannot
// carry: mtimes are 4 bytes read unsigned, and below 28 a device's rdev is
// a 32-bit dev_t (12-bit major, 20-bit minor).
func expectDecodedProto(c Codec, e *Entry) *Entry {
	x := expectDecoded(c, e)
	if c.Protocol < 30 {
		x.ModTime = clampUint32(x.ModTime)
		if c.Protocol < 28 && c.PreserveDevices && e.IsDevice() {
			x.RdevMajor, x.RdevMinor = linuxSplitdev(linuxMakedev(x.RdevMajor, x.RdevMinor))
		}
	}
	return x
}

// oldCodecFor maps a fuzz variant byte to a protocol 27–29 codec: bits 0-1
// pick 27, 28, 29 (and 27 again), the rest as codecFor.
func oldCodecFor(v byte) Codec {
	c := codecFor(v)
	c.Protocol = 27 + int(v&3)%3
	c.VarintFlags = false // no compat flags before 30
	return c
}

func oldVariantOf(c Codec) byte {
	v := variantOf(Codec{Protocol: 30, PreserveUID: c.PreserveUID, PreserveGID: c.PreserveGID,
		PreserveLinks: c.PreserveLinks, PreserveDevices: c.PreserveDevices, PreserveSpecials: c.PreserveSpecials, ChecksumLen: c.ChecksumLen})
	v = v&^3 | byte(c.Protocol-27)
	if oldCodecFor(v) != c {
		panic("codec has no old-protocol fuzz variant")
	}
	return v
}

// TestEncodeDecodeRoundTripOld: random lists survive the protocol 27–29
// encodings (byte/short flags, 4-byte fields, longint sizes, old rdevs,
// the zero sums of every entry below 28) as far as those can carry them.
func TestEncodeDecodeRoundTripOld(t *testing.T) {
	for i, proto := range []int{27, 28, 29} {
		for _, all := range []bool{false, true} {
			for _, sum := range []int{0, 16} {
				c := Codec{Protocol: proto, PreserveUID: all, PreserveGID: all, PreserveLinks: all, PreserveDevices: all, PreserveSpecials: all, ChecksumLen: sum}
				t.Run(codecName(c), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(i), 27))
					entries := randomEntries(rng, 400, c.ChecksumLen)
					enc := encodeList(t, c, entries, 0)
					got, _, n, err := decodeList(c, enc)
					if err != nil {
						t.Fatalf("decode after %d entries: %v", len(got), err)
					}
					if n != int64(len(enc)) || len(got) != len(entries) {
						t.Fatalf("decoded %d entries in %d of %d bytes, want %d", len(got), n, len(enc), len(entries))
					}
					for j, e := range entries {
						if want := expectDecodedProto(c, e); !reflect.DeepEqual(got[j], want) {
							t.Fatalf("entry %d:\n got %+v\nwant %+v", j, got[j], want)
						}
					}
				})
			}
		}
	}
}

// TestEncodeOldFlags pins the flag bytes below 30 (flist.c:send_file_entry):
// below 28 one byte whose zero low bits borrow TOP_DIR (a file) or
// LONG_NAME (a directory, whose name length is then an int32); from 28 a
// second byte follows EXTENDED_FLAGS.
func TestEncodeOldFlags(t *testing.T) {
	dir := &Entry{Name: "d", Mode: SIFDIR | 0o755, ModTime: 1, UID: 1, GID: 2}
	file := &Entry{Name: "e", Mode: SIFREG | 0o644, ModTime: 2, Size: 1, UID: 3, GID: 4}
	same := &Entry{Name: "f", Mode: SIFDIR | 0o755, ModTime: 1, UID: 1, GID: 2}
	tests := []struct {
		proto int
		ents  []*Entry
		want  string
	}{
		// 27: dir "d": flags 0x40 (LONG_NAME filler), int32 length 1, "d",
		// longint size, int32 mtime, mode, uid, gid; then the end byte.
		{27, []*Entry{dir}, "40 01000000 64 00000000 01000000 ed410000 01000000 02000000 00"},
		// 27: a file with nothing in common: TOP_DIR fills the byte.
		{27, []*Entry{dir, file}, "40 01000000 64 00000000 01000000 ed410000 01000000 02000000" +
			" 01 01 65 01000000 02000000 a4810000 03000000 04000000 00"},
		// 28: a zero flags byte for a directory becomes EXTENDED_FLAGS and a
		// shortint; then SAME_MODE|SAME_UID|SAME_GID|SAME_TIME.
		{28, []*Entry{dir, same}, "0400 01 64 00000000 01000000 ed410000 01000000 02000000 9a 01 66 00000000 00"},
	}
	for _, tt := range tests {
		c := Codec{Protocol: tt.proto, PreserveUID: true, PreserveGID: true}
		got := encodeList(t, c, tt.ents, 0)
		if want := mustHex(t, tt.want); !bytes.Equal(got, want) {
			t.Errorf("p%d: % x, want % x", tt.proto, got, want)
		}
		dec, _, _, err := decodeList(c, got)
		if err != nil || len(dec) != len(tt.ents) {
			t.Errorf("p%d: decodes to %d entries, %v", tt.proto, len(dec), err)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	var b byte
	n := 0
	for _, r := range s {
		var v byte
		switch {
		case r >= '0' && r <= '9':
			v = byte(r - '0')
		case r >= 'a' && r <= 'f':
			v = byte(r-'a') + 10
		default:
			continue
		}
		b = b<<4 | v
		n++
		if n%2 == 0 {
			out = append(out, b)
		}
	}
	if n%2 != 0 {
		t.Fatalf("odd hex %q", s)
	}
	return out
}

func fileListOldSeeds() []fuzzseed.Seed {
	var out []fuzzseed.Seed
	for i, c := range []Codec{
		{Protocol: 29, PreserveUID: true, PreserveGID: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true}, // -a against 2.6.9
		{Protocol: 28, PreserveUID: true, PreserveGID: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true, ChecksumLen: 16},
		{Protocol: 27, PreserveUID: true, PreserveGID: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true, ChecksumLen: 16}, // -ac against openrsync
		{Protocol: 27, PreserveLinks: true},
	} {
		rng := rand.New(rand.NewPCG(uint64(i), 27))
		entries := randomEntries(rng, 8, c.ChecksumLen)
		for _, e := range entries {
			if len(e.Name) > 40 {
				e.Name = e.Name[:40]
			}
			if len(e.LinkTarget) > 40 {
				e.LinkTarget = e.LinkTarget[:40]
			}
		}
		entries = safeNames(entries)
		out = append(out, fuzzseed.Seed{Name: "list-" + codecName(c), Args: []any{encodeList(panicker{}, c, entries, 0), oldVariantOf(c)}})
	}
	return out
}

// FuzzFileListOld is FuzzFileList for the protocol 27–29 encodings.
func FuzzFileListOld(f *testing.F) {
	for _, s := range fileListOldSeeds() {
		f.Add(s.Args[0].([]byte), s.Args[1].(byte))
	}
	f.Add([]byte{0x40, 0xff, 0xff, 0xff, 0x7f}, byte(0))                  // a 27 LONG_NAME of 2^31-1 bytes
	f.Add([]byte{0x04, 0x10, 0x01, 'a', 0xff, 0xff, 0xff, 0xff}, byte(1)) // 28: extended flags, a longint size cut short
	f.Fuzz(func(t *testing.T, data []byte, variant byte) {
		checkDecoded(t, oldCodecFor(variant), data)
	})
}

func idListOldSeeds() []fuzzseed.Seed {
	enc := func(ids []IDName) []byte {
		var buf bytes.Buffer
		if err := WriteIDListProto(wire.NewWriter(&buf), ids, 29, false, ""); err != nil {
			panic(err)
		}
		return buf.Bytes()
	}
	return []fuzzseed.Seed{
		{Name: "nobody", Args: []any{enc([]IDName{{65534, "nobody"}}), byte(10)}},
		{Name: "empty", Args: []any{enc(nil), byte(1)}},
		{Name: "several", Args: []any{enc([]IDName{{1, "daemon"}, {1000, "user"}, {0xfffffffe, "nfsnobody"}}), byte(8)}},
	}
}

// FuzzIDListOld: the int32-coded id lists of protocols 27–29 stay within
// their limits and round-trip.
func FuzzIDListOld(f *testing.F) {
	for _, s := range idListOldSeeds() {
		f.Add(s.Args[0].([]byte), s.Args[1].(byte))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit byte) {
		maxEntries := int(limit)
		ids, err := ReadIDListProto(wire.NewReader(bytes.NewReader(data)), 29, false, maxEntries)
		if err != nil {
			return
		}
		if len(ids) > maxEntries {
			t.Fatalf("%d entries over the limit %d", len(ids), maxEntries)
		}
		for _, in := range ids {
			if in.ID == 0 || len(in.Name) > maxIDName {
				t.Fatalf("bad entry %+v", in)
			}
		}
		var buf bytes.Buffer
		var plain []IDName
		for _, in := range ids {
			if in.Name != "" {
				plain = append(plain, in)
			}
		}
		if err := WriteIDListProto(wire.NewWriter(&buf), plain, 29, false, ""); err != nil {
			t.Fatal(err)
		}
		again, err := ReadIDListProto(wire.NewReader(&buf), 29, false, maxEntries)
		if err != nil || !reflect.DeepEqual(again, plain) {
			t.Fatalf("round trip: %v, %v; want %v", again, err, plain)
		}
	})
}
