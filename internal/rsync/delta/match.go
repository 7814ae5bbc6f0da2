package delta

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Sink receives the token stream the matcher produces.
type Sink interface {
	// Literal is a run of new data, at most MaxLiteralRun bytes. The slice
	// is only valid during the call.
	Literal(p []byte) error
	// Match says: copy basis block i, whose bytes are data (compressed
	// token streams add them to the compressor's history).
	Match(i int32, data []byte) error
}

// StrongFunc computes the (seeded) strong sum of a block, appending it to dst.
type StrongFunc func(dst, block []byte) []byte

// MatchStats counts what the matcher emitted.
type MatchStats struct {
	Literal int64 // bytes sent as literal data
	Matched int64 // bytes covered by block matches
	Blocks  int64 // number of block matches
}

// blockIndex is a chained hash table over the weak sums of a signature:
// head[h] is the first block with that bucket, next[i] the following one.
type blockIndex struct {
	head  []int32
	next  []int32
	shift uint
}

func newBlockIndex(sig *Signature) *blockIndex {
	n := len(sig.Sum1)
	bitsN := uint(4)
	for (1 << bitsN) < 2*n {
		bitsN++
	}
	idx := &blockIndex{head: make([]int32, 1<<bitsN), next: make([]int32, n), shift: 32 - bitsN}
	for i := range idx.head {
		idx.head[i] = -1
	}
	// Insert in reverse so chains list lower block numbers first.
	for i := n - 1; i >= 0; i-- {
		b := idx.bucket(sig.Sum1[i])
		idx.next[i] = idx.head[b]
		idx.head[b] = int32(i)
	}
	return idx
}

func (x *blockIndex) bucket(sum uint32) uint32 { return (sum * 0x9E3779B1) >> x.shift }

// Match reads the new version of a file from src and emits the tokens that
// rebuild it from the basis described by sig (match.c:match_sums,
// hash_search). Every byte read from src is also written to whole (the
// whole-file checksum), if whole is not nil. A signature with no blocks
// sends everything as literals.
func Match(sig *Signature, strong StrongFunc, src io.Reader, whole io.Writer, sink Sink) (MatchStats, error) {
	var m Matcher
	return m.Match(sig, strong, src, whole, sink)
}

// Matcher matches many files in turn, reusing its buffers: a sender of
// 100,000 small files would otherwise allocate gigabytes of them.
type Matcher struct {
	literal []byte // literal-only transfers
	window  []byte // the match window
}

// Match is the package-level Match with the matcher's buffers.
func (m *Matcher) Match(sig *Signature, strong StrongFunc, src io.Reader, whole io.Writer, sink Sink) (MatchStats, error) {
	var st MatchStats
	if sig == nil || sig.Head.Count == 0 || sig.Head.BlockLen == 0 {
		if m.literal == nil {
			m.literal = make([]byte, MaxLiteralRun)
		}
		return literalOnly(src, whole, sink, m.literal)
	}
	if int64(len(sig.Sum1)) != int64(sig.Head.Count) || int64(len(sig.Sum2)) != int64(sig.Head.Count)*int64(sig.Head.S2Len) {
		return st, errors.New("signature arrays do not match its head")
	}
	blen := int(sig.Head.BlockLen)
	idx := newBlockIndex(sig)
	s2len := int(sig.Head.S2Len)
	lastBlockLen := int(sig.Head.BlockLenAt(sig.Head.Count - 1))

	if need := max(4*blen, 256<<10) + MaxLiteralRun; cap(m.window) < need {
		m.window = make([]byte, 0, need)
	}
	w := window{src: src, whole: whole, data: m.window[:0]}
	var roll Rolling
	var strongBuf []byte
	wantNext := int32(0) // the block after the last match: preferred (match.c want_i)

	flushLiteral := func(upTo int) error {
		for w.lit < upTo {
			n := min(upTo-w.lit, MaxLiteralRun)
			if err := sink.Literal(w.data[w.lit : w.lit+n]); err != nil {
				return err
			}
			st.Literal += int64(n)
			w.lit += n
		}
		return nil
	}

	if err := w.ensure(blen); err != nil {
		return st, err
	}
	k := min(blen, w.avail())
	if k > 0 {
		roll.Init(w.data[w.p : w.p+k])
	}
	for k > 0 {
		matched := int32(-1)
		if k == blen || k == lastBlockLen {
			sum := roll.Sum()
			strongBuf = strongBuf[:0]
			for i := idx.head[idx.bucket(sum)]; i >= 0; i = idx.next[i] {
				if sig.Sum1[i] != sum || int(sig.Head.BlockLenAt(i)) != k {
					continue
				}
				if len(strongBuf) == 0 {
					strongBuf = strong(strongBuf, w.data[w.p:w.p+k])
				}
				if !bytes.Equal(strongBuf[:s2len], sig.Strong(i)) {
					continue
				}
				if matched < 0 || i == wantNext {
					matched = i
				}
				if i == wantNext {
					break
				}
			}
		}
		if matched >= 0 {
			if err := flushLiteral(w.p); err != nil {
				return st, err
			}
			if err := sink.Match(matched, w.data[w.p:w.p+k]); err != nil {
				return st, err
			}
			st.Matched += int64(k)
			st.Blocks++
			wantNext = matched + 1
			w.p += k
			w.lit = w.p
			if err := w.ensure(blen); err != nil {
				return st, err
			}
			k = min(blen, w.avail())
			if k > 0 {
				roll.Init(w.data[w.p : w.p+k])
			}
			continue
		}
		// No match here: the byte at p becomes literal data.
		if w.p-w.lit >= MaxLiteralRun {
			if err := flushLiteral(w.lit + MaxLiteralRun); err != nil {
				return st, err
			}
		}
		if err := w.ensure(k + 1); err != nil {
			return st, err
		}
		if w.avail() > k {
			roll.Roll(w.data[w.p], w.data[w.p+k])
		} else {
			roll.Shrink(w.data[w.p])
			k--
		}
		w.p++
	}
	if err := flushLiteral(w.end()); err != nil {
		return st, err
	}
	return st, nil
}

