// Package wire holds the rsync wire encodings: little-endian integers,
// varint/varlong, vstrings, file indexes (ndx) and the multiplexed framing.
// It mirrors the read_* / write_* functions of rsync's io.c. Decoders treat
// their input as hostile: every length is bounded before anything is
// allocated.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrMalformed is wrapped by every error caused by bytes that do not form a
// valid encoding (as opposed to I/O errors).
var ErrMalformed = errors.New("malformed rsync protocol data")

// Reader decodes rsync's primitive encodings from a byte stream. It keeps
// the first error it meets (sticky): after a failure every later call
// returns a zero value, and Err reports the failure. This keeps decoders of
// multi-field records readable without dropping errors: check Err once per
// record, before using the values.
type Reader struct {
	r   io.Reader
	err error
	buf [9]byte
	n   int64 // bytes consumed
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Count returns the number of bytes consumed so far.
func (r *Reader) Count() int64 { return r.n }

// Fail records err as the reader's error (if it has none yet) so that a
// caller's validation failure stops further decoding the same way an I/O
// error does.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Failf records a malformed-input error.
func (r *Reader) Failf(format string, args ...any) {
	r.Fail(fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...)))
}

// Read implements io.Reader over the same stream (for bulk data such as
// token streams), keeping the byte count and the sticky error.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// Full reads exactly len(p) bytes into p.
func (r *Reader) Full(p []byte) {
	if r.err != nil {
		clear(p)
		return
	}
	n, err := io.ReadFull(r.r, p)
	r.n += int64(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.err = err
		clear(p)
	}
}

// Byte reads one byte (io.c:read_byte).
func (r *Reader) Byte() byte {
	r.Full(r.buf[:1])
	return r.buf[0]
}

// Int32 reads a little-endian int32 (io.c:read_int).
func (r *Reader) Int32() int32 {
	r.Full(r.buf[:4])
	return int32(binary.LittleEndian.Uint32(r.buf[:4]))
}

// Shortint reads a little-endian uint16 (io.c:read_shortint).
func (r *Reader) Shortint() uint16 {
	r.Full(r.buf[:2])
	return binary.LittleEndian.Uint16(r.buf[:2])
}

// extraBytes[lead>>2] is the number of bytes that follow a varint lead
// byte: its count of leading one bits (io.c:int_byte_extra).
func extraBytes(lead byte) int {
	n := 0
	for mask := byte(0x80); mask != 0 && lead&mask != 0; mask >>= 1 {
		n++
	}
	return n
}

// Varint reads rsync's variable-length int32 (io.c:read_varint).
func (r *Reader) Varint() int32 {
	lead := r.Byte()
	if r.err != nil {
		return 0
	}
	extra := extraBytes(lead)
	if extra > 4 {
		r.Failf("varint lead byte %#02x has %d extra bytes", lead, extra)
		return 0
	}
	var b [5]byte
	if extra > 0 {
		r.Full(b[:extra])
		if r.err != nil {
			return 0
		}
		if extra < 4 {
			b[extra] = lead & (0xff >> (extra + 1)) // high bits of the value
		} // with 4 extra bytes the lead's value bits must be ignored
	} else {
		b[0] = lead
	}
	return int32(binary.LittleEndian.Uint32(b[:4]))
}

// Varlong reads rsync's variable-length int64 whose first minBytes-1 low
// bytes are always present (io.c:read_varlong).
func (r *Reader) Varlong(minBytes int) int64 {
	if minBytes < 1 || minBytes > 8 {
		r.Fail(fmt.Errorf("varlong: bad minimum %d", minBytes))
		return 0
	}
	var b [9]byte
	lead := r.Byte()
	r.Full(b[:minBytes-1])
	if r.err != nil {
		return 0
	}
	extra := extraBytes(lead)
	if minBytes-1+extra > 8 {
		r.Failf("varlong lead byte %#02x has %d extra bytes", lead, extra)
		return 0
	}
	if extra > 0 {
		r.Full(b[minBytes-1 : minBytes-1+extra])
		if r.err != nil {
			return 0
		}
	}
	if n := minBytes - 1 + extra; n < 8 {
		b[n] = lead & (0xff >> (extra + 1))
	}
	return int64(binary.LittleEndian.Uint64(b[:8]))
}

// Vstring reads a vstring of at most maxLen bytes (io.c:read_vstring).
func (r *Reader) Vstring(maxLen int) string {
	n := int(r.Byte())
	if n&0x80 != 0 {
		n = (n&0x7f)<<8 | int(r.Byte())
	}
	if r.err != nil {
		return ""
	}
	if n > maxLen {
		r.Failf("vstring of %d bytes exceeds the limit of %d", n, maxLen)
		return ""
	}
	p := make([]byte, n)
	r.Full(p)
	return string(p)
}

// Bytes reads exactly n bytes after checking n against maxLen.
func (r *Reader) Bytes(n, maxLen int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > maxLen {
		r.Failf("%s length %d outside 0..%d", what, n, maxLen)
		return nil
	}
	p := make([]byte, n)
	r.Full(p)
	return p
}

