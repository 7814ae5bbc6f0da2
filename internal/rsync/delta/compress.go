package delta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// Compression is a negotiated token-stream compression (compat.c CPRES_*).
type Compression int

// The compressions we speak, in rsync's canonical preference order.
const (
	CompressNone Compression = iota
	CompressZstd
	CompressZlibx
	CompressZlib
)

// OfferedCompressions is our -z negotiation list (compat.c
// valid_compressions order, without lz4).
var OfferedCompressions = []Compression{CompressZstd, CompressZlibx, CompressZlib}

// Name returns rsync's name for c.
func (c Compression) Name() string {
	switch c {
	case CompressZstd:
		return "zstd"
	case CompressZlibx:
		return "zlibx"
	case CompressZlib:
		return "zlib"
	}
	return "none"
}

// CompressionByName maps a name to a Compression.
func CompressionByName(name string) (Compression, bool) {
	for _, c := range []Compression{CompressNone, CompressZstd, CompressZlibx, CompressZlib} {
		if strings.EqualFold(c.Name(), name) {
			return c, true
		}
	}
	return 0, false
}

// Flag bytes of the compressed token stream (token.c).
const (
	flagEnd          = 0x00
	flagTokenLong    = 0x20 // int32 token follows
	flagTokenRunLong = 0x21 // int32 token, then 16-bit run count
	flagDeflatedData = 0x40 // + 6 high bits of the length, then the low byte
	flagTokenRel     = 0x80 // + 6-bit distance from the end of the last run
	flagTokenRunRel  = 0xc0 // ditto, then 16-bit run count
	maxDataCount     = 16383
)

// CompressedTokenWriter encodes the compressed token stream a sender
// writes with -z (token.c:send_deflated_token, send_zstd_token): block
// matches are coded as runs relative to the previous run, literal data as
// compressed chunks of at most 16383 bytes, flushed before each token so
// the receiver can rebuild the file up to it. One writer serves a whole
// session: zstd keeps one stream across files; deflate restarts per file.
type CompressedTokenWriter struct {
	w    io.Writer
	algo Compression

	zenc *zstd.Encoder
	fl   *flate.Writer
	out  bytes.Buffer // compressor output not yet framed

	haveRun     bool
	runStart    int32
	lastToken   int32
	lastRunEnd  int32
	dataPending bool
	hdr         [7]byte
}

// NewCompressedTokenWriter returns a writer for algo at level (0 = the
// algorithm's default).
func NewCompressedTokenWriter(w io.Writer, algo Compression, level int) (*CompressedTokenWriter, error) {
	c := &CompressedTokenWriter{w: w, algo: algo}
	switch algo {
	case CompressZstd:
		zl := zstd.SpeedDefault
		if level > 0 {
			zl = zstd.EncoderLevelFromZstd(level)
		}
		enc, err := zstd.NewWriter(&c.out, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zl))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		c.zenc = enc
	case CompressZlib, CompressZlibx:
		if level == 0 {
			level = 6 // zlib's Z_DEFAULT_COMPRESSION
		}
		fl, err := flate.NewWriter(&c.out, level)
		if err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
		c.fl = fl
	default:
		return nil, fmt.Errorf("compression %s has no token writer", algo.Name())
	}
	return c, nil
}

// StartFile resets the per-file state (the token runs, and for deflate
// the stream itself: deflateReset at each file's first token).
func (c *CompressedTokenWriter) StartFile() {
	c.haveRun, c.lastRunEnd, c.dataPending = false, 0, false
	if c.fl != nil {
		c.out.Reset()
		c.fl.Reset(&c.out)
	}
}

// Literal compresses p without flushing.
func (c *CompressedTokenWriter) Literal(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if c.haveRun {
		if err := c.emitRun(); err != nil {
			return err
		}
	}
	var err error
	if c.zenc != nil {
		_, err = c.zenc.Write(p)
	} else {
		_, err = c.fl.Write(p)
	}
	if err != nil {
		return err
	}
	c.dataPending = true
	return c.emitChunks(false)
}

