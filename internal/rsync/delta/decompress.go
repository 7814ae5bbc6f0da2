package delta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// CompressedTokenReader decodes the compressed token stream a sender
// writes with -z (token.c:recv_deflated_token, recv_zstd_token) and
// rebuilds files from it. A zstd stream spans the whole session; a deflate
// stream restarts with every file.
//
// Go's decompressors pull their input, while rsync's pushes one chunk at a
// time and needs everything decodable so far before it applies the next
// block match. So the decompressor runs in its own goroutine on a feed
// that reports when it has run dry: after a sync-flushed chunk, "dry" means
// every byte of it has come out.
type CompressedTokenReader struct {
	algo Compression
	zstd *pump // session-wide
}

// NewCompressedTokenReader returns a reader for algo.
func NewCompressedTokenReader(algo Compression) *CompressedTokenReader {
	return &CompressedTokenReader{algo: algo}
}

// Close stops the session's decompressor.
func (c *CompressedTokenReader) Close() {
	if c.zstd != nil {
		c.zstd.close()
		c.zstd = nil
	}
}

// Apply reads one file's compressed tokens from r and writes the file to
// out, copying matched blocks from basis. Every token is checked against
// head.
func (c *CompressedTokenReader) Apply(r io.Reader, basis io.ReaderAt, head SumHead, out io.Writer) (MatchStats, error) {
	var st MatchStats
	var p *pump
	switch c.algo {
	case CompressZstd:
		if c.zstd == nil {
			c.zstd = newPump(func(in io.Reader) (io.Reader, error) {
				return zstd.NewReader(in, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(1<<27))
			})
		}
		p = c.zstd
	case CompressZlib, CompressZlibx:
		p = newPump(func(in io.Reader) (io.Reader, error) { return flate.NewReader(in), nil })
		defer p.close()
	default:
		return st, fmt.Errorf("compression %s has no token reader", c.algo.Name())
	}

	var hdr [4]byte
	readByte := func() (byte, error) {
		_, err := io.ReadFull(r, hdr[:1])
		return hdr[0], err
	}
	literal := func(b []byte) error {
		st.Literal += int64(len(b))
		_, err := out.Write(b)
		return err
	}
	block := make([]byte, max(int(head.BlockLen), 1))
	dataPending := false
	var token int32
	for {
		flag, err := readByte()
		if err != nil {
			return st, fmt.Errorf("read token flag: %w", err)
		}
		if flag&0xc0 == flagDeflatedData {
			lo, err := readByte()
			if err != nil {
				return st, fmt.Errorf("read data length: %w", err)
			}
			n := int(flag&0x3f)<<8 | int(lo)
			chunk := make([]byte, n)
			if _, err := io.ReadFull(r, chunk); err != nil {
				return st, fmt.Errorf("read compressed data: %w", err)
			}
			if err := p.feed(chunk, literal); err != nil {
				return st, err
			}
			dataPending = true
			continue
		}
		if dataPending {
			if c.algo != CompressZstd {
				// The sender stripped the sync marker; put it back.
				if err := p.feed([]byte{0, 0, 0xff, 0xff}, literal); err != nil {
					return st, err
				}
			}
			if err := p.drain(literal); err != nil {
				return st, err
			}
			dataPending = false
		}
		if flag == flagEnd {
			return st, nil
		}
		run := 0
		switch {
		case flag&flagTokenRel != 0:
			token += int32(flag & 0x3f)
			if flag&0x40 != 0 {
				run = -1
			}
		case flag == flagTokenLong || flag == flagTokenRunLong:
			if _, err := io.ReadFull(r, hdr[:4]); err != nil {
				return st, fmt.Errorf("read token: %w", err)
			}
			token = int32(binary.LittleEndian.Uint32(hdr[:4]))
			if flag == flagTokenRunLong {
				run = -1
			}
		default:
			return st, fmt.Errorf("invalid token flag %#02x", flag)
		}
		if run < 0 {
			if _, err := io.ReadFull(r, hdr[:2]); err != nil {
				return st, fmt.Errorf("read run length: %w", err)
			}
			run = int(binary.LittleEndian.Uint16(hdr[:2]))
		}
		for k := 0; k <= run; k++ {
			if k > 0 {
				token++
			}
			if token < 0 || token >= head.Count {
				return st, fmt.Errorf("block match %d outside the %d blocks of the basis", token, head.Count)
			}
			b := block[:head.BlockLenAt(token)]
			if err := readBlock(basis, b, int64(token)*int64(head.BlockLen)); err != nil {
				return st, fmt.Errorf("read basis block %d: %w", token, err)
			}
			if _, err := out.Write(b); err != nil {
				return st, err
			}
			st.Matched += int64(len(b))
			st.Blocks++
			if c.algo == CompressZlib {
				if err := p.insert(b); err != nil {
					return st, err
				}
			}
		}
	}
}

