package wire

import (
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"testing"
)

func TestNdxExamples(t *testing.T) {
	tests := []struct {
		name string
		seq  []int32 // values sent with one fresh state
		enc  string
	}{
		// NOTES.md §7, verified against captures.
		{"ndx 0 first", []int32{0}, "01"},
		{"ndx 3 first", []int32{3}, "04"},
		{"repeat is diff 0", []int32{3, 3}, "04 fe 00 00"},
		{"NDX_DEL_STATS", []int32{NdxDelStats}, "ff 02"},
		{"NDX_DONE", []int32{NdxDone}, "00"},
		// Derived from the rules in §7.
		{"consecutive", []int32{0, 1, 2, 5}, "01 01 01 03"},
		{"diff 253 is one byte", []int32{252}, "fd"},
		{"diff 254 is fe + 2 bytes", []int32{253}, "fe 00 fe"},
		{"diff 300 high byte first", []int32{299}, "fe 01 2c"},
		{"diff 32767", []int32{0x7ffe}, "fe 7f ff"},
		{"diff 32768 is absolute", []int32{0x7fff}, "fe 80 ff 7f 00"},
		{"backwards is absolute", []int32{5, 2}, "06 fe 80 02 00 00"},
		{"large absolute", []int32{0x12345678}, "fe 92 78 56 34"},
		{"max int32", []int32{math.MaxInt32}, "fe ff ff ff ff"},
		{"NDX_FLIST_EOF", []int32{NdxFlistEOF}, "ff 01"},
		{"negatives keep their own state", []int32{-2, 7, -3, 8}, "ff 01 08 ff 01 01"},
		{"flist offset", []int32{NdxFlistOffset}, "ff 64"},
		{"done does not touch the state", []int32{4, NdxDone, 5}, "05 00 01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ws NdxState
			var got []byte
			for _, v := range tt.seq {
				got = ws.AppendNdx(got, v)
			}
			want := unhex(tt.enc)
			if !bytes.Equal(got, want) {
				t.Errorf("AppendNdx(%v) = %s, want %s", tt.seq, spaced(got), tt.enc)
			}
			var rs NdxState
			r := NewReader(bytes.NewReader(want))
			for i, v := range tt.seq {
				if d := r.ReadNdx(&rs); d != v || r.Err() != nil {
					t.Fatalf("ReadNdx #%d of %s = %d (err %v), want %d", i, tt.enc, d, r.Err(), v)
				}
			}
			if r.Count() != int64(len(want)) {
				t.Errorf("consumed %d of %d bytes", r.Count(), len(want))
			}
		})
	}
}

func TestNdxRoundTripRandom(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		seq := randomNdxSeq(rng, 2000)
		var ws NdxState
		var enc []byte
		for _, v := range seq {
			enc = ws.AppendNdx(enc, v)
		}
		var rs NdxState
		r := NewReader(bytes.NewReader(enc))
		for i, v := range seq {
			if got := r.ReadNdx(&rs); got != v {
				t.Fatalf("seed %d: value %d: ReadNdx = %d (err %v), want %d (previous %v)", seed, i, got, r.Err(), v, seq[max(0, i-3):i])
			}
		}
		if r.Err() != nil || r.Count() != int64(len(enc)) {
			t.Fatalf("seed %d: err %v, consumed %d of %d", seed, r.Err(), r.Count(), len(enc))
		}
		if rs != ws {
			t.Fatalf("seed %d: reader state %+v differs from writer state %+v", seed, rs, ws)
		}
	}
}

// randomNdxSeq mixes the ways a real stream moves (small steps, repeats for
// redo) with what only a hostile or huge list would do (large jumps, going
// backwards, the extremes), plus the negative specials.
func randomNdxSeq(rng *rand.Rand, n int) []int32 {
	seq := make([]int32, 0, n)
	cur := int32(-1)
	for len(seq) < n {
		switch rng.IntN(10) {
		case 0:
			seq = append(seq, NdxDone)
			continue
		case 1:
			neg := []int32{NdxFlistEOF, NdxDelStats, NdxFlistOffset, NdxFlistOffset - rng.Int32N(1<<20), -math.MaxInt32}
			seq = append(seq, neg[rng.IntN(len(neg))])
			continue
		case 2:
			cur = rng.Int32N(math.MaxInt32) // anywhere
		case 3:
			cur = max(0, cur-rng.Int32N(1000)) // backwards
		case 4:
			// repeat (redo)
			cur = max(cur, 0)
		case 5:
			cur = min(math.MaxInt32-0x10000, max(cur, 0)) + 0xfe + rng.Int32N(0x7fff)
		case 6:
			cur = []int32{0, math.MaxInt32, 0x7fff, 0x8000, 0xfd, 0xfe}[rng.IntN(6)]
		default:
			cur = min(math.MaxInt32-0x100, max(cur, -1)) + 1 + rng.Int32N(0xfd)
		}
		seq = append(seq, cur)
	}
	return seq
}

func TestNdxTruncated(t *testing.T) {
	for _, enc := range []string{"fe", "fe 01", "fe 80 01 02", "ff", "ff fe 00"} {
		t.Run(enc, func(t *testing.T) {
			var s NdxState
			r := NewReader(bytes.NewReader(unhex(enc)))
			if got := r.ReadNdx(&s); got != 0 || !errors.Is(r.Err(), io.ErrUnexpectedEOF) {
				t.Fatalf("ReadNdx(%s) = %d, %v; want 0, ErrUnexpectedEOF", enc, got, r.Err())
			}
			if s.prevPositive != -1 || s.prevNegative != 1 {
				t.Fatalf("a failed read changed the state to %+v", s)
			}
		})
	}
}

// TestNdxOverflowRejected: a delta that would carry an index past
// 2^31-1 has no valid meaning (and rsync's C code would overflow a signed
// int); the decoder must refuse it rather than return a negative number
// that aliases NDX_DONE or another special value.
func TestNdxOverflowRejected(t *testing.T) {
	tests := []struct{ name, enc string }{
		{"positive past max", "fe ff ff ff ff 01"},
		{"positive two-byte diff past max", "fe ff ff ff ff fe 00 fe"},
		{"negative past max", "ff fe ff ff ff ff ff 01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s NdxState
			r := NewReader(bytes.NewReader(unhex(tt.enc)))
			first := r.ReadNdx(&s)
			if r.Err() != nil {
				t.Fatalf("first value: %v", r.Err())
			}
			got := r.ReadNdx(&s)
			if !errors.Is(r.Err(), ErrMalformed) {
				t.Fatalf("after %d: ReadNdx = %d, err %v; want ErrMalformed", first, got, r.Err())
			}
		})
	}
}