// Match records a match of block i whose bytes are data.
func (c *CompressedTokenWriter) Match(i int32, data []byte) error {
	if c.dataPending {
		if err := c.flushData(); err != nil {
			return err
		}
	}
	if c.haveRun && (i != c.lastToken+1 || i >= c.runStart+65536) {
		if err := c.emitRun(); err != nil {
			return err
		}
	}
	if !c.haveRun {
		c.haveRun, c.runStart = true, i
	}
	c.lastToken = i
	if c.algo == CompressZlib {
		return c.insertHistory(data)
	}
	return nil
}

// End finishes the file's token stream.
func (c *CompressedTokenWriter) End() error {
	if c.haveRun {
		if err := c.emitRun(); err != nil {
			return err
		}
	}
	if c.dataPending {
		if err := c.flushData(); err != nil {
			return err
		}
	}
	c.hdr[0] = flagEnd
	_, err := c.w.Write(c.hdr[:1])
	return err
}

func (c *CompressedTokenWriter) emitRun() error {
	r := c.runStart - c.lastRunEnd
	n := c.lastToken - c.runStart
	b := c.hdr[:0]
	if r >= 0 && r <= 63 {
		if n == 0 {
			b = append(b, flagTokenRel+byte(r))
		} else {
			b = append(b, flagTokenRunRel+byte(r))
		}
	} else {
		if n == 0 {
			b = append(b, flagTokenLong)
		} else {
			b = append(b, flagTokenRunLong)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(c.runStart))
	}
	if n != 0 {
		b = append(b, byte(n), byte(n>>8))
	}
	c.lastRunEnd = c.lastToken
	c.haveRun = false
	_, err := c.w.Write(b)
	return err
}

// flushData makes everything written so far decodable by the receiver:
// ZSTD_e_flush, or Z_SYNC_FLUSH with its 00 00 ff ff trailer removed (the
// receiver puts it back: token.c:recv_deflated_token).
func (c *CompressedTokenWriter) flushData() error {
	c.dataPending = false
	if c.zenc != nil {
		if err := c.zenc.Flush(); err != nil {
			return err
		}
		return c.emitChunks(true)
	}
	if err := c.fl.Flush(); err != nil {
		return err
	}
	b := c.out.Bytes()
	if len(b) < 4 || !bytes.Equal(b[len(b)-4:], []byte{0, 0, 0xff, 0xff}) {
		return fmt.Errorf("deflate sync flush did not end in a sync marker")
	}
	c.out.Truncate(len(b) - 4)
	return c.emitChunks(true)
}

// emitChunks frames compressor output as DEFLATED_DATA chunks. Before a
// flush it keeps a tail back, so that a deflate sync marker is never split
// from the bytes flushData strips.
func (c *CompressedTokenWriter) emitChunks(all bool) error {
	for {
		n := c.out.Len()
		if !all {
			n -= 4
		}
		if n <= 0 || (!all && n < maxDataCount) {
			return nil
		}
		n = min(n, maxDataCount)
		c.hdr[0] = flagDeflatedData + byte(n>>8)
		c.hdr[1] = byte(n)
		if _, err := c.w.Write(c.hdr[:2]); err != nil {
			return err
		}
		if _, err := c.w.Write(c.out.Next(n)); err != nil {
			return err
		}
	}
}

// insertHistory adds matched data to the deflate history without sending
// it (zlib's Z_INSERT_ONLY in rsync's bundled zlib): the receiver inserts
// the same bytes as a stored block (token.c:see_deflate_token), so both
// windows hold them. Compressing and discarding up to a sync flush leaves
// the compressor byte-aligned with exactly that window.
func (c *CompressedTokenWriter) insertHistory(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if _, err := c.fl.Write(data); err != nil {
		return err
	}
	if err := c.fl.Flush(); err != nil {
		return err
	}
	c.out.Reset()
	return nil
}