// Writer encodes rsync's primitives into an io.Writer, with a sticky error
// like Reader.
type Writer struct {
	w   io.Writer
	err error
	buf [16]byte
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Err returns the first error met, or nil.
func (w *Writer) Err() error { return w.err }

// Write implements io.Writer (raw bytes).
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.w.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Raw writes p.
func (w *Writer) Raw(p []byte) { _, _ = w.Write(p) }

// Byte writes one byte.
func (w *Writer) Byte(b byte) { w.buf[0] = b; w.Raw(w.buf[:1]) }

// Int32 writes a little-endian int32.
func (w *Writer) Int32(v int32) {
	binary.LittleEndian.PutUint32(w.buf[:4], uint32(v))
	w.Raw(w.buf[:4])
}

// Shortint writes a little-endian uint16.
func (w *Writer) Shortint(v uint16) {
	binary.LittleEndian.PutUint16(w.buf[:2], v)
	w.Raw(w.buf[:2])
}

// Varint writes v as rsync's varint (io.c:write_varint).
func (w *Writer) Varint(v int32) { w.Raw(AppendVarint(w.buf[:0], v)) }

// Varlong writes v as rsync's varlong with minBytes (io.c:write_varlong).
func (w *Writer) Varlong(v int64, minBytes int) { w.Raw(AppendVarlong(w.buf[:0], v, minBytes)) }

// Vstring writes s as a vstring (io.c:write_vstring); s must be < 32 KiB.
func (w *Writer) Vstring(s string) {
	if len(s) > 0x7fff {
		w.err = fmt.Errorf("vstring too long (%d bytes)", len(s))
		return
	}
	if len(s) > 0x7f {
		w.Byte(byte(len(s)>>8) | 0x80)
	}
	w.Byte(byte(len(s)))
	w.Raw([]byte(s))
}

// AppendVarint appends the varint encoding of v to dst.
func AppendVarint(dst []byte, v int32) []byte {
	var b [5]byte
	binary.LittleEndian.PutUint32(b[1:], uint32(v))
	cnt := 4
	for cnt > 1 && b[cnt] == 0 {
		cnt--
	}
	bit := byte(1) << (7 - cnt + 1)
	if b[cnt] >= bit {
		cnt++
		b[0] = ^(bit - 1)
	} else if cnt > 1 {
		b[0] = b[cnt] | ^(bit*2 - 1)
	} else {
		b[0] = b[cnt]
	}
	return append(dst, b[:cnt]...)
}

// AppendVarlong appends the varlong encoding of v (at least minBytes bytes).
func AppendVarlong(dst []byte, v int64, minBytes int) []byte {
	var b [9]byte
	binary.LittleEndian.PutUint64(b[1:], uint64(v))
	cnt := 8
	for cnt > minBytes && b[cnt] == 0 {
		cnt--
	}
	bit := byte(1) << (7 - cnt + minBytes)
	if b[cnt] >= bit {
		cnt++
		b[0] = ^(bit - 1)
	} else if cnt > minBytes {
		b[0] = b[cnt] | ^(bit*2 - 1)
	} else {
		b[0] = b[cnt]
	}
	return append(dst, b[:cnt]...)
}

// Longint reads a protocol < 30 64-bit value (io.c:read_longint): an
// int32, or 0xffffffff followed by the int64.
func (r *Reader) Longint() int64 {
	v := r.Int32()
	if v != -1 || r.err != nil {
		return int64(v)
	}
	r.Full(r.buf[:8])
	return int64(binary.LittleEndian.Uint64(r.buf[:8]))
}

// Longint writes v as io.c:write_longint does: 4 bytes when it fits in
// 0..2^31-1, else 0xffffffff and 8 bytes.
func (w *Writer) Longint(v int64) {
	if v >= 0 && v <= 0x7fffffff {
		w.Int32(int32(v))
		return
	}
	w.Int32(-1)
	binary.LittleEndian.PutUint64(w.buf[:8], uint64(v))
	w.Raw(w.buf[:8])
}

// Varint30 reads a varint at protocol ≥ 30 and an int32 before
// (io.h:read_varint30).
func (r *Reader) Varint30(protocol int) int32 {
	if protocol < 30 {
		return r.Int32()
	}
	return r.Varint()
}

// Varint30 writes a varint at protocol ≥ 30 and an int32 before.
func (w *Writer) Varint30(v int32, protocol int) {
	if protocol < 30 {
		w.Int32(v)
		return
	}
	w.Varint(v)
}

// Varlong30 reads a varlong at protocol ≥ 30 and a longint before
// (io.h:read_varlong30).
func (r *Reader) Varlong30(minBytes, protocol int) int64 {
	if protocol < 30 {
		return r.Longint()
	}
	return r.Varlong(minBytes)
}

// Varlong30 writes a varlong at protocol ≥ 30 and a longint before.
func (w *Writer) Varlong30(v int64, minBytes, protocol int) {
	if protocol < 30 {
		w.Longint(v)
		return
	}
	w.Varlong(v, minBytes)
}