// pump runs a decompressor over a feed of chunks.
type pump struct {
	in      chan []byte
	starved chan struct{}
	out     chan []byte
	done    chan error
	closed  bool
}

func newPump(open func(io.Reader) (io.Reader, error)) *pump {
	p := &pump{in: make(chan []byte), starved: make(chan struct{}), out: make(chan []byte), done: make(chan error, 1)}
	go func() {
		fr := &feedReader{p: p}
		dec, err := open(fr)
		if err != nil {
			p.done <- err
			return
		}
		buf := make([]byte, 64<<10)
		for {
			n, err := dec.Read(buf)
			if n > 0 {
				p.out <- append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				p.done <- err
				return
			}
		}
	}()
	return p
}

var errDecoderStopped = errors.New("decompressor stopped")

// feed hands a chunk to the decompressor, passing on any output it makes
// meanwhile.
func (p *pump) feed(chunk []byte, sink func([]byte) error) error {
	for {
		select {
		case p.in <- chunk:
			return nil
		case b := <-p.out:
			if err := sink(b); err != nil {
				return err
			}
		case err := <-p.done:
			return decoderErr(err)
		}
	}
}

// drain collects output until the decompressor asks for more input.
func (p *pump) drain(sink func([]byte) error) error {
	for {
		select {
		case b := <-p.out:
			if err := sink(b); err != nil {
				return err
			}
		case <-p.starved:
			return nil
		case err := <-p.done:
			return decoderErr(err)
		}
	}
}

// insert puts data into the inflater's history as a stored block and
// discards what comes out (token.c:see_deflate_token).
func (p *pump) insert(data []byte) error {
	for len(data) > 0 {
		n := min(len(data), 0xffff)
		hdr := []byte{0, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)}
		got := 0
		discard := func(b []byte) error { got += len(b); return nil }
		// An empty stored block after it makes the inflater hand the data
		// out now instead of at the next block.
		chunk := append(append(hdr, data[:n]...), 0, 0, 0, 0xff, 0xff)
		if err := p.feed(chunk, discard); err != nil {
			return err
		}
		if err := p.drain(discard); err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("history insertion produced %d bytes, want %d", got, n)
		}
		data = data[n:]
	}
	return nil
}

func (p *pump) close() {
	if !p.closed {
		p.closed = true
		close(p.in)
		go func() { // let the goroutine finish whatever it is sending
			for {
				select {
				case <-p.out:
				case <-p.starved:
				case <-p.done: //nolint:errcheck // closing: the decoder's outcome no longer matters
					return
				}
			}
		}()
	}
}

func decoderErr(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		err = errDecoderStopped
	}
	return fmt.Errorf("decompress: %w", err)
}

// feedReader is the decompressor's input: chunks from the pump; when it
// runs dry it offers a "starved" signal while waiting for the next chunk.
type feedReader struct {
	p   *pump
	cur []byte
}

func (f *feedReader) Read(b []byte) (int, error) {
	for len(f.cur) == 0 {
		var c []byte
		var ok bool
		select {
		case c, ok = <-f.p.in:
		default:
			select {
			case f.p.starved <- struct{}{}:
				c, ok = <-f.p.in
			case c, ok = <-f.p.in:
			}
		}
		if !ok {
			return 0, io.EOF
		}
		f.cur = c
	}
	n := copy(b, f.cur)
	f.cur = f.cur[n:]
	return n, nil
}

func (f *feedReader) ReadByte() (byte, error) {
	var b [1]byte
	if _, err := f.Read(b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}
