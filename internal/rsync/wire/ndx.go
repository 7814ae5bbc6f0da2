package wire

// File-index values with a special meaning (rsync.h).
const (
	NdxDone        = -1 // NDX_DONE: end of a phase
	NdxFlistEOF    = -2 // NDX_FLIST_EOF: inc-recursion only
	NdxDelStats    = -3 // NDX_DEL_STATS: deletion counters follow
	NdxFlistOffset = -101
)

// NdxState is the per-direction, per-stream state of the delta-coded file
// index (io.c:write_ndx / read_ndx keep "prev_positive" and "prev_negative").
// Use one for reading and a separate one for writing.
type NdxState struct {
	prevPositive, prevNegative int32
	init                       bool
}

func (s *NdxState) reset() {
	if !s.init {
		s.prevPositive, s.prevNegative, s.init = -1, 1, true
	}
}

// AppendNdx appends the protocol ≥ 30 encoding of ndx (io.c:write_ndx).
func (s *NdxState) AppendNdx(dst []byte, ndx int32) []byte {
	s.reset()
	if ndx == NdxDone {
		return append(dst, 0)
	}
	var diff, abs int32
	if ndx >= 0 {
		abs = ndx
		diff = ndx - s.prevPositive
		s.prevPositive = ndx
	} else {
		dst = append(dst, 0xff)
		abs = -ndx
		diff = abs - s.prevNegative
		s.prevNegative = abs
	}
	switch {
	case diff > 0 && diff < 0xfe:
		return append(dst, byte(diff))
	case diff < 0 || diff > 0x7fff:
		return append(dst, 0xfe, byte(abs>>24)|0x80, byte(abs), byte(abs>>8), byte(abs>>16))
	default:
		return append(dst, 0xfe, byte(diff>>8), byte(diff))
	}
}

// ReadNdx decodes one file index (io.c:read_ndx).
func (r *Reader) ReadNdx(s *NdxState) int32 {
	s.reset()
	b := r.Byte()
	if r.err != nil {
		return 0
	}
	prev := &s.prevPositive
	neg := false
	switch b {
	case 0xff:
		neg = true
		prev = &s.prevNegative
		b = r.Byte()
	case 0:
		return NdxDone
	}
	var num int32
	if b == 0xfe {
		hi := r.Byte()
		lo := r.Byte()
		if hi&0x80 != 0 {
			b2, b3 := r.Byte(), r.Byte()
			num = int32(hi&0x7f)<<24 | int32(lo) | int32(b2)<<8 | int32(b3)<<16
		} else {
			num = int32(hi)<<8 | int32(lo) + *prev
		}
	} else {
		num = int32(b) + *prev
	}
	if r.err != nil {
		return 0
	}
	if num < 0 { // a delta carried the index past 2^31-1
		r.Failf("file index overflows int32")
		return 0
	}
	*prev = num
	if neg {
		return -num
	}
	return num
}

// ReadNdxProto reads a file index as the protocol codes it: a plain int32
// below 30 (io.c:read_ndx), delta-coded from 30.
func (r *Reader) ReadNdxProto(s *NdxState, protocol int) int32 {
	if protocol < 30 {
		return r.Int32()
	}
	return r.ReadNdx(s)
}

// AppendNdxProto appends ndx as the protocol codes it (io.c:write_ndx).
func (s *NdxState) AppendNdxProto(dst []byte, ndx int32, protocol int) []byte {
	if protocol < 30 {
		var b [4]byte
		b[0], b[1], b[2], b[3] = byte(ndx), byte(ndx>>8), byte(ndx>>16), byte(ndx>>24)
		return append(dst, b[:]...)
	}
	return s.AppendNdx(dst, ndx)
}
