package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

// unhex turns "81 fe" into bytes; it panics on a typo in a test table.
func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func spaced(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(hex.EncodeToString([]byte{c}))
	}
	return sb.String()
}

func TestVarintExamples(t *testing.T) {
	tests := []struct {
		name string
		v    int32
		enc  string
	}{
		// NOTES.md §7, all verified against captures.
		{"compat flags 0x1fe", 0x1fe, "81 fe"},
		{"flags 0x9a", 0x9a, "80 9a"},
		{"flags 0x2018", 0x2018, "a0 18"},
		{"uid 65534", 65534, "c0 fe ff"},
		{"nsec 123456789", 123456789, "e7 15 cd 5b"},
		{"minus one", -1, "f0 ff ff ff ff"},
		// Boundaries derived from the rule in §7.
		{"zero", 0, "00"},
		{"one byte max", 0x7f, "7f"},
		{"first two-byte", 0x80, "80 80"},
		{"two-byte max", 0x3fff, "bf ff"},
		{"first three-byte", 0x4000, "c0 00 40"},
		{"three-byte max", 0x1fffff, "df ff ff"},
		{"first four-byte", 0x200000, "e0 00 00 20"},
		{"four-byte max", 0x0fffffff, "ef ff ff ff"},
		{"first five-byte", 0x10000000, "f0 00 00 00 10"},
		{"max int32", math.MaxInt32, "f0 ff ff ff 7f"},
		{"min int32", math.MinInt32, "f0 00 00 00 80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(tt.enc)
			if got := AppendVarint(nil, tt.v); !bytes.Equal(got, want) {
				t.Errorf("AppendVarint(%d) = %s, want %s", tt.v, spaced(got), tt.enc)
			}
			// Writer.Varint must produce the same bytes.
			var buf bytes.Buffer
			w := NewWriter(&buf)
			w.Varint(tt.v)
			if w.Err() != nil || !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("Writer.Varint(%d) = %s (err %v), want %s", tt.v, spaced(buf.Bytes()), w.Err(), tt.enc)
			}
			r := NewReader(bytes.NewReader(want))
			if got := r.Varint(); got != tt.v || r.Err() != nil {
				t.Errorf("Varint(%s) = %d, %v; want %d", tt.enc, got, r.Err(), tt.v)
			}
			if r.Count() != int64(len(want)) {
				t.Errorf("Varint(%s) consumed %d bytes, want %d", tt.enc, r.Count(), len(want))
			}
		})
	}
}

func TestVarlongExamples(t *testing.T) {
	tests := []struct {
		name string
		v    int64
		min  int
		enc  string
	}{
		// NOTES.md §7.
		{"size 4096", 4096, 3, "00 00 10"},
		{"size 100000", 100000, 3, "01 a0 86"},
		{"size 131", 131, 3, "00 83 00"},
		{"mtime 2020-01-01", 1577836800, 4, "5e 00 e1 0b"},
		{"mtime 2^31", 1 << 31, 4, "80 00 00 00 80"},
		{"mtime -1", -1, 4, "f8 ff ff ff ff ff ff ff ff"},
		{"mtime -2^31", math.MinInt32, 4, "f8 00 00 00 80 ff ff ff ff"},
		// Boundaries derived from the rule in §7.
		{"size 0", 0, 3, "00 00 00"},
		{"size 2^23-1", 1<<23 - 1, 3, "7f ff ff"},
		{"size 2^23", 1 << 23, 3, "80 00 00 80"},
		{"size 2^24", 1 << 24, 3, "81 00 00 00"},
		{"size 5 GiB", 5 << 30, 3, "c1 00 00 00 40"},
		{"size max int64", math.MaxInt64, 3, "fc ff ff ff ff ff ff ff 7f"},
		{"size -1", -1, 3, "fc ff ff ff ff ff ff ff ff"},
		{"mtime 0", 0, 4, "00 00 00 00"},
		{"mtime 2^31-1", math.MaxInt32, 4, "7f ff ff ff"},
		{"mtime 2^39", 1 << 39, 4, "c0 00 00 00 00 80"},
		{"mtime max int64", math.MaxInt64, 4, "f8 ff ff ff ff ff ff ff 7f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(tt.enc)
			if got := AppendVarlong(nil, tt.v, tt.min); !bytes.Equal(got, want) {
				t.Errorf("AppendVarlong(%d, %d) = %s, want %s", tt.v, tt.min, spaced(got), tt.enc)
			}
			var buf bytes.Buffer
			w := NewWriter(&buf)
			w.Varlong(tt.v, tt.min)
			if w.Err() != nil || !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("Writer.Varlong(%d, %d) = %s (err %v), want %s", tt.v, tt.min, spaced(buf.Bytes()), w.Err(), tt.enc)
			}
			r := NewReader(bytes.NewReader(want))
			if got := r.Varlong(tt.min); got != tt.v || r.Err() != nil {
				t.Errorf("Varlong(%s, %d) = %d, %v; want %d", tt.enc, tt.min, got, r.Err(), tt.v)
			}
			if r.Count() != int64(len(want)) {
				t.Errorf("Varlong(%s, %d) consumed %d bytes, want %d", tt.enc, tt.min, r.Count(), len(want))
			}
		})
	}
}

