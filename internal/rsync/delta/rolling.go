// Package delta is rsync's delta algorithm with no notion of transport:
// the rolling checksum (checksum.c:get_checksum1), block-size rules
// (generator.c:sum_sizes_sqroot), block signatures, the matcher
// (match.c:hash_search) and reconstruction from a token stream
// (receiver.c:receive_data). Everything works over io.Reader/io.Writer and
// plain values, so it can be tested and fuzzed without a peer.
package delta

// Rolling is rsync's weak checksum over a window of signed bytes
// (CHAR_OFFSET 0): s1 = Σx, s2 = Σ(k−i)·x, sum = (s1 & 0xffff) | s2<<16.
type Rolling struct {
	s1, s2 uint32
	n      uint32 // window length
}

// Sum1 returns the weak checksum of block (checksum.c:get_checksum1).
func Sum1(block []byte) uint32 {
	var r Rolling
	r.Init(block)
	return r.Sum()
}

// Init sets the window to block.
func (r *Rolling) Init(block []byte) {
	var s1, s2 uint32
	for _, b := range block {
		s1 += uint32(int32(int8(b)))
		s2 += s1
	}
	r.s1, r.s2, r.n = s1, s2, uint32(len(block))
}

// Sum returns the packed checksum.
func (r *Rolling) Sum() uint32 { return r.s1&0xffff | r.s2<<16 }

// Roll slides the window one byte: out leaves at the front, in enters at
// the back.
func (r *Rolling) Roll(out, in byte) {
	o := uint32(int32(int8(out)))
	r.s1 += uint32(int32(int8(in))) - o
	r.s2 += r.s1 - r.n*o
}

// Shrink drops the front byte without adding one (the window at the end of
// the file gets shorter, as in match.c).
func (r *Rolling) Shrink(out byte) {
	o := uint32(int32(int8(out)))
	r.s1 -= o
	r.s2 -= r.n * o
	r.n--
}
