package flist

import (
	"bytes"
	"errors"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/fuzzseed"
	"io"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// codecFor maps a fuzz variant byte to a codec: bits 0-1 pick the
// protocol (30, 31, 32, 30), then varint flags, -o, -g, -l, -D and -c.
func codecFor(v byte) Codec {
	c := Codec{
		Protocol:         30 + int(v&3)%3,
		VarintFlags:      v&0x04 != 0,
		PreserveUID:      v&0x08 != 0,
		PreserveGID:      v&0x10 != 0,
		PreserveLinks:    v&0x20 != 0,
		PreserveDevices:  v&0x40 != 0,
		PreserveSpecials: v&0x40 != 0,
	}
	if v&0x80 != 0 {
		c.ChecksumLen = 16
	}
	return c
}

func variantOf(c Codec) byte {
	v := byte(c.Protocol - 30)
	for bit, on := range map[byte]bool{0x04: c.VarintFlags, 0x08: c.PreserveUID, 0x10: c.PreserveGID,
		0x20: c.PreserveLinks, 0x40: c.PreserveDevices, 0x80: c.ChecksumLen == 16} {
		if on {
			v |= bit
		}
	}
	if codecFor(v) != c {
		panic("codec has no fuzz variant")
	}
	return v
}

func fileListSeeds() []fuzzseed.Seed {
	var out []fuzzseed.Seed
	all := func(proto int, varint bool, sum int) Codec {
		return Codec{Protocol: proto, VarintFlags: varint, PreserveUID: true, PreserveGID: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true, ChecksumLen: sum}
	}
	for i, c := range []Codec{
		all(32, true, 0),  // -a against 3.2
		all(31, true, 16), // -ac
		all(30, false, 0), // -a against 3.0 (byte flags, rdev for specials)
		{Protocol: 32, VarintFlags: true, PreserveLinks: true},
	} {
		rng := rand.New(rand.NewPCG(uint64(i), 91))
		entries := randomEntries(rng, 8, c.ChecksumLen)
		// Keep the seeds small and readable: no long names.
		for _, e := range entries {
			if len(e.Name) > 40 {
				e.Name = e.Name[:40]
			}
			if len(e.LinkTarget) > 40 {
				e.LinkTarget = e.LinkTarget[:40]
			}
		}
		entries = safeNames(entries)
		out = append(out, fuzzseed.Seed{Name: "list-" + codecName(c), Args: []any{encodeList(panicker{}, c, entries, int32(i%2)), variantOf(c)}})
	}
	// The capture entry after its predecessor (NOTES.md §9.3).
	c := Codec{Protocol: 32, VarintFlags: true, PreserveUID: true, PreserveGID: true}
	out = append(out, fuzzseed.Seed{Name: "capture-sub-c.txt", Args: []any{encodeList(panicker{}, c, []*Entry{
		{Name: ".", Mode: SIFDIR | 0o755, TopDir: true, ModTime: 1577836800},
		{Name: "sub/c2.txt", Mode: SIFREG | 0o644, ModTime: 1577836800, Size: 3},
		{Name: "sub/c.txt", Mode: SIFREG | 0o644, ModTime: 1577836800, Size: 2, UID: 65534, GID: 65534},
	}, 0), variantOf(c)}})
	return out
}

// safeNames drops entries whose truncated names are no longer valid or
// repeat, keeping the seeds decodable.
func safeNames(entries []*Entry) []*Entry {
	var out []*Entry
	seen := map[string]bool{}
	for _, e := range entries {
		if CheckName(e.Name) == nil && !seen[e.Name] {
			seen[e.Name] = true
			out = append(out, e)
		}
	}
	return out
}

// FuzzFileList: the decoder over arbitrary bytes, with every codec
// variant, never panics, returns only safe names and bounded fields,
// allocates in proportion to its input, and whatever it returns survives
// an encode/decode round trip unchanged.
func FuzzFileList(f *testing.F) {
	for _, s := range fileListSeeds() {
		f.Add(s.Args[0].([]byte), s.Args[1].(byte))
	}
	f.Add([]byte{}, byte(0))
	f.Add([]byte{0x40, 0xf0, 0xff, 0xff, 0xff, 0x7f}, byte(4))         // LONG_NAME of 2^31-1 bytes
	f.Add([]byte{0x20, 0xff, 0x01, 'a', 0, 0, 0, 0, 0, 0, 0}, byte(0)) // l1 with no previous name
	f.Add([]byte{0x18, 0x02, '.', '.', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, byte(0))
	f.Fuzz(func(t *testing.T, data []byte, variant byte) {
		checkDecoded(t, codecFor(variant), data)
	})
}

// checkDecoded is the body of the file-list fuzz targets: decode data
// with c and check what comes out.
func checkDecoded(t *testing.T, c Codec, data []byte) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := wire.NewReader(bytes.NewReader(data))
	d := NewDecoder(c, r)
	var entries []*Entry
	var err error
	clean := false
	for {
		var e *Entry
		e, err = d.Next()
		if err != nil {
			break
		}
		if e == nil {
			clean = true
			break
		}
		entries = append(entries, e)
	}
	runtime.ReadMemStats(&after)
	if err != nil && !errors.Is(err, wire.ErrMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("unexpected error class: %v", err)
	}
	// Names may be built from up to 255 bytes of the previous one, so a
	// few bytes of input can describe a name of a few hundred bytes;
	// nothing may grow with lengths the input does not back.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(128<<10+1024*len(data)); got > limit {
		t.Fatalf("decoding %d bytes allocated %d (limit %d)", len(data), got, limit)
	}
	for i, e := range entries {
		if err := CheckName(e.Name); err != nil {
			t.Fatalf("entry %d: unsafe name returned: %v", i, err)
		}
		if len(e.Name) > MaxPathLen || len(e.LinkTarget) > maxLinkLen {
			t.Fatalf("entry %d: name %d bytes, link %d bytes", i, len(e.Name), len(e.LinkTarget))
		}
		if e.Size < 0 || e.ModNsec < 0 || e.ModNsec > 999_999_999 {
			t.Fatalf("entry %d: size %d, nsec %d", i, e.Size, e.ModNsec)
		}
		if e.IsSymlink() && c.PreserveLinks && len(e.LinkTarget) == 0 {
			t.Fatalf("entry %d: symlink with an empty target", i)
		}
		if e.IsRegular() && c.ChecksumLen > 0 && len(e.Checksum) != c.ChecksumLen {
			t.Fatalf("entry %d: %d-byte checksum, want %d", i, len(e.Checksum), c.ChecksumLen)
		}
		checkLinkSet(t, c, entries, i)
	}
	// Round trip what was decoded. Protocol 30 has no nanoseconds on
	// the wire, though a hostile peer can set the flag anyway.
	want := make([]*Entry, len(entries))
	for i, e := range entries {
		want[i] = expectDecodedProto(c, e)
	}
	ioError := int32(0)
	if clean {
		ioError = d.IOError
	}
	enc := encodeList(t, c, want, ioError)
	got, gotIOErr, n, err := decodeList(c, enc)
	if err != nil {
		t.Fatalf("re-encoded list of %d entries does not decode: %v", len(want), err)
	}
	if n != int64(len(enc)) || gotIOErr != ioError {
		t.Fatalf("re-encoded list: consumed %d of %d bytes, io_error %d want %d", n, len(enc), gotIOErr, ioError)
	}
	if len(got) != len(want) {
		t.Fatalf("re-encoded list decodes to %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("entry %d after a round trip:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func idListSeeds() []fuzzseed.Seed {
	enc := func(ids []IDName, id0 bool, name string) []byte {
		var buf bytes.Buffer
		if err := WriteIDList(wire.NewWriter(&buf), ids, id0, name); err != nil {
			panic(err) // a seed the encoder refuses is a bug in the seed
		}
		return buf.Bytes()
	}
	return []fuzzseed.Seed{
		// a-push-p32's uid list, with ID0_NAMES; the limit in the high bits.
		{Name: "capture-uids", Args: []any{enc([]IDName{{65534, "nobody"}}, true, "root"), byte(10<<1 | 1)}},
		{Name: "empty-with-id0", Args: []any{enc(nil, true, "root"), byte(1)}},
		{Name: "several-no-id0", Args: []any{enc([]IDName{{1, "daemon"}, {1000, "user"}, {0xfffffffe, "nfsnobody"}}, false, ""), byte(8 << 1)}},
		{Name: "over-limit", Args: []any{enc([]IDName{{1, "a"}, {2, "b"}, {3, "c"}}, false, ""), byte(2 << 1)}},
	}
}

// FuzzIDList: ReadIDList over arbitrary bytes stays within its entry
// limit and the name limit, and what it returns round-trips.
func FuzzIDList(f *testing.F) {
	for _, s := range idListSeeds() {
		f.Add(s.Args[0].([]byte), s.Args[1].(byte))
	}
	f.Add([]byte{}, byte(1))
	f.Add([]byte{0x01, 0xff}, byte(4))
	f.Add([]byte{0x05, 0x00, 0x00, 0x00}, byte(3))
	f.Fuzz(func(t *testing.T, data []byte, variant byte) {
		id0Names := variant&1 != 0
		maxEntries := int(variant >> 1)
		ids, err := ReadIDList(wire.NewReader(bytes.NewReader(data)), id0Names, maxEntries)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		limit := maxEntries
		if id0Names {
			limit++
		}
		if len(ids) > limit {
			t.Fatalf("%d entries, limit %d", len(ids), limit)
		}
		var plain []IDName
		id0Name := ""
		for i, in := range ids {
			if len(in.Name) > maxIDName {
				t.Fatalf("entry %d: %d-byte name", i, len(in.Name))
			}
			if id0Names && i == len(ids)-1 {
				if in.ID != 0 {
					t.Fatalf("last entry has id %d, want the id 0 name", in.ID)
				}
				id0Name = in.Name
				continue
			}
			if in.ID == 0 {
				t.Fatalf("entry %d has id 0", i)
			}
			if in.Name != "" { // a nameless entry is legal on the wire but never written
				plain = append(plain, in)
			}
		}
		var buf bytes.Buffer
		if err := WriteIDList(wire.NewWriter(&buf), plain, id0Names, id0Name); err != nil {
			t.Fatal(err)
		}
		again, err := ReadIDList(wire.NewReader(&buf), id0Names, maxEntries)
		if err != nil {
			t.Fatalf("re-encoded list: %v", err)
		}
		want := plain
		if id0Names {
			want = append(want, IDName{0, id0Name})
		}
		if len(again) != len(want) || (len(want) > 0 && !reflect.DeepEqual(again, want)) {
			t.Fatalf("round trip: %v, want %v", again, want)
		}
	})
}

func TestFuzzSeedCorpus(t *testing.T) {
	for target, seeds := range map[string][]fuzzseed.Seed{
		"FuzzFileList":          fileListSeeds(),
		"FuzzFileListHardLinks": hardLinkSeeds(),
		"FuzzIDList":            idListSeeds(),
		"FuzzFileListOld":       fileListOldSeeds(),
		"FuzzIDListOld":         idListOldSeeds(),
	} {
		t.Run(target, func(t *testing.T) { fuzzseed.Check(t, target, seeds, true) })
	}
	// The file-list seeds are real lists: they decode, with entries.
	for _, s := range fileListSeeds() {
		ents, _, _, err := decodeList(codecFor(s.Args[1].(byte)), s.Args[0].([]byte))
		if err != nil || len(ents) < 3 {
			t.Errorf("seed %s decodes to %d entries (err %v)", s.Name, len(ents), err)
		}
	}
	for _, s := range hardLinkSeeds() {
		c := codecFor(s.Args[1].(byte))
		c.PreserveHardLinks = true
		ents, _, _, err := decodeList(c, s.Args[0].([]byte))
		links := 0
		for _, e := range ents {
			if e.HlinkGroup != 0 {
				links++
			}
		}
		if links < 2 {
			t.Errorf("seed %s has %d hard-linked entries", s.Name, links)
		}
		if err != nil || len(ents) < 3 {
			t.Errorf("seed %s decodes to %d entries (err %v)", s.Name, len(ents), err)
		}
	}
}