// TestVarlongTimeShapes checks the two shape rules NOTES.md §7 states for
// mtimes: times ≥ 2^31 take 5 bytes starting 0x80; negative times take 9
// bytes starting 0xf8.
func TestVarlongTimeShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 31))
	for range 2000 {
		big := int64(1)<<31 + rng.Int64N(int64(1)<<31) // [2^31, 2^32)
		if enc := AppendVarlong(nil, big, 4); len(enc) != 5 || enc[0] != 0x80 {
			t.Fatalf("varlong(%d, 4) = %s, want 5 bytes starting 80", big, spaced(enc))
		}
		neg := -1 - rng.Int64N(math.MaxInt64)
		if enc := AppendVarlong(nil, neg, 4); len(enc) != 9 || enc[0] != 0xf8 {
			t.Fatalf("varlong(%d, 4) = %s, want 9 bytes starting f8", neg, spaced(enc))
		}
	}
}

// refDecode is an independent decoder written from the prose of NOTES.md
// §7: a lead byte whose count k of leading one-bits says how many bytes
// follow after the minBytes-1 fixed ones; the lead's remaining low bits are the
// next-higher byte. It returns the value and the bytes consumed.
func refDecode(b []byte, minBytes int) (uint64, int, bool) {
	if len(b) < minBytes {
		return 0, 0, false
	}
	lead := b[0]
	k := bits.LeadingZeros8(^lead)
	n := minBytes - 1 + k
	if n > 8 || len(b) < 1+n {
		return 0, 0, false
	}
	var v uint64
	for i := 0; i < n; i++ {
		v |= uint64(b[1+i]) << (8 * i)
	}
	if n < 8 {
		v |= uint64(lead&(0xff>>(k+1))) << (8 * n)
	}
	return v, 1 + n, true
}

// minLen is the length of the shortest encoding of u (an unsigned 64-bit
// pattern) with minBytes fixed bytes: with k extra bytes the lead keeps 7-k value
// bits, unless the fixed and extra bytes already hold all 64 bits.
func minLen(u uint64, width, minBytes int) int {
	for k := 0; ; k++ {
		n := minBytes - 1 + k
		vbits := 8*n + 7 - k
		if n >= width/8 || vbits >= 64 || u < 1<<vbits {
			return minBytes + k
		}
	}
}

// interesting returns n int64s spread over every encoded length: powers of
// two and their neighbours, random values of random bit length, both signs.
func interesting(rng *rand.Rand, n int) []int64 {
	var out []int64
	for s := 0; s < 64; s++ {
		p := int64(1) << s
		out = append(out, p-1, p, p+1, -p, -p-1, -p+1)
	}
	out = append(out, 0, math.MaxInt64, math.MinInt64, math.MaxInt32, math.MinInt32)
	for len(out) < n {
		v := int64(rng.Uint64() >> rng.UintN(64))
		if rng.IntN(2) == 0 {
			v = -v
		}
		out = append(out, v)
	}
	return out
}

func TestVarintRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var stream []byte
	var want []int32
	for _, v64 := range interesting(rng, 20000) {
		v := int32(v64)
		enc := AppendVarint(nil, v)
		if wantLen := minLen(uint64(uint32(v)), 32, 1); len(enc) != wantLen {
			t.Fatalf("AppendVarint(%d) = %s: %d bytes, want the minimal %d", v, spaced(enc), len(enc), wantLen)
		}
		ref, n, ok := refDecode(enc, 1)
		if !ok || n != len(enc) || uint32(ref) != uint32(v) {
			t.Fatalf("AppendVarint(%d) = %s, which the reference decoder reads as %#x (%d bytes, ok=%v)", v, spaced(enc), ref, n, ok)
		}
		stream = append(stream, enc...)
		want = append(want, v)
	}
	// Decode the concatenation: every value must end exactly where the
	// next begins.
	r := NewReader(bytes.NewReader(stream))
	for i, v := range want {
		if got := r.Varint(); got != v {
			t.Fatalf("value %d: Varint = %d (err %v), want %d", i, got, r.Err(), v)
		}
	}
	if r.Err() != nil || r.Count() != int64(len(stream)) {
		t.Fatalf("after the stream: err %v, consumed %d of %d", r.Err(), r.Count(), len(stream))
	}
	if r.Varint(); !errors.Is(r.Err(), io.EOF) && !errors.Is(r.Err(), io.ErrUnexpectedEOF) {
		t.Fatalf("Varint past the end: err %v, want EOF", r.Err())
	}
}

