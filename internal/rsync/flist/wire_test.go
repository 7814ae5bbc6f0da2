package flist

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// fataler is the part of testing.TB that encodeList needs; the fuzz seed
// generators pass a panicker.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

type panicker struct{}

func (panicker) Helper()                           {}
func (panicker) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// encodeList encodes entries and the end marker with a fresh encoder.
func encodeList(t fataler, c Codec, entries []*Entry, ioError int32) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := wire.NewWriter(&buf)
	enc := NewEncoder(c, w)
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			t.Fatalf("Encode(%q): %v", e.Name, err)
		}
	}
	if err := enc.End(ioError); err != nil {
		t.Fatalf("End: %v", err)
	}
	return buf.Bytes()
}

// decodeList decodes to the end marker; it returns the entries read so far
// and the first error.
func decodeList(c Codec, in []byte) ([]*Entry, int32, int64, error) {
	r := wire.NewReader(bytes.NewReader(in))
	d := NewDecoder(c, r)
	var out []*Entry
	for {
		e, err := d.Next()
		if err != nil {
			return out, d.IOError, r.Count(), err
		}
		if e == nil {
			return out, d.IOError, r.Count(), nil
		}
		out = append(out, e)
	}
}

// expectDecoded is what a receiver gets back for e under codec c: fields
// the options do not carry come back as zero.
func expectDecoded(c Codec, e *Entry) *Entry {
	x := *e
	if c.Protocol < 31 {
		x.ModNsec = 0
	}
	if !c.PreserveUID {
		x.UID = 0
	}
	if !c.PreserveGID {
		x.GID = 0
	}
	if !c.PreserveDevices || !e.IsDevice() {
		x.RdevMajor, x.RdevMinor = 0, 0
	}
	if !c.PreserveLinks || !e.IsSymlink() {
		x.LinkTarget = ""
	}
	if c.ChecksumLen == 0 || !e.IsRegular() {
		x.Checksum = nil
	}
	x.TopDir = e.TopDir && e.IsDir()
	if !c.PreserveHardLinks || e.IsDir() {
		x.HlinkGroup = 0
	}
	return &x
}

const nameBytes = "abcxyzABC0129._-~ +\x01\x7f\x80\xc3\xa9\xff"

func randomComponent(rng *rand.Rand) string {
	n := 1 + rng.IntN(12)
	switch rng.IntN(10) {
	case 0:
		n = 256 + rng.IntN(300) // a long name: l2 > 255
	case 1:
		n = 200 + rng.IntN(60)
	}
	for {
		b := make([]byte, n)
		for i := range b {
			b[i] = nameBytes[rng.IntN(len(nameBytes))]
		}
		if s := string(b); s != "." && s != ".." {
			return s
		}
	}
}

var entryTypes = []uint32{SIFREG, SIFREG, SIFREG, SIFDIR, SIFDIR, SIFLNK, SIFCHR, SIFBLK, SIFIFO, SIFSOCK}

// randomEntries makes a plausible send-order list: "." first, every
// directory before its contents, names sharing prefixes, and the "same as
// previous" fields repeating often enough to exercise every XMIT_SAME_*.
func randomEntries(rng *rand.Rand, n, checksumLen int) []*Entry {
	root := &Entry{Name: ".", Mode: SIFDIR | 0o755, TopDir: true, ModTime: 1577836800, UID: 1000, GID: 1000}
	out := []*Entry{root}
	dirs := []string{""}
	prev := root
	for len(out) < n {
		parent := dirs[rng.IntN(len(dirs))]
		name := randomComponent(rng)
		if parent != "" {
			name = parent + "/" + name
		}
		if len(name) > MaxPathLen {
			continue
		}
		typ := entryTypes[rng.IntN(len(entryTypes))]
		e := &Entry{Name: name, Mode: typ | uint32(rng.IntN(0o10000))}
		if rng.IntN(2) == 0 {
			e.Mode = prev.Mode&^SIFMT | typ
		}
		switch rng.IntN(4) {
		case 0:
			e.ModTime = prev.ModTime
		case 1:
			e.ModTime = int64(rng.Uint64()) // any int64, negative included
		case 2:
			e.ModTime = 1<<31 + rng.Int64N(1<<33) // after 2038
		default:
			e.ModTime = rng.Int64N(1 << 31)
		}
		if rng.IntN(2) == 0 {
			e.ModNsec = rng.Int32N(1_000_000_000)
		}
		e.Size = []int64{0, int64(rng.IntN(1 << 20)), rng.Int64N(math.MaxInt64), math.MaxInt64, 5 << 30}[rng.IntN(5)]
		e.UID, e.GID = prev.UID, prev.GID
		if rng.IntN(2) == 0 {
			e.UID = rng.Uint32()
		}
		if rng.IntN(2) == 0 {
			e.GID = []uint32{0, 65534, math.MaxUint32, rng.Uint32()}[rng.IntN(4)]
		}
		switch typ {
		case SIFDIR:
			e.TopDir = rng.IntN(5) == 0
			dirs = append(dirs, name)
		case SIFLNK:
			e.LinkTarget = randomComponent(rng)
			if rng.IntN(10) == 0 {
				e.LinkTarget = strings.Repeat("../x/", maxLinkLen/5) + "abcdefghijklmnop"[:maxLinkLen%5]
			}
		case SIFCHR, SIFBLK:
			e.RdevMajor = []uint32{prev.RdevMajor, 0, 8, rng.Uint32()}[rng.IntN(4)]
			e.RdevMinor = rng.Uint32()
		case SIFREG:
			if checksumLen > 0 {
				e.Checksum = make([]byte, checksumLen)
				for i := range e.Checksum {
					e.Checksum[i] = byte(rng.Uint32())
				}
			}
		}
		out = append(out, e)
		prev = e
	}
	return out
}

