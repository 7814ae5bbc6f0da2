package provider

// The baseline's fingerprints as kept in private state: a Golomb-coded
// set (codeSet below).

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
)

// codeBits sets the set's precision: an entry not in it passes for one
// that is with probability about 2^-codeBits (printSetFalseRate), and each
// entry costs about codeBits + 1.6 bits.
const codeBits = 16

// codeSet is a Golomb-coded set of fingerprints: each fingerprint of n is
// mapped to a code in [0, n << codeBits), and the sorted distinct codes are
// kept as the differences between neighbours, each as a unary quotient
// and a codeBits-bit remainder (Rice coding).
//
// Why not the Bloom filter it replaces (Set, still read): Terraform writes
// every resource's private state into the state file after each resource
// it applies, so with a for_each fleet the baseline's size is paid
// resources × resources times per apply (issue 15). At the same false
// positive rate a Bloom filter takes about 23 bits an entry; this takes
// about 17.6, a quarter less, for the same answers.
//
// Why by hand: no maintained Go library of Golomb-coded sets stands
// alone; btcd's btcutil/gcs is BIP 158's (SipHash-keyed codes, its own
// parameters) and brings the bitcoin module with it. The coding is the
// sort, the differences and a Rice code of each, decoded with bounds.
type codeSet struct {
	n     uint64   // entries the codes were made from: they range over n << codeBits
	codes []uint64 // sorted, distinct
}

// codeOf maps a fingerprint to its code among n entries: the high word of
// fp × (n << codeBits), uniform over the range as fp is over 64 bits.
func codeOf(fp, n uint64) uint64 {
	hi, _ := bits.Mul64(fp, n<<codeBits)
	return hi
}

// newCodeSet is the set of the fingerprints fps.
func newCodeSet(fps []uint64) codeSet {
	n := uint64(len(fps))
	codes := make([]uint64, len(fps))
	for i, fp := range fps {
		codes[i] = codeOf(fp, n)
	}
	slices.Sort(codes)
	return codeSet{n: n, codes: slices.Compact(codes)}
}

// has reports whether fp's code is in the set.
func (s codeSet) has(fp uint64) bool {
	if s.n == 0 {
		return false
	}
	_, ok := slices.BinarySearch(s.codes, codeOf(fp, s.n))
	return ok
}

// encode is the set as kept: n and the number of codes (uvarints), then
// the Rice-coded differences, most significant bit first, the last byte
// padded with zero bits.
func (s codeSet) encode() []byte {
	out := binary.AppendUvarint(nil, s.n)
	out = binary.AppendUvarint(out, uint64(len(s.codes)))
	w := bitWriter{out: out}
	prev := uint64(0)
	for _, c := range s.codes {
		d := c - prev
		prev = c
		for q := d >> codeBits; q > 0; q-- {
			w.bit(1)
		}
		w.bit(0)
		for i := codeBits - 1; i >= 0; i-- {
			w.bit(uint8(d >> uint(i) & 1))
		}
	}
	return w.flush()
}

// decodeCodeSet reads encode's bytes. It refuses more entries than
// baselineMaxItems, codes out of order or out of range, and any byte or
// bit beyond the codes but the last byte's zero padding.
func decodeCodeSet(raw []byte) (codeSet, error) {
	n, a := binary.Uvarint(raw)
	if a <= 0 || n > baselineMaxItems {
		return codeSet{}, errors.New("bad entry count")
	}
	k, b := binary.Uvarint(raw[a:])
	if b <= 0 || k > n {
		return codeSet{}, errors.New("bad code count")
	}
	r := bitReader{in: raw[a+b:]}
	limit := n << codeBits
	s := codeSet{n: n, codes: make([]uint64, 0, k)}
	prev := uint64(0)
	for i := range k {
		q := uint64(0)
		for {
			bit, ok := r.bit()
			if !ok {
				return codeSet{}, errors.New("codes cut short")
			}
			if bit == 0 {
				break
			}
			if q++; q > n {
				return codeSet{}, errors.New("code out of range")
			}
		}
		rem := uint64(0)
		for range codeBits {
			bit, ok := r.bit()
			if !ok {
				return codeSet{}, errors.New("codes cut short")
			}
			rem = rem<<1 | uint64(bit)
		}
		d := q<<codeBits | rem
		if i > 0 && d == 0 {
			return codeSet{}, errors.New("codes not in order")
		}
		c := prev + d
		if c >= limit {
			return codeSet{}, errors.New("code out of range")
		}
		s.codes = append(s.codes, c)
		prev = c
	}
	if !r.rest() {
		return codeSet{}, errors.New("bytes beyond the codes")
	}
	return s, nil
}

// bitWriter appends bits to out, most significant first.
type bitWriter struct {
	out  []byte
	cur  byte
	used uint
}

func (w *bitWriter) bit(b uint8) {
	w.cur |= (b & 1) << (7 - w.used)
	if w.used++; w.used == 8 {
		w.out = append(w.out, w.cur)
		w.cur, w.used = 0, 0
	}
}

func (w *bitWriter) flush() []byte {
	if w.used > 0 {
		w.out = append(w.out, w.cur)
	}
	return w.out
}

// bitReader reads bits from in, most significant first.
type bitReader struct {
	in  []byte
	pos uint // bits read
}

func (r *bitReader) bit() (uint8, bool) {
	if r.pos >= uint(len(r.in))*8 {
		return 0, false
	}
	b := r.in[r.pos/8] >> (7 - r.pos%8) & 1
	r.pos++
	return b, true
}

// rest reports whether what is left is only the last byte's zero padding.
func (r *bitReader) rest() bool {
	if uint(len(r.in))*8-r.pos >= 8 {
		return false
	}
	for {
		b, ok := r.bit()
		if !ok {
			return true
		}
		if b != 0 {
			return false
		}
	}
}
