package delta

import (
	"encoding/binary"
	"fmt"
	"io"
)

// TokenWriter encodes the uncompressed token stream
// (token.c:simple_send_token): int32 n>0 then n literal bytes; int32 −(i+1)
// for block i; int32 0 at the end of the file.
type TokenWriter struct {
	W   io.Writer
	hdr [4]byte
}

// Literal writes one literal token.
func (t *TokenWriter) Literal(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if len(p) > MaxLiteralRun {
		return fmt.Errorf("literal run of %d bytes exceeds %d", len(p), MaxLiteralRun)
	}
	binary.LittleEndian.PutUint32(t.hdr[:], uint32(len(p)))
	if _, err := t.W.Write(t.hdr[:]); err != nil {
		return err
	}
	_, err := t.W.Write(p)
	return err
}

// Match writes a block-match token.
func (t *TokenWriter) Match(i int32, _ []byte) error {
	binary.LittleEndian.PutUint32(t.hdr[:], uint32(-(i + 1)))
	_, err := t.W.Write(t.hdr[:])
	return err
}

// End writes the end-of-file token.
func (t *TokenWriter) End() error {
	binary.LittleEndian.PutUint32(t.hdr[:], 0)
	_, err := t.W.Write(t.hdr[:])
	return err
}

// Apply rebuilds a file from a token stream and its basis
// (receiver.c:receive_data): literals are copied from tokens, matches from
// basis. Every token is validated against head before use. It returns the
// number of literal and matched bytes written to out.
func Apply(tokens io.Reader, basis io.ReaderAt, head SumHead, out io.Writer) (MatchStats, error) {
	var st MatchStats
	var hdr [4]byte
	buf := make([]byte, max(int(head.BlockLen), 4096))
	for {
		if _, err := io.ReadFull(tokens, hdr[:]); err != nil {
			return st, fmt.Errorf("read token: %w", err)
		}
		n := int32(binary.LittleEndian.Uint32(hdr[:]))
		switch {
		case n == 0:
			return st, nil
		case n > 0:
			if n > MaxLiteralRun*4 {
				// rsync 3.5 accepts runs above 32 KiB from old senders; bound
				// them anyway so a peer cannot make us allocate at will.
				return st, fmt.Errorf("literal token of %d bytes is too long", n)
			}
			for left := int(n); left > 0; {
				c := buf[:min(left, len(buf))]
				if _, err := io.ReadFull(tokens, c); err != nil {
					return st, fmt.Errorf("read literal data: %w", err)
				}
				if _, err := out.Write(c); err != nil {
					return st, err
				}
				left -= len(c)
			}
			st.Literal += int64(n)
		default:
			i := -(n + 1)
			if i < 0 || i >= head.Count {
				return st, fmt.Errorf("block match %d outside the %d blocks of the basis", i, head.Count)
			}
			l := head.BlockLenAt(i)
			b := buf[:l]
			if err := readBlock(basis, b, int64(i)*int64(head.BlockLen)); err != nil {
				return st, fmt.Errorf("read basis block %d: %w", i, err)
			}
			if _, err := out.Write(b); err != nil {
				return st, err
			}
			st.Matched += int64(l)
			st.Blocks++
		}
	}
}

// readBlock reads a whole basis block; a ReaderAt may report io.EOF with a
// complete read at the end of its input, which is success here.
func readBlock(basis io.ReaderAt, b []byte, off int64) error {
	n, err := basis.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