func codecName(c Codec) string {
	flags := "byte"
	if c.VarintFlags {
		flags = "varint"
	}
	return fmt.Sprintf("p%d-%s-o%v-g%v-l%v-D%v-c%d", c.Protocol, flags, c.PreserveUID, c.PreserveGID, c.PreserveLinks, c.PreserveDevices, c.ChecksumLen)
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	var codecs []Codec
	for _, proto := range []int{30, 31, 32} {
		for _, varint := range []bool{false, true} {
			for _, all := range []bool{false, true} {
				for _, sum := range []int{0, 16} {
					codecs = append(codecs, Codec{Protocol: proto, VarintFlags: varint, PreserveUID: all, PreserveGID: all,
						PreserveLinks: all, PreserveDevices: all, PreserveSpecials: all, ChecksumLen: sum})
				}
			}
		}
	}
	// Mixed option sets.
	codecs = append(codecs,
		Codec{Protocol: 31, VarintFlags: true, PreserveUID: true, ChecksumLen: 8},
		Codec{Protocol: 30, PreserveGID: true, PreserveDevices: true, PreserveSpecials: true},
		Codec{Protocol: 32, VarintFlags: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true})
	for i, c := range codecs {
		t.Run(codecName(c), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 61))
			entries := randomEntries(rng, 400, c.ChecksumLen)
			ioError := []int32{0, 1, 23}[i%3]
			enc := encodeList(t, c, entries, ioError)
			got, gotIOErr, n, err := decodeList(c, enc)
			if err != nil {
				t.Fatalf("decode after %d entries: %v", len(got), err)
			}
			if n != int64(len(enc)) {
				t.Fatalf("decoder stopped at byte %d of %d", n, len(enc))
			}
			if gotIOErr != ioError {
				t.Errorf("io_error %d, want %d", gotIOErr, ioError)
			}
			if len(got) != len(entries) {
				t.Fatalf("decoded %d entries, want %d", len(got), len(entries))
			}
			for j, e := range entries {
				if want := expectDecoded(c, e); !reflect.DeepEqual(got[j], want) {
					t.Fatalf("entry %d:\n got %+v\nwant %+v", j, got[j], want)
				}
			}
		})
	}
}