func TestVarlongRoundTripRandom(t *testing.T) {
	for _, minBytes := range []int{3, 4, 1, 2, 5, 8} {
		t.Run("min"+string(rune('0'+minBytes)), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(minBytes), 99))
			var stream []byte
			vals := interesting(rng, 20000)
			for _, v := range vals {
				enc := AppendVarlong(nil, v, minBytes)
				if wantLen := minLen(uint64(v), 64, minBytes); len(enc) != wantLen {
					t.Fatalf("AppendVarlong(%d, %d) = %s: %d bytes, want the minimal %d", v, minBytes, spaced(enc), len(enc), wantLen)
				}
				ref, n, ok := refDecode(enc, minBytes)
				if !ok || n != len(enc) || ref != uint64(v) {
					t.Fatalf("AppendVarlong(%d, %d) = %s, which the reference decoder reads as %#x (%d bytes, ok=%v)", v, minBytes, spaced(enc), ref, n, ok)
				}
				stream = append(stream, enc...)
			}
			r := NewReader(bytes.NewReader(stream))
			for i, v := range vals {
				if got := r.Varlong(minBytes); got != v {
					t.Fatalf("value %d: Varlong = %d (err %v), want %d", i, got, r.Err(), v)
				}
			}
			if r.Err() != nil || r.Count() != int64(len(stream)) {
				t.Fatalf("after the stream: err %v, consumed %d of %d", r.Err(), r.Count(), len(stream))
			}
		})
	}
}

func TestReaderRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		read    func(r *Reader)
		wantErr error
	}{
		{"varint lead f8 (5 extra bytes)", "f8 00 00 00 00 00", func(r *Reader) { r.Varint() }, ErrMalformed},
		{"varint lead ff", "ff 00 00 00 00 00 00 00 00", func(r *Reader) { r.Varint() }, ErrMalformed},
		{"varint truncated", "c0 fe", func(r *Reader) { r.Varint() }, io.ErrUnexpectedEOF},
		{"varint empty", "", func(r *Reader) { r.Varint() }, io.ErrUnexpectedEOF},
		{"varlong(3) lead fe (7 extra bytes)", "fe 00 00 00 00 00 00 00 00 00", func(r *Reader) { r.Varlong(3) }, ErrMalformed},
		{"varlong(4) lead fc (6 extra bytes)", "fc 00 00 00 00 00 00 00 00 00", func(r *Reader) { r.Varlong(4) }, ErrMalformed},
		{"varlong(3) truncated fixed bytes", "00 01", func(r *Reader) { r.Varlong(3) }, io.ErrUnexpectedEOF},
		{"varlong(4) truncated extra bytes", "80 00 00 00", func(r *Reader) { r.Varlong(4) }, io.ErrUnexpectedEOF},
		{"varlong bad minimum", "00 00 00", func(r *Reader) { r.Varlong(0) }, nil},
		{"int32 truncated", "01 02 03", func(r *Reader) { r.Int32() }, io.ErrUnexpectedEOF},
		{"shortint truncated", "01", func(r *Reader) { r.Shortint() }, io.ErrUnexpectedEOF},
		{"bytes over the limit", "", func(r *Reader) { r.Bytes(10, 9, "thing") }, ErrMalformed},
		{"bytes negative", "", func(r *Reader) { r.Bytes(-1, 9, "thing") }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(unhex(tt.in)))
			tt.read(r)
			if r.Err() == nil {
				t.Fatalf("no error")
			}
			if tt.wantErr != nil && !errors.Is(r.Err(), tt.wantErr) {
				t.Fatalf("err = %v, want %v", r.Err(), tt.wantErr)
			}
		})
	}
}

