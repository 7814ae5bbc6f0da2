package delta

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestNewSumHeadStock(t *testing.T) {
	tests := []struct {
		name      string
		fileLen   int64
		digestLen int
		redo      bool
		want      SumHead
	}{
		// NOTES.md §10.1, c-push-delta s2c@0x35 and k-push-redo-mismatch.
		{"c-push-delta", 100000, 16, false, SumHead{Count: 143, BlockLen: 700, S2Len: 2, Remainder: 600}},
		{"c-push-delta redo", 100000, 16, true, SumHead{Count: 143, BlockLen: 700, S2Len: 16, Remainder: 600}},
		{"redo with an 8-byte digest", 100000, 8, true, SumHead{Count: 143, BlockLen: 700, S2Len: 8, Remainder: 600}},
		{"empty file", 0, 16, false, SumHead{Count: 0, BlockLen: 700, S2Len: 2, Remainder: 0}},
		{"one byte", 1, 16, false, SumHead{Count: 1, BlockLen: 700, S2Len: 2, Remainder: 1}},
		{"one block exactly", 700, 16, false, SumHead{Count: 1, BlockLen: 700, S2Len: 2, Remainder: 0}},
		{"700² is still 700", 490000, 16, false, SumHead{Count: 700, BlockLen: 700, S2Len: 2, Remainder: 0}},
		// √490001 = 700.0007; 700 rounded down to a multiple of 8 is 696,
		// and the minimum is 700.
		{"just over 700²", 490001, 16, false, SumHead{Count: 701, BlockLen: 700, S2Len: 2, Remainder: 1}},
		// 100 MiB: √L = 10240 exactly.
		{"100 MiB", 100 << 20, 16, false, SumHead{Count: 10240, BlockLen: 10240, S2Len: 3, Remainder: 0}},
		// 100 MB: √L = 10000.
		{"100 MB", 100_000_000, 16, false, SumHead{Count: 10000, BlockLen: 10000, S2Len: 3, Remainder: 0}},
		// 5 GiB: ⌊√L⌋ = 73271, rounded down to 73264.
		{"5 GiB", 5 << 30, 16, false, SumHead{Count: 73279, BlockLen: 73264, S2Len: 4, Remainder: 69728}},
		// 1 TiB: √L = 2^20, capped at 131072.
		{"1 TiB", 1 << 40, 16, false, SumHead{Count: 1 << 23, BlockLen: 131072, S2Len: 6, Remainder: 0}},
		{"1 TiB, 8-byte digest", 1 << 40, 8, false, SumHead{Count: 1 << 23, BlockLen: 131072, S2Len: 6, Remainder: 0}},
		{"just over 2^34", 1<<34 + 1, 16, false, SumHead{Count: 131073, BlockLen: 131072, S2Len: 4, Remainder: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewSumHead(tt.fileLen, tt.digestLen, tt.redo)
			if got != tt.want {
				t.Fatalf("NewSumHead(%d, %d, %v) = %+v, want %+v", tt.fileLen, tt.digestLen, tt.redo, got, tt.want)
			}
			if fl := got.FileLen(); fl != tt.fileLen {
				t.Errorf("FileLen() = %d, want %d", fl, tt.fileLen)
			}
			if err := got.Validate(tt.digestLen, math.MaxInt32); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// isqrt is ⌊√n⌋, exactly.
func isqrt(n int64) int64 {
	return new(big.Int).Sqrt(big.NewInt(n)).Int64()
}

// refS2Len is generator.c:sum_sizes_sqroot's strong-sum length as NOTES.md
// §10.1 states it: b = 10 + 2·⌊log2 L⌋ − ⌊log2 blength⌋, s2length =
// (b + 1 − 32 + 7) / 8 truncated, clamped to [2, min(16, digest)].
func refS2Len(fileLen, blength int64, digestLen int) int32 {
	floorLog2 := func(v int64) int64 {
		n := int64(-1)
		for ; v > 0; v >>= 1 {
			n++
		}
		return n
	}
	b := 10 + 2*floorLog2(fileLen) - floorLog2(blength)
	s2 := (b + 1 - 32 + 7) / 8
	return int32(max(2, min(s2, int64(min(16, digestLen)))))
}

// TestNewSumHeadProperties checks the block-size rule and that count and
// remainder describe the file exactly, over sizes up to 2^45 (no int32
// overflow of count for anything rsync can describe).
func TestNewSumHeadProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	var sizes []int64
	for s := 0; s <= 45; s++ {
		p := int64(1) << s
		sizes = append(sizes, p-1, p, p+1)
	}
	sizes = append(sizes, 490000, 490001, 131072*131072-1, 131072*131072, 131072*131072+1)
	for range 3000 {
		sizes = append(sizes, rng.Int64N(int64(1)<<(1+rng.IntN(45))))
	}
	for _, L := range sizes {
		for _, digestLen := range []int{8, 16} {
			h := NewSumHead(L, digestLen, false)
			wantBlen := int64(MinBlockSize)
			if L > MinBlockSize*MinBlockSize {
				wantBlen = max(MinBlockSize, min(MaxBlockSize, isqrt(L)&^7))
			}
			if int64(h.BlockLen) != wantBlen {
				t.Fatalf("L=%d: blength %d, want %d", L, h.BlockLen, wantBlen)
			}
			if want := refS2Len(L, wantBlen, digestLen); h.S2Len != want {
				t.Fatalf("L=%d digest %d: s2length %d, want %d", L, digestLen, h.S2Len, want)
			}
			if fl := h.FileLen(); fl != L {
				t.Fatalf("L=%d: %+v describes %d bytes", L, h, fl)
			}
			wantCount := (L + wantBlen - 1) / wantBlen
			if int64(h.Count) != wantCount || int64(h.Remainder) != L%wantBlen {
				t.Fatalf("L=%d: %+v, want count %d remainder %d", L, h, wantCount, L%wantBlen)
			}
			if h.Remainder < 0 || h.Remainder >= h.BlockLen {
				t.Fatalf("L=%d: remainder %d outside [0, %d)", L, h.Remainder, h.BlockLen)
			}
			if err := h.Validate(digestLen, math.MaxInt32); err != nil {
				t.Fatalf("L=%d: %+v: %v", L, h, err)
			}
			if redo := NewSumHead(L, digestLen, true); redo.S2Len != int32(min(16, digestLen)) || redo.BlockLen != h.BlockLen || redo.Count != h.Count {
				t.Fatalf("L=%d: redo head %+v", L, redo)
			}
		}
	}
}

func TestBlockLenAtAndFileLen(t *testing.T) {
	tests := []struct {
		h       SumHead
		lens    []int32 // BlockLenAt(0..Count-1)
		fileLen int64
	}{
		{SumHead{}, nil, 0},
		{SumHead{Count: 0, BlockLen: 700, Remainder: 0}, nil, 0},
		{SumHead{Count: 1, BlockLen: 700, Remainder: 1}, []int32{1}, 1},
		{SumHead{Count: 3, BlockLen: 700, Remainder: 0}, []int32{700, 700, 700}, 2100},
		{SumHead{Count: 3, BlockLen: 700, Remainder: 600}, []int32{700, 700, 600}, 2000},
		// remainder == blength is legal on the wire (0 ≤ remainder ≤
		// blength) and means a full last block.
		{SumHead{Count: 2, BlockLen: 8, Remainder: 8}, []int32{8, 8}, 16},
		{SumHead{Count: math.MaxInt32, BlockLen: MaxBlockSize, Remainder: 1}, nil, int64(math.MaxInt32-1)*MaxBlockSize + 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.h), func(t *testing.T) {
			for i, want := range tt.lens {
				if got := tt.h.BlockLenAt(int32(i)); got != want {
					t.Errorf("BlockLenAt(%d) = %d, want %d", i, got, want)
				}
			}
			if got := tt.h.FileLen(); got != tt.fileLen {
				t.Errorf("FileLen() = %d, want %d", got, tt.fileLen)
			}
		})
	}
}

func TestSumHeadValidate(t *testing.T) {
	const digest = 16
	const maxCount = 1000
	good := SumHead{Count: 10, BlockLen: 700, S2Len: 2, Remainder: 100}
	valid := []struct {
		name string
		h    SumHead
	}{
		{"typical", good},
		{"no basis: all zero", SumHead{}},
		{"count 0 with a block length", SumHead{BlockLen: 700, S2Len: 2}},
		{"max block", SumHead{Count: 1, BlockLen: MaxBlockSize, S2Len: 16, Remainder: MaxBlockSize}},
		{"s2length = digest", SumHead{Count: 1, BlockLen: 1, S2Len: digest}},
		{"s2length 0", SumHead{Count: 1, BlockLen: 1, S2Len: 0}},
		{"count = limit", SumHead{Count: maxCount, BlockLen: 1, S2Len: 2}},
	}
	for _, tt := range valid {
		t.Run("valid/"+tt.name, func(t *testing.T) {
			if err := tt.h.Validate(digest, maxCount); err != nil {
				t.Fatalf("Validate(%+v) = %v", tt.h, err)
			}
		})
	}
	invalid := []struct {
		name string
		edit func(*SumHead)
	}{
		{"negative count", func(h *SumHead) { h.Count = -1 }},
		{"min int32 count", func(h *SumHead) { h.Count = math.MinInt32 }},
		{"count over the limit", func(h *SumHead) { h.Count = maxCount + 1 }},
		{"negative block length", func(h *SumHead) { h.BlockLen = -700 }},
		{"block length over MAX_BLOCK_SIZE", func(h *SumHead) { h.BlockLen = MaxBlockSize + 1; h.Remainder = 0 }},
		{"block length 0 with blocks", func(h *SumHead) { h.BlockLen = 0; h.Remainder = 0 }},
		{"negative s2length", func(h *SumHead) { h.S2Len = -1 }},
		{"s2length over the digest", func(h *SumHead) { h.S2Len = digest + 1 }},
		{"s2length over SUM_LENGTH-sized digest", func(h *SumHead) { h.S2Len = 20 }},
		{"negative remainder", func(h *SumHead) { h.Remainder = -1 }},
		{"remainder over block length", func(h *SumHead) { h.Remainder = h.BlockLen + 1 }},
	}
	for _, tt := range invalid {
		t.Run("invalid/"+tt.name, func(t *testing.T) {
			h := good
			tt.edit(&h)
			if err := h.Validate(digest, maxCount); err == nil {
				t.Fatalf("Validate(%+v) accepted it", h)
			}
		})
	}
	// The digest length bounds s2length: 8-byte digests refuse 9.
	if err := (SumHead{Count: 1, BlockLen: 1, S2Len: 9}).Validate(8, maxCount); err == nil {
		t.Error("s2length 9 accepted with an 8-byte digest")
	}
}