// TestEncodeCaptureEntry reproduces NOTES.md §9.3: sub/c.txt after
// sub/c2.txt, in varint-flag and byte-flag mode.
func TestEncodeCaptureEntry(t *testing.T) {
	prev := &Entry{Name: "sub/c2.txt", Mode: SIFREG | 0o644, ModTime: 1577836800, Size: 3}
	cur := &Entry{Name: "sub/c.txt", Mode: SIFREG | 0o644, ModTime: 1577836800, Size: 2, UID: 65534, GID: 65534}
	tests := []struct {
		c    Codec
		want string
	}{
		{Codec{Protocol: 32, VarintFlags: true, PreserveUID: true, PreserveGID: true}, "80 a2 05 04 2e 74 78 74 00 02 00 c0 fe ff c0 fe ff"},
		{Codec{Protocol: 30, PreserveUID: true, PreserveGID: true}, "a2 05 04 2e 74 78 74 00 02 00 c0 fe ff c0 fe ff"},
	}
	for _, tt := range tests {
		t.Run(codecName(tt.c), func(t *testing.T) {
			var first bytes.Buffer
			if err := NewEncoder(tt.c, wire.NewWriter(&first)).Encode(prev); err != nil {
				t.Fatal(err)
			}
			all := encodeList(t, tt.c, []*Entry{prev, cur}, 0)
			got := all[first.Len() : len(all)-endLen(tt.c)]
			want, _ := hex.DecodeString(strings.ReplaceAll(tt.want, " ", ""))
			if !bytes.Equal(got, want) {
				t.Fatalf("sub/c.txt encodes as % x, want %s", got, tt.want)
			}
			dec, _, _, err := decodeList(tt.c, all)
			if err != nil || len(dec) != 2 || !reflect.DeepEqual(dec[1], expectDecoded(tt.c, cur)) {
				t.Fatalf("decoded %+v, %v", dec, err)
			}
		})
	}
}

func endLen(c Codec) int {
	if c.VarintFlags {
		return 2
	}
	return 1
}

func TestEndMarker(t *testing.T) {
	tests := []struct {
		c       Codec
		ioError int32
		want    string
	}{
		{Codec{Protocol: 32, VarintFlags: true}, 0, "00 00"},
		{Codec{Protocol: 32, VarintFlags: true}, 1, "00 01"}, // h-pull-missing
		{Codec{Protocol: 30}, 0, "00"},
		{Codec{Protocol: 31}, 1, "04 10 01"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/io%d", codecName(tt.c), tt.ioError), func(t *testing.T) {
			got := encodeList(t, tt.c, nil, tt.ioError)
			if hexs(got) != tt.want {
				t.Fatalf("end marker % x, want %s", got, tt.want)
			}
			ents, ioErr, _, err := decodeList(tt.c, got)
			if err != nil || len(ents) != 0 || ioErr != tt.ioError {
				t.Fatalf("decoded %d entries, io_error %d, err %v", len(ents), ioErr, err)
			}
		})
	}
}

func hexs(b []byte) string {
	var parts []string
	for _, c := range b {
		parts = append(parts, hex.EncodeToString([]byte{c}))
	}
	return strings.Join(parts, " ")
}

// rawEntry writes an entry field by field, for inputs an Encoder would
// never produce. Codec: varint flags, no -o/-g; -l and -D as given.
type rawEntry struct {
	flags      uint32
	l1         int
	l2         int // auto: len(name)
	name       string
	size       int64
	nsec       int32
	mode       uint32
	extra      func(w *wire.Writer) // rdev, symlink target
	noMoreData bool                 // stop after the name length
}

// auto as rawEntry.l2 sends the length of the name.
const auto = math.MinInt32

func (e rawEntry) write(w *wire.Writer) {
	w.Varint(int32(e.flags))
	if e.flags&xmitSameName != 0 {
		w.Byte(byte(e.l1))
	}
	l2 := e.l2
	if l2 == auto {
		l2 = len(e.name)
	}
	if e.flags&xmitLongName != 0 {
		w.Varint(int32(l2))
	} else {
		w.Byte(byte(l2))
	}
	if e.noMoreData {
		return
	}
	w.Raw([]byte(e.name))
	w.Varlong(e.size, 3)
	if e.flags&xmitSameTime == 0 {
		w.Varlong(1577836800, 4)
	}
	if e.flags&xmitModNsec != 0 {
		w.Varint(e.nsec)
	}
	if e.flags&xmitSameMode == 0 {
		w.Int32(int32(e.mode))
	}
	if e.extra != nil {
		e.extra(w)
	}
}

func rawList(entries ...rawEntry) []byte {
	var buf bytes.Buffer
	w := wire.NewWriter(&buf)
	for _, e := range entries {
		e.write(w)
	}
	w.Varint(0)
	w.Varint(0)
	return buf.Bytes()
}

func file(name string) rawEntry {
	return rawEntry{flags: xmitSameUID | xmitSameGID, l2: auto, name: name, mode: SIFREG | 0o644}
}

