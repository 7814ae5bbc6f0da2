package delta

import (
	"fmt"
	"math/bits"
)

// Limits the protocol puts on a sum head (io.c:read_sum_head, rsync.h).
const (
	MaxBlockSize    = 1 << 17 // MAX_BLOCK_SIZE at protocol ≥ 30
	OldMaxBlockSize = 1 << 13 // OLD_MAX_BLOCK_SIZE: protocols < 30 reject larger blocks
	MinBlockSize    = 700     // BLOCK_SIZE
	MaxSumLength    = 16      // SUM_LENGTH
	MaxLiteralRun   = 32 << 10
	MinShortSumLen  = 2
)

// SumHead describes a basis file's block signature (rsync.h struct sum_struct
// as sent by io.c:write_sum_head).
type SumHead struct {
	Count     int32 // number of blocks
	BlockLen  int32 // bytes per block
	S2Len     int32 // bytes of each strong sum sent
	Remainder int32 // length of the last block, 0 if it is full
}

// Validate checks a sum head received from a peer before anything is
// allocated for it (io.c:read_sum_head). digestLen is the negotiated strong
// checksum's length; maxCount bounds the memory a peer can make us spend.
func (h SumHead) Validate(digestLen int, maxCount int32) error {
	switch {
	case h.Count < 0:
		return fmt.Errorf("invalid block count %d", h.Count)
	case h.Count > maxCount:
		return fmt.Errorf("block count %d exceeds the limit %d", h.Count, maxCount)
	case h.BlockLen < 0 || h.BlockLen > MaxBlockSize:
		return fmt.Errorf("invalid block length %d", h.BlockLen)
	case h.Count > 0 && h.BlockLen == 0:
		return fmt.Errorf("block length 0 with %d blocks", h.Count)
	case h.S2Len < 0 || int(h.S2Len) > digestLen:
		return fmt.Errorf("invalid strong sum length %d (digest is %d bytes)", h.S2Len, digestLen)
	case h.Remainder < 0 || h.Remainder > h.BlockLen:
		return fmt.Errorf("invalid remainder %d for block length %d", h.Remainder, h.BlockLen)
	}
	return nil
}

// BlockLenAt returns the length of block i.
func (h SumHead) BlockLenAt(i int32) int32 {
	if i == h.Count-1 && h.Remainder != 0 {
		return h.Remainder
	}
	return h.BlockLen
}

// FileLen is the size of the basis the head describes.
func (h SumHead) FileLen() int64 {
	if h.Count == 0 {
		return 0
	}
	n := int64(h.Count) * int64(h.BlockLen)
	if h.Remainder != 0 {
		n -= int64(h.BlockLen - h.Remainder)
	}
	return n
}

// NewSumHead picks block and strong-sum lengths for a basis of length
// fileLen as stock rsync does (generator.c:sum_sizes_sqroot). redo selects
// the full strong sum used in the redo phase.
func NewSumHead(fileLen int64, digestLen int, redo bool) SumHead {
	return NewSumHeadMax(fileLen, digestLen, redo, MaxBlockSize)
}

// NewSumHeadMax is NewSumHead with the protocol's largest block
// (generator.c:sum_sizes_sqroot: OldMaxBlockSize below protocol 30).
func NewSumHeadMax(fileLen int64, digestLen int, redo bool, maxBlock int64) SumHead {
	var blength int64
	if fileLen <= MinBlockSize*MinBlockSize {
		blength = MinBlockSize
	} else {
		// ⌊√L⌋ rounded down to a multiple of 8, capped at MaxBlockSize.
		c := int64(1)
		for l := fileLen; l>>2 != 0; l >>= 2 {
			c <<= 1
		}
		if c >= maxBlock || c == 0 {
			blength = maxBlock
		} else {
			blength = 0
			for ; c >= 8; c >>= 1 {
				blength |= c
				if fileLen < blength*blength {
					blength &^= c
				}
			}
			blength = max(blength, MinBlockSize)
		}
	}
	s2 := int64(min(MaxSumLength, digestLen))
	if !redo {
		b := int64(10) // BLOCKSUM_BIAS
		b += 2 * int64(bits.Len64(uint64(fileLen))-1)
		b -= int64(bits.Len64(uint64(blength)) - 1)
		// Divide like C: truncation toward zero.
		v := (b + 1 - 32 + 7) / 8
		s2 = max(MinShortSumLen, min(v, s2))
	}
	h := SumHead{BlockLen: int32(blength), S2Len: int32(s2)}
	if fileLen > 0 {
		h.Count = int32((fileLen + blength - 1) / blength)
		h.Remainder = int32(fileLen % blength)
	}
	return h
}

// Signature is the block signature of a basis file: one weak and one
// (truncated) strong sum per block.
type Signature struct {
	Head SumHead
	Sum1 []uint32
	Sum2 []byte // Count × S2Len bytes
}

// Strong returns the strong sum of block i.
func (s *Signature) Strong(i int32) []byte {
	n := s.Head.S2Len
	return s.Sum2[int64(i)*int64(n) : int64(i+1)*int64(n)]
}