// window is the matcher's view of the new file: data[lit:] is retained
// (unsent literal bytes plus the look-ahead), p is the window start.
type window struct {
	src   io.Reader
	whole io.Writer
	data  []byte
	lit   int
	p     int
	eof   bool
}

func (w *window) avail() int { return len(w.data) - w.p }
func (w *window) end() int   { return len(w.data) }

// ensure makes n bytes from p available, or as many as remain in the file.
func (w *window) ensure(n int) error {
	for !w.eof && w.avail() < n {
		if len(w.data) == cap(w.data) {
			// Slide retained bytes to the front.
			keep := copy(w.data, w.data[w.lit:])
			w.p -= w.lit
			w.lit = 0
			w.data = w.data[:keep]
			if len(w.data) == cap(w.data) {
				return fmt.Errorf("match window overflow (%d bytes retained)", keep)
			}
		}
		m, err := w.src.Read(w.data[len(w.data):cap(w.data)])
		if m > 0 {
			if w.whole != nil {
				_, _ = w.whole.Write(w.data[len(w.data) : len(w.data)+m])
			}
			w.data = w.data[:len(w.data)+m]
		}
		if err == io.EOF {
			w.eof = true
		} else if err != nil {
			return err
		}
	}
	return nil
}

func literalOnly(src io.Reader, whole io.Writer, sink Sink, buf []byte) (MatchStats, error) {
	var st MatchStats
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			if whole != nil {
				_, _ = whole.Write(buf[:n])
			}
			if serr := sink.Literal(buf[:n]); serr != nil {
				return st, serr
			}
			st.Literal += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return st, nil
		}
		if err != nil {
			return st, err
		}
	}
}

// MakeSignature computes the signature of a basis (what a generator sends:
// generator.c:generate_and_send_sums).
func MakeSignature(basis io.Reader, head SumHead, strong StrongFunc) (*Signature, error) {
	sig := &Signature{Head: head, Sum1: make([]uint32, 0, head.Count), Sum2: make([]byte, 0, int(head.Count)*int(head.S2Len))}
	buf := make([]byte, head.BlockLen)
	var sb []byte
	for i := int32(0); i < head.Count; i++ {
		b := buf[:head.BlockLenAt(i)]
		if _, err := io.ReadFull(basis, b); err != nil {
			return nil, fmt.Errorf("read basis block %d: %w", i, err)
		}
		sig.Sum1 = append(sig.Sum1, Sum1(b))
		sb = strong(sb[:0], b)
		sig.Sum2 = append(sig.Sum2, sb[:head.S2Len]...)
	}
	return sig, nil
}