func TestDecoderRejects(t *testing.T) {
	c := Codec{Protocol: 32, VarintFlags: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true}
	long255 := strings.Repeat("d", 255)
	symlink := func(n int32, target string) rawEntry {
		e := file("link")
		e.mode = SIFLNK | 0o777
		e.extra = func(w *wire.Writer) { w.Varint(n); w.Raw([]byte(target)) }
		return e
	}
	withFlags := func(e rawEntry, f uint32) rawEntry { e.flags |= f; return e }
	tests := []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"l1 with no previous name", rawList(rawEntry{flags: xmitSameName, l1: 3, l2: auto, name: "a", mode: SIFREG}), wire.ErrMalformed},
		{"l1 longer than the previous name", rawList(file("ab"), rawEntry{flags: xmitSameName, l1: 3, l2: auto, name: "c", mode: SIFREG}), wire.ErrMalformed},
		{"name length 4097", rawList(rawEntry{flags: xmitLongName, l2: 4097, noMoreData: true}), wire.ErrMalformed},
		{"name length 1 GiB", rawList(rawEntry{flags: xmitLongName, l2: 1 << 30, noMoreData: true}), wire.ErrMalformed},
		{"negative name length", rawList(rawEntry{flags: xmitLongName, l2: -5, noMoreData: true}), wire.ErrMalformed},
		{"l1+l2 over 4096", rawList(file(long255), rawEntry{flags: xmitSameName | xmitLongName, l1: 255, l2: MaxPathLen - 254, noMoreData: true}), wire.ErrMalformed},
		{"symlink target length 0", rawList(symlink(0, "")), wire.ErrMalformed},
		{"symlink target length 4097", rawList(symlink(4097, "")), wire.ErrMalformed},
		{"symlink target length negative", rawList(symlink(-1, "")), wire.ErrMalformed},
		{"negative size", rawList(rawEntry{flags: xmitSameUID, l2: auto, name: "f", size: -1, mode: SIFREG}), wire.ErrMalformed},
		{"user name follows (not negotiated)", rawList(withFlags(file("f"), xmitUserNameFollows)), wire.ErrMalformed},
		{"hard link (not negotiated)", rawList(withFlags(file("f"), xmitHlinked)), wire.ErrMalformed},
		{"truncated name", rawList(rawEntry{flags: xmitSameUID, l2: 10, noMoreData: true})[:3], io.ErrUnexpectedEOF},
	}
	// nsec out of range both ways.
	for _, ns := range []int32{1_000_000_000, -1, math.MaxInt32} {
		e := withFlags(file("f"), xmitModNsec)
		e.nsec = ns
		tests = append(tests, struct {
			name    string
			in      []byte
			wantErr error
		}{fmt.Sprintf("nsec %d", ns), rawList(e), wire.ErrMalformed})
	}
	// Unsafe names, each as a whole name.
	for _, name := range []string{"/abs", "/", "a/../b", "..", "../x", "x/..", "a//b", "a/./b", "./a", "a/.", "a/", "a\x00b", ""} {
		tests = append(tests, struct {
			name    string
			in      []byte
			wantErr error
		}{fmt.Sprintf("unsafe name %q", name), rawList(file(name)), wire.ErrMalformed})
	}
	// An unsafe name made from a safe previous one.
	tests = append(tests, struct {
		name    string
		in      []byte
		wantErr error
	}{"unsafe name through l1", rawList(file("a/b"), rawEntry{flags: xmitSameName | xmitSameUID, l1: 2, l2: auto, name: "../../etc", mode: SIFREG}), wire.ErrMalformed})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ents, _, _, err := decodeList(c, tt.in)
			if err == nil {
				t.Fatalf("accepted: %d entries, last %q", len(ents), ents[len(ents)-1].Name)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestDecoderTruncated: cutting a valid list anywhere is an error, never a
// shorter list.
func TestDecoderTruncated(t *testing.T) {
	for _, c := range []Codec{
		{Protocol: 32, VarintFlags: true, PreserveUID: true, PreserveGID: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true, ChecksumLen: 16},
		{Protocol: 30, PreserveUID: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true},
	} {
		rng := rand.New(rand.NewPCG(71, 72))
		enc := encodeList(t, c, randomEntries(rng, 30, c.ChecksumLen), 0)
		for cut := 0; cut < len(enc); cut++ {
			_, _, _, err := decodeList(c, enc[:cut])
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s: cut at %d of %d: err = %v, want ErrUnexpectedEOF", codecName(c), cut, len(enc), err)
			}
		}
	}
}