func TestReaderStickyError(t *testing.T) {
	r := NewReader(bytes.NewReader(unhex("f8 05 06 07 08 09 0a 0b")))
	r.Varint()
	first := r.Err()
	if !errors.Is(first, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", first)
	}
	if got := r.Int32(); got != 0 {
		t.Errorf("Int32 after an error = %d, want 0", got)
	}
	if got := r.Byte(); got != 0 {
		t.Errorf("Byte after an error = %d, want 0", got)
	}
	if got := r.Vstring(100); got != "" {
		t.Errorf("Vstring after an error = %q, want empty", got)
	}
	if r.Err() != first { //nolint:errorlint // the sticky error must be the same value, not one that wraps it
		t.Errorf("err changed from %v to %v", first, r.Err())
	}
	r.Failf("later %d", 1)
	if r.Err() != first { //nolint:errorlint // as above
		t.Errorf("Failf replaced the first error: %v", r.Err())
	}
}

func TestVstring(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		prefix string // the length bytes
	}{
		{"empty", 0, "00"},
		{"one", 1, "01"},
		{"one-byte max", 0x7f, "7f"},
		{"two-byte min", 0x80, "80 80"},
		{"300", 300, "81 2c"},
		{"max", 0x7fff, "ff ff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := strings.Repeat("x\x80", tt.n)[:tt.n]
			var buf bytes.Buffer
			w := NewWriter(&buf)
			w.Vstring(s)
			if w.Err() != nil {
				t.Fatalf("Vstring: %v", w.Err())
			}
			want := append(unhex(tt.prefix), s...)
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("encoded %d bytes as %s…, want %s…", tt.n, spaced(buf.Bytes()[:min(buf.Len(), 4)]), tt.prefix)
			}
			r := NewReader(bytes.NewReader(buf.Bytes()))
			if got := r.Vstring(0x7fff); got != s || r.Err() != nil {
				t.Fatalf("Vstring round trip: %d bytes, err %v; want %d bytes", len(got), r.Err(), len(s))
			}
			if tt.n > 0 {
				// One byte under the length is refused before allocating.
				r := NewReader(bytes.NewReader(unhex(tt.prefix)))
				if got := r.Vstring(tt.n - 1); got != "" || !errors.Is(r.Err(), ErrMalformed) {
					t.Fatalf("Vstring(limit %d) of %d bytes = %q, %v; want ErrMalformed", tt.n-1, tt.n, got, r.Err())
				}
			}
		})
	}
	t.Run("writer refuses 32 KiB", func(t *testing.T) {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.Vstring(strings.Repeat("a", 0x8000))
		if w.Err() == nil {
			t.Fatal("no error for a 0x8000-byte vstring")
		}
		if buf.Len() != 0 {
			t.Fatalf("wrote %d bytes of a refused vstring", buf.Len())
		}
	})
	t.Run("non-canonical two-byte short length", func(t *testing.T) {
		r := NewReader(bytes.NewReader(unhex("80 03 61 62 63")))
		if got := r.Vstring(10); got != "abc" || r.Err() != nil {
			t.Fatalf("Vstring = %q, %v", got, r.Err())
		}
	})
	t.Run("truncated body", func(t *testing.T) {
		r := NewReader(bytes.NewReader(unhex("05 61 62")))
		r.Vstring(10)
		if !errors.Is(r.Err(), io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want ErrUnexpectedEOF", r.Err())
		}
	})
}

func TestFixedWidth(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Int32(-2)
	w.Shortint(0xa002)
	w.Byte(0x7e)
	if want := unhex("fe ff ff ff 02 a0 7e"); !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("wrote %s, want %s", spaced(buf.Bytes()), spaced(want))
	}
	r := NewReader(&buf)
	if a, b, c := r.Int32(), r.Shortint(), r.Byte(); a != -2 || b != 0xa002 || c != 0x7e || r.Err() != nil {
		t.Fatalf("read %d %#x %#x (err %v)", a, b, c, r.Err())
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("boom")
	}
	f.n--
	return len(p), nil
}

func TestWriterStickyError(t *testing.T) {
	fw := &failWriter{n: 1}
	w := NewWriter(fw)
	w.Int32(1)
	if w.Err() != nil {
		t.Fatalf("first write failed: %v", w.Err())
	}
	w.Int32(2)
	if w.Err() == nil {
		t.Fatal("second write: no error")
	}
	fw.n = 10
	w.Varint(3)
	if w.Err() == nil || fw.n != 10 {
		t.Fatalf("a write after the error reached the writer (err %v)", w.Err())
	}
}
