package delta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/fuzzseed"
	"math/rand/v2"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
)

// Fuzz targets for the two things a peer sends the delta code: a sum head
// with its block sums (the sender reads them) and a token stream (the
// receiver applies it).

const (
	fuzzDigestLen = 16
	fuzzMaxCount  = 1 << 12 // the fuzz target's stand-in for maxSigBlocks
)

func md5Strong(dst, b []byte) []byte { return csum.MD5.Block(dst, b, 0, true) }

// encodeSignature lays out a signature as io.c:write_sum_head and
// generator.c:generate_and_send_sums put it on the wire.
func encodeSignature(sig *Signature) []byte {
	h := sig.Head
	var out []byte
	for _, v := range []int32{h.Count, h.BlockLen, h.S2Len, h.Remainder} {
		out = binary.LittleEndian.AppendUint32(out, uint32(v))
	}
	for i := range h.Count {
		out = binary.LittleEndian.AppendUint32(out, sig.Sum1[i])
		out = append(out, sig.Strong(i)...)
	}
	return out
}

func sumHeadSeeds() []fuzzseed.Seed {
	rng := rand.New(rand.NewPCG(41, 42))
	basis := randBytes(rng, 1500) // three blocks, the last of 100 bytes
	sigOf := func(b []byte, redo bool) []byte {
		sig, err := MakeSignature(bytes.NewReader(b), NewSumHead(int64(len(b)), fuzzDigestLen, redo), md5Strong)
		if err != nil {
			panic(err)
		}
		return encodeSignature(sig)
	}
	edited := splice(basis[:800], []byte("inserted"), basis[800:])
	raw := func(vals ...int32) []byte {
		var out []byte
		for _, v := range vals {
			out = binary.LittleEndian.AppendUint32(out, uint32(v))
		}
		return out
	}
	return []fuzzseed.Seed{
		{Name: "phase0-signature-and-edited-target", Args: []any{splice(sigOf(basis, false), edited)}},
		{Name: "redo-signature-and-same-target", Args: []any{splice(sigOf(basis[:1400], true), basis[:1400])}},
		{Name: "no-basis", Args: []any{splice(raw(0, 0, 0, 0), []byte("send it all"))}},
		{Name: "remainder-over-blength", Args: []any{raw(1, 700, 2, 701, 0, 0, 0)}},
		{Name: "count-over-limit", Args: []any{raw(fuzzMaxCount+1, 700, 2, 0)}},
	}
}

// FuzzSumHead: whatever head a peer sends, Validate either refuses it or
// the sums it announces fit in memory bounded by the Validate limit, and
// matching a file against them never breaks the token-stream invariants.
func FuzzSumHead(f *testing.F) {
	for _, s := range sumHeadSeeds() {
		f.Add(s.Args[0].([]byte))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0}) // blength MAX_BLOCK_SIZE
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 'x'})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 16 {
			return
		}
		le := func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) }
		h := SumHead{Count: le(data), BlockLen: le(data[4:]), S2Len: le(data[8:]), Remainder: le(data[12:])}
		rest := data[16:]
		if err := h.Validate(fuzzDigestLen, fuzzMaxCount); err != nil {
			return
		}
		// What Validate guarantees, and what readSignature relies on.
		if h.Count < 0 || h.Count > fuzzMaxCount || h.S2Len < 0 || h.S2Len > fuzzDigestLen || h.BlockLen < 0 || h.BlockLen > MaxBlockSize {
			t.Fatalf("Validate accepted %+v", h)
		}
		if h.Count > 0 {
			if l := h.BlockLenAt(h.Count - 1); l <= 0 || l > h.BlockLen {
				t.Fatalf("%+v: last block length %d", h, l)
			}
		}
		if fl := h.FileLen(); fl < 0 || fl > int64(h.Count)*int64(h.BlockLen) {
			t.Fatalf("%+v: FileLen %d", h, fl)
		}
		need := int(h.Count) * (4 + int(h.S2Len))
		if need > fuzzMaxCount*(4+MaxSumLength) {
			t.Fatalf("%+v announces %d bytes of sums", h, need)
		}
		if len(rest) < need {
			return
		}
		sig := &Signature{Head: h, Sum1: make([]uint32, h.Count), Sum2: make([]byte, 0, int(h.Count)*int(h.S2Len))}
		for i := range sig.Sum1 {
			sig.Sum1[i] = binary.LittleEndian.Uint32(rest)
			sig.Sum2 = append(sig.Sum2, rest[4:4+h.S2Len]...)
			rest = rest[4+h.S2Len:]
		}
		target := rest
		var tok, whole bytes.Buffer
		tw := &TokenWriter{W: &tok}
		st, err := Match(sig, md5Strong, bytes.NewReader(target), &whole, tw)
		if err != nil {
			t.Fatalf("Match: %v", err)
		}
		if err := tw.End(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(whole.Bytes(), target) {
			t.Fatalf("whole-file writer saw %d bytes of %d", whole.Len(), len(target))
		}
		if st.Literal+st.Matched != int64(len(target)) {
			t.Fatalf("stats %+v for a %d-byte file", st, len(target))
		}
		if ts := decodeTokens(t, tok.Bytes(), h); ts.MatchStats != st {
			t.Fatalf("tokens hold %+v, Match reported %+v", ts.MatchStats, st)
		}
	})
}

// applyBases are the basis sizes FuzzApplyTokens chooses from.
var applyBases = []int{0, 1, 699, 700, 2500, 5000}

func applyBasis(sel byte) ([]byte, SumHead) {
	n := applyBases[int(sel)%len(applyBases)]
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + 7)
	}
	return b, NewSumHead(int64(n), fuzzDigestLen, false)
}