// TestDecoderSpecialRdevMajor: at protocol 30 a fifo or socket carries an
// rdev; when a sender spells its major out (rsync's own sender never does,
// but the receiver accepts it), the major becomes the "previous" value
// that a later XMIT_SAME_RDEV_MAJOR device refers to
// (flist.c:recv_file_entry assigns rdev_major for devices and specials).
func TestDecoderSpecialRdevMajor(t *testing.T) {
	c := Codec{Protocol: 30, VarintFlags: true, PreserveDevices: true, PreserveSpecials: true}
	dev := func(name string, mode uint32, flags uint32, major, minor int32) rawEntry {
		e := rawEntry{flags: xmitSameUID | flags, l2: auto, name: name, mode: mode}
		e.extra = func(w *wire.Writer) {
			if flags&xmitSameRdevMajor == 0 {
				w.Varint(major)
			}
			w.Varint(minor)
		}
		return e
	}
	in := rawList(
		dev("tty", SIFCHR|0o620, 0, 5, 1),
		dev("fifo", SIFIFO|0o644, 0, 0, 0), // explicit major 0
		dev("null", SIFCHR|0o666, xmitSameRdevMajor, 0, 3),
	)
	ents, _, _, err := decodeList(c, in)
	if err != nil || len(ents) != 3 {
		t.Fatalf("decoded %d entries: %v", len(ents), err)
	}
	if got := ents[0]; got.RdevMajor != 5 || got.RdevMinor != 1 {
		t.Errorf("tty rdev %d,%d, want 5,1", got.RdevMajor, got.RdevMinor)
	}
	if got := ents[2]; got.RdevMajor != 0 || got.RdevMinor != 3 {
		t.Errorf("null rdev %d,%d, want 0,3 (the fifo's major is the previous one)", got.RdevMajor, got.RdevMinor)
	}
}

func TestCheckName(t *testing.T) {
	ok := []string{".", "a", "a/b", "a.b/c", "..a", "a..", ".hidden", "a/.b", "a/..b", "...", "sub.d/d.txt",
		"\xff\x80", "a b/c d", strings.Repeat("x", 4096)}
	for _, name := range ok {
		if err := CheckName(name); err != nil {
			t.Errorf("CheckName(%.40q) = %v, want nil", name, err)
		}
	}
	bad := []string{"", "/", "/abs", "/a/b", "..", "../a", "a/..", "a/../b", "a//b", "a/./b", "./a", "a/.", "a/", "./", "a\x00b", "\x00"}
	for _, name := range bad {
		err := CheckName(name)
		if !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("CheckName(%q) = %v, want ErrMalformed", name, err)
		}
	}
}

// TestEncodeNoContentDir: a directory sent without its contents carries
// XMIT_NO_CONTENT_DIR (1<<8) at protocol 30+, with XMIT_TOP_DIR when it is
// a top directory (rsync's implied directory), and nothing below 30,
// which has no such bit; it decodes as the same directory.
func TestEncodeNoContentDir(t *testing.T) {
	for _, tt := range []struct {
		c     Codec
		top   bool
		flags uint32
	}{
		{Codec{Protocol: 32, VarintFlags: true}, false, xmitNoContentDir},
		{Codec{Protocol: 31}, true, xmitNoContentDir | xmitTopDir},
		{Codec{Protocol: 29}, false, 0},
	} {
		t.Run(codecName(tt.c), func(t *testing.T) {
			e := &Entry{Name: "d", Mode: SIFDIR | 0o755, ModTime: 1577836800, TopDir: tt.top, NoContent: true}
			all := encodeList(t, tt.c, []*Entry{e}, 0)
			var flags uint32
			switch {
			case tt.c.VarintFlags:
				r := wire.NewReader(bytes.NewReader(all))
				flags = uint32(r.Varint())
			case all[0]&xmitExtendedFlags != 0:
				flags = uint32(all[0]) | uint32(all[1])<<8
			default:
				flags = uint32(all[0])
			}
			if got := flags & (xmitNoContentDir | xmitTopDir); got != tt.flags {
				t.Errorf("flags %#x, want %#x", got, tt.flags)
			}
			dec, _, _, err := decodeList(tt.c, all)
			if err != nil || len(dec) != 1 || dec[0].Name != "d" || !dec[0].IsDir() {
				t.Fatalf("decoded %+v, %v", dec, err)
			}
		})
	}
}
