package wire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// MsgTag is a multiplexed message code (rsync.h enum msgcode).
type MsgTag uint8

// Message codes that can appear between a remote-shell client and server.
const (
	MsgData        MsgTag = 0
	MsgErrorXfer   MsgTag = 1
	MsgInfo        MsgTag = 2
	MsgError       MsgTag = 3
	MsgWarning     MsgTag = 4
	MsgErrorSocket MsgTag = 5
	MsgLog         MsgTag = 6
	MsgClient      MsgTag = 7
	MsgErrorUTF8   MsgTag = 8
	MsgRedo        MsgTag = 9
	MsgStats       MsgTag = 10
	MsgIOError     MsgTag = 22
	MsgIOTimeout   MsgTag = 33
	MsgNoop        MsgTag = 42
	MsgErrorExit   MsgTag = 86
	MsgSuccess     MsgTag = 100
	MsgDeleted     MsgTag = 101
	MsgNoSend      MsgTag = 102
)

func (t MsgTag) String() string {
	switch t {
	case MsgData:
		return "MSG_DATA"
	case MsgErrorXfer:
		return "MSG_ERROR_XFER"
	case MsgInfo:
		return "MSG_INFO"
	case MsgError:
		return "MSG_ERROR"
	case MsgWarning:
		return "MSG_WARNING"
	case MsgIOError:
		return "MSG_IO_ERROR"
	case MsgNoop:
		return "MSG_NOOP"
	case MsgErrorExit:
		return "MSG_ERROR_EXIT"
	case MsgSuccess:
		return "MSG_SUCCESS"
	case MsgDeleted:
		return "MSG_DELETED"
	case MsgNoSend:
		return "MSG_NO_SEND"
	}
	return fmt.Sprintf("MSG_%d", uint8(t))
}

const (
	mplexBase = 7
	// MaxFrame is the largest payload a frame header can describe.
	MaxFrame = 1<<24 - 1
	// MaxMsgPayload bounds a non-data message. rsync aborts past
	// BIGPATHBUFLEN (about 5 KB) in io.c:read_a_msg; we allow a little more
	// but never a 16 MiB allocation for a text message.
	MaxMsgPayload = 64 << 10
	// maxDataFrame is what we put in one outgoing MSG_DATA frame; stock
	// rsync's buffers keep frames at about this size.
	maxDataFrame = 32 << 10
)

// MsgHandler receives every non-data message. Returning an error stops the
// stream: Read returns it.
type MsgHandler func(tag MsgTag, payload []byte) error

// MuxReader de-multiplexes a stream of rsync frames (io.c:read_a_msg): it
// returns the bytes of MSG_DATA frames from Read and hands every other
// message to the handler. Before Enable is called it passes bytes through
// unframed (the handshake is not multiplexed).
type MuxReader struct {
	r         *bufio.Reader
	handler   MsgHandler
	enabled   bool
	remaining int // bytes left in the current MSG_DATA frame
	hdr       [4]byte
}

// NewMuxReader returns a MuxReader over r.
func NewMuxReader(r io.Reader, handler MsgHandler) *MuxReader {
	return &MuxReader{r: bufio.NewReaderSize(r, 64<<10), handler: handler}
}

// Buffered is how many bytes of the peer's stream are read and waiting:
// 0 means the next Read may block on the peer.
func (m *MuxReader) Buffered() int { return m.r.Buffered() }

// Enable switches to framed reading.
func (m *MuxReader) Enable() { m.enabled = true }

// Read implements io.Reader over the data stream.
func (m *MuxReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !m.enabled {
		return m.r.Read(p)
	}
	for m.remaining == 0 {
		if err := m.readFrameHeader(); err != nil {
			return 0, err
		}
	}
	if len(p) > m.remaining {
		p = p[:m.remaining]
	}
	n, err := m.r.Read(p)
	m.remaining -= n
	if err == io.EOF && m.remaining > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// readFrameHeader reads headers until a MSG_DATA frame with a non-empty
// payload begins, dispatching messages on the way.
func (m *MuxReader) readFrameHeader() error {
	if _, err := io.ReadFull(m.r, m.hdr[:]); err != nil {
		return err // io.EOF at a frame boundary is a clean end of stream
	}
	h := binary.LittleEndian.Uint32(m.hdr[:])
	tagByte := h >> 24
	length := int(h & 0xffffff)
	if tagByte < mplexBase {
		return fmt.Errorf("%w: frame header %#08x has no message tag", ErrMalformed, h)
	}
	tag := MsgTag(tagByte - mplexBase)
	if tag == MsgData {
		m.remaining = length // zero-length data frames are keepalives
		return nil
	}
	if length > MaxMsgPayload {
		return fmt.Errorf("%w: %s message of %d bytes exceeds %d", ErrMalformed, tag, length, MaxMsgPayload)
	}
	payload := make([]byte, length)
	if _, err := io.ReadFull(m.r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read %s payload: %w", tag, err)
	}
	if m.handler == nil {
		return nil
	}
	return m.handler(tag, payload)
}

// MuxWriter frames outgoing data as MSG_DATA once enabled (io.c:send_msg,
// mplex_write). Data is buffered until Flush or until a frame fills.
type MuxWriter struct {
	mu      sync.Mutex // a receiver's reader flushes while its generator writes
	w       io.Writer
	enabled bool
	buf     []byte // 4 header bytes + payload when enabled
	err     error
	written int64
}

// NewMuxWriter returns a MuxWriter over w.
func NewMuxWriter(w io.Writer) *MuxWriter {
	return &MuxWriter{w: w, buf: make([]byte, 4, 4+maxDataFrame)}
}

// Enable switches to framed writing; buffered raw bytes are flushed first.
func (m *MuxWriter) Enable() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.flush(); err != nil {
		return err
	}
	m.enabled = true
	return nil
}

// Written returns the number of bytes written to the underlying writer.
func (m *MuxWriter) Written() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.written
}

// Write buffers p as stream data.
func (m *MuxWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, m.err
	}
	total := len(p)
	for len(p) > 0 {
		space := cap(m.buf) - len(m.buf)
		if space == 0 {
			if err := m.flush(); err != nil {
				return total - len(p), err
			}
			continue
		}
		n := min(space, len(p))
		m.buf = append(m.buf, p[:n]...)
		p = p[n:]
	}
	return total, nil
}

// Flush sends buffered data (as one MSG_DATA frame when enabled).
func (m *MuxWriter) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.flush()
}

func (m *MuxWriter) flush() error {
	if m.err != nil {
		return m.err
	}
	payload := len(m.buf) - 4
	if payload == 0 {
		return nil
	}
	out := m.buf
	if m.enabled {
		binary.LittleEndian.PutUint32(out[:4], uint32(mplexBase+MsgData)<<24|uint32(payload))
	} else {
		out = out[4:]
	}
	n, err := m.w.Write(out)
	m.written += int64(n)
	m.buf = m.buf[:4]
	if err != nil {
		m.err = err
	}
	return err
}

// WriteMsg flushes pending data and sends one non-data message.
func (m *MuxWriter) WriteMsg(tag MsgTag, payload []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.enabled {
		return fmt.Errorf("cannot send %s before multiplexing starts", tag)
	}
	if err := m.flush(); err != nil {
		return err
	}
	frame := make([]byte, 4+len(payload))
	binary.LittleEndian.PutUint32(frame, (mplexBase+uint32(tag))<<24|uint32(len(payload)))
	copy(frame[4:], payload)
	n, err := m.w.Write(frame)
	m.written += int64(n)
	if err != nil {
		m.err = err
	}
	return err
}