func applyTokenSeeds() []fuzzseed.Seed {
	tokens := func(f func(tw *TokenWriter) error) []byte {
		var b bytes.Buffer
		tw := &TokenWriter{W: &b}
		if err := errors.Join(f(tw), tw.End()); err != nil {
			panic(err) // a seed the writer refuses is a bug in the seed
		}
		return b.Bytes()
	}
	sel := func(n int) byte {
		for i, v := range applyBases {
			if v == n {
				return byte(i)
			}
		}
		panic(n)
	}
	return []fuzzseed.Seed{
		{Name: "all-blocks-2500", Args: []any{tokens(func(tw *TokenWriter) error {
			var err error
			for i := range int32(4) {
				err = errors.Join(err, tw.Match(i, nil))
			}
			return err
		}), sel(2500)}},
		{Name: "literals-and-short-last-block", Args: []any{tokens(func(tw *TokenWriter) error {
			return errors.Join(
				tw.Literal([]byte("new data\x80\xff")),
				tw.Match(3, nil),
				tw.Literal(bytes.Repeat([]byte{'z'}, 300)),
				tw.Match(0, nil),
				tw.Match(0, nil),
			)
		}), sel(2500)}},
		{Name: "literal-only-no-basis", Args: []any{tokens(func(tw *TokenWriter) error { return tw.Literal([]byte("abc")) }), sel(0)}},
		{Name: "one-byte-basis", Args: []any{tokens(func(tw *TokenWriter) error { return tw.Match(0, nil) }), sel(1)}},
		{Name: "block-out-of-range", Args: []any{tokens(func(tw *TokenWriter) error { return tw.Match(7, nil) }), sel(5000)}},
	}
}

// checkedBasis is an io.ReaderAt that fails the test when Apply asks for
// anything but a whole block of the basis.
type checkedBasis struct {
	t    *testing.T
	b    []byte
	head SumHead
}

func (c *checkedBasis) ReadAt(p []byte, off int64) (int, error) {
	if c.head.BlockLen == 0 || off < 0 || off%int64(c.head.BlockLen) != 0 || off+int64(len(p)) > int64(len(c.b)) {
		c.t.Fatalf("Apply read %d bytes at %d of a %d-byte basis (%+v)", len(p), off, len(c.b), c.head)
	}
	if i := int32(off / int64(c.head.BlockLen)); i >= c.head.Count || int32(len(p)) != c.head.BlockLenAt(i) {
		c.t.Fatalf("Apply read %d bytes of block %d (%+v)", len(p), i, c.head)
	}
	return copy(p, c.b[off:]), nil
}

// refApply applies a token stream independently of Apply; ok is false for
// any stream Apply must refuse.
func refApply(tok, basis []byte, head SumHead) (out []byte, st MatchStats, ok bool) {
	for {
		if len(tok) < 4 {
			return nil, st, false
		}
		n := int32(binary.LittleEndian.Uint32(tok))
		tok = tok[4:]
		switch {
		case n == 0:
			return out, st, true
		case n > 0:
			if n > 4*MaxLiteralRun || int(n) > len(tok) {
				return nil, st, false
			}
			out = append(out, tok[:n]...)
			tok = tok[n:]
			st.Literal += int64(n)
		default:
			i := -(int64(n) + 1)
			if i >= int64(head.Count) {
				return nil, st, false
			}
			l := int64(head.BlockLenAt(int32(i)))
			out = append(out, basis[i*int64(head.BlockLen):i*int64(head.BlockLen)+l]...)
			st.Matched += l
			st.Blocks++
		}
	}
}

// FuzzApplyTokens: any token stream against a small basis: no panic, no
// read outside the basis's blocks, output bounded by the input, and
// exactly the reference result for every stream that is valid.
func FuzzApplyTokens(f *testing.F) {
	for _, s := range applyTokenSeeds() {
		f.Add(s.Args[0].([]byte), s.Args[1].(byte))
	}
	f.Add([]byte{}, byte(0))
	f.Add([]byte{0, 0, 0, 0x80, 0, 0, 0, 0}, byte(4))       // MinInt32
	f.Add([]byte{1, 0, 2, 0, 'x'}, byte(3))                 // 128 KiB literal announced
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0}, byte(2)) // no end token
	f.Fuzz(func(t *testing.T, tok []byte, sel byte) {
		basis, head := applyBasis(sel)
		var out bytes.Buffer
		st, err := Apply(bytes.NewReader(tok), &checkedBasis{t, basis, head}, head, &out)
		if limit := len(tok) + len(tok)/4*int(head.BlockLen); out.Len() > limit {
			t.Fatalf("%d bytes out of %d bytes of tokens (limit %d)", out.Len(), len(tok), limit)
		}
		want, wantSt, ok := refApply(tok, basis, head)
		if ok != (err == nil) {
			t.Fatalf("Apply err = %v, but the reference says valid=%v", err, ok)
		}
		if !ok {
			return
		}
		if !bytes.Equal(out.Bytes(), want) || st != wantSt {
			t.Fatalf("Apply wrote %d bytes %+v, reference %d bytes %+v", out.Len(), st, len(want), wantSt)
		}
	})
}

func TestFuzzSeedCorpus(t *testing.T) {
	for target, seeds := range map[string][]fuzzseed.Seed{
		"FuzzSumHead":     sumHeadSeeds(),
		"FuzzApplyTokens": applyTokenSeeds(),
	} {
		t.Run(target, func(t *testing.T) { fuzzseed.Check(t, target, seeds, true) })
	}
}
