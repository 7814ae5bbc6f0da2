package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// frame builds one multiplexed frame: header ((7+tag)<<24 | len) LE, then
// the payload.
func frame(tag MsgTag, payload []byte) []byte {
	return rawFrame(uint32(mplexBase)+uint32(tag), len(payload), payload)
}

// rawFrame builds a frame with an arbitrary tag byte and declared length.
func rawFrame(tagByte uint32, length int, payload []byte) []byte {
	out := binary.LittleEndian.AppendUint32(nil, tagByte<<24|uint32(length))
	return append(out, payload...)
}

func frames(fs ...[]byte) []byte { return bytes.Join(fs, nil) }

type event struct {
	tag     MsgTag
	payload string
}

// demuxAll reads r to the end through a MuxReader with reads of readSize
// bytes and returns the data, the messages in order and the final error
// (nil for a clean EOF).
func demuxAll(in []byte, readSize int) (string, []event, error) {
	var evs []event
	m := NewMuxReader(bytes.NewReader(in), func(tag MsgTag, p []byte) error {
		evs = append(evs, event{tag, string(p)})
		return nil
	})
	m.Enable()
	var data bytes.Buffer
	buf := make([]byte, readSize)
	for {
		n, err := m.Read(buf)
		data.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			return data.String(), evs, nil
		}
		if err != nil {
			return data.String(), evs, err
		}
	}
}

func TestMuxReader(t *testing.T) {
	tests := []struct {
		name     string
		in       []byte
		wantData string
		wantMsgs []event
		wantErr  error // nil: clean end of stream
	}{
		{
			name:     "data split across frames",
			in:       frames(frame(MsgData, []byte("hel")), frame(MsgData, []byte("lo, ")), frame(MsgData, []byte("rsync"))),
			wantData: "hello, rsync",
		},
		{
			name: "zero-length data frames are keepalives",
			in: frames(frame(MsgData, nil), frame(MsgData, []byte("a")), frame(MsgData, nil), frame(MsgData, nil),
				frame(MsgData, []byte("b")), frame(MsgData, nil)),
			wantData: "ab",
		},
		{
			name: "messages between data frames, in order",
			in: frames(frame(MsgData, []byte("ab")), frame(MsgInfo, []byte("info 1\n")), frame(MsgWarning, []byte("warn\n")),
				frame(MsgData, []byte("cd")), frame(MsgNoop, nil), frame(MsgInfo, []byte("info 2\n")), frame(MsgError, []byte("err\n"))),
			wantData: "abcd",
			wantMsgs: []event{{MsgInfo, "info 1\n"}, {MsgWarning, "warn\n"}, {MsgNoop, ""}, {MsgInfo, "info 2\n"}, {MsgError, "err\n"}},
		},
		{
			name:     "message of exactly MaxMsgPayload",
			in:       frames(frame(MsgDeleted, bytes.Repeat([]byte{'d'}, MaxMsgPayload)), frame(MsgData, []byte("x"))),
			wantData: "x",
			wantMsgs: []event{{MsgDeleted, strings.Repeat("d", MaxMsgPayload)}},
		},
		{
			name:     "large data frame",
			in:       frame(MsgData, bytes.Repeat([]byte("0123456789abcdef"), 10000)),
			wantData: strings.Repeat("0123456789abcdef", 10000),
		},
		{
			name:    "oversize message",
			in:      frames(frame(MsgData, []byte("ok")), rawFrame(uint32(mplexBase+MsgInfo), MaxMsgPayload+1, nil)),
			wantErr: ErrMalformed,
		},
		{
			name:    "oversize message of 16 MiB",
			in:      rawFrame(uint32(mplexBase+MsgError), MaxFrame, []byte("short")),
			wantErr: ErrMalformed,
		},
		{
			name:    "tag byte 0",
			in:      rawFrame(0, 2, []byte("ab")),
			wantErr: ErrMalformed,
		},
		{
			name:    "tag byte 6",
			in:      frames(frame(MsgData, []byte("ok")), rawFrame(6, 0, nil)),
			wantErr: ErrMalformed,
		},
		{
			name:    "EOF inside a header",
			in:      frames(frame(MsgData, []byte("ab")), []byte{1, 0}),
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "EOF inside data",
			in:      rawFrame(uint32(mplexBase), 10, []byte("abc")),
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:     "EOF inside a message",
			in:       frames(frame(MsgInfo, []byte("whole\n")), rawFrame(uint32(mplexBase+MsgInfo), 10, []byte("abc"))),
			wantMsgs: []event{{MsgInfo, "whole\n"}},
			wantErr:  io.ErrUnexpectedEOF,
		},
		{
			name: "empty stream",
			in:   nil,
		},
	}
	for _, tt := range tests {
		for _, readSize := range []int{1, 3, 4096, 100000} {
			t.Run(fmt.Sprintf("%s/read%d", tt.name, readSize), func(t *testing.T) {
				data, msgs, err := demuxAll(tt.in, readSize)
				if tt.wantErr == nil && err != nil {
					t.Fatalf("err = %v, want a clean EOF", err)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == nil && data != tt.wantData {
					t.Errorf("data = %.40q (%d bytes), want %.40q (%d bytes)", data, len(data), tt.wantData, len(tt.wantData))
				}
				if !equalEvents(msgs, tt.wantMsgs) {
					t.Errorf("messages = %v, want %v", shortEvents(msgs), shortEvents(tt.wantMsgs))
				}
			})
		}
	}
}

func equalEvents(a, b []event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func shortEvents(evs []event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s:%.20q", e.tag, e.payload))
	}
	return out
}

// TestMuxReaderDispatchOrder: a message that follows data is delivered only
// when the reader needs the next frame, so the handler sees the data and
// messages in stream order.
func TestMuxReaderDispatchOrder(t *testing.T) {
	in := frames(frame(MsgData, []byte("ab")), frame(MsgInfo, []byte("1")), frame(MsgData, []byte("c")), frame(MsgInfo, []byte("2")))
	var log []string
	m := NewMuxReader(bytes.NewReader(in), func(tag MsgTag, p []byte) error {
		log = append(log, "msg "+string(p))
		return nil
	})
	m.Enable()
	buf := make([]byte, 1)
	for {
		n, err := m.Read(buf)
		if n > 0 {
			log = append(log, "data "+string(buf[:n]))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"data a", "data b", "msg 1", "data c", "msg 2"}
	if fmt.Sprint(log) != fmt.Sprint(want) {
		t.Fatalf("order = %q, want %q", log, want)
	}
}

func TestMuxReaderHandlerErrorStops(t *testing.T) {
	boom := errors.New("server said no")
	in := frames(frame(MsgData, []byte("a")), frame(MsgErrorExit, []byte{1, 0, 0, 0}), frame(MsgData, []byte("b")))
	m := NewMuxReader(bytes.NewReader(in), func(tag MsgTag, p []byte) error {
		if tag == MsgErrorExit {
			return boom
		}
		return nil
	})
	m.Enable()
	got, err := io.ReadAll(m)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the handler's error", err)
	}
	if string(got) != "a" {
		t.Fatalf("data before the error = %q, want \"a\"", got)
	}
}

func TestMuxReaderNilHandlerIgnoresMessages(t *testing.T) {
	in := frames(frame(MsgInfo, []byte("x")), frame(MsgData, []byte("data")))
	m := NewMuxReader(bytes.NewReader(in), nil)
	m.Enable()
	got, err := io.ReadAll(m)
	if err != nil || string(got) != "data" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
}

// TestMuxReaderBeforeEnable: the handshake is read raw, and bytes the
// reader buffered ahead are framed input once Enable is called.
func TestMuxReaderBeforeEnable(t *testing.T) {
	in := append([]byte{0x20, 0, 0, 0}, frame(MsgData, []byte("framed"))...)
	m := NewMuxReader(iotest.OneByteReader(bytes.NewReader(in)), nil)
	r := NewReader(m)
	if v := r.Int32(); v != 0x20 || r.Err() != nil {
		t.Fatalf("raw Int32 = %d, %v", v, r.Err())
	}
	m.Enable()
	got, err := io.ReadAll(m)
	if err != nil || string(got) != "framed" {
		t.Fatalf("after Enable: %q, %v", got, err)
	}
}

// TestMuxReaderIntegerAcrossFrames decodes protocol values whose bytes
// straddle frame boundaries (NOTES.md §6: boundaries carry no meaning).
func TestMuxReaderIntegerAcrossFrames(t *testing.T) {
	var stream []byte
	stream = AppendVarint(stream, 123456789)
	stream = AppendVarlong(stream, 1577836800, 4)
	stream = binary.LittleEndian.AppendUint32(stream, 0xdeadbeef)
	for cut := 1; cut < len(stream); cut++ {
		for cut2 := cut; cut2 < len(stream); cut2++ {
			in := frames(frame(MsgData, stream[:cut]), frame(MsgInfo, []byte("m")), frame(MsgData, nil),
				frame(MsgData, stream[cut:cut2]), frame(MsgData, stream[cut2:]))
			m := NewMuxReader(bytes.NewReader(in), nil)
			m.Enable()
			r := NewReader(m)
			a, b, c := r.Varint(), r.Varlong(4), uint32(r.Int32())
			if r.Err() != nil || a != 123456789 || b != 1577836800 || c != 0xdeadbeef {
				t.Fatalf("cuts %d,%d: got %d %d %#x (err %v)", cut, cut2, a, b, c, r.Err())
			}
		}
	}
}

// parseFrames splits a multiplexed stream into frames, failing on a
// malformed one.
func parseFrames(t *testing.T, out []byte) []event {
	t.Helper()
	var evs []event
	for len(out) > 0 {
		if len(out) < 4 {
			t.Fatalf("%d trailing bytes are not a frame header", len(out))
		}
		h := binary.LittleEndian.Uint32(out)
		n := int(h & 0xffffff)
		if h>>24 < mplexBase {
			t.Fatalf("frame header %#08x has no tag", h)
		}
		if len(out) < 4+n {
			t.Fatalf("frame of %d bytes has only %d", n, len(out)-4)
		}
		evs = append(evs, event{MsgTag(h>>24 - mplexBase), string(out[4 : 4+n])})
		out = out[4+n:]
	}
	return evs
}

func TestMuxWriterFrames(t *testing.T) {
	for _, size := range []int{1, maxDataFrame - 1, maxDataFrame, maxDataFrame + 1, 100000, 3*maxDataFrame + 17} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var out bytes.Buffer
			m := NewMuxWriter(&out)
			if err := m.Enable(); err != nil {
				t.Fatal(err)
			}
			data := make([]byte, size)
			rng := rand.New(rand.NewPCG(uint64(size), 1))
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			// Write in uneven pieces.
			for rest := data; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(20000))
				if k, err := m.Write(rest[:n]); k != n || err != nil {
					t.Fatalf("Write = %d, %v", k, err)
				}
				rest = rest[n:]
			}
			if err := m.Flush(); err != nil {
				t.Fatal(err)
			}
			if m.Written() != int64(out.Len()) {
				t.Errorf("Written = %d, output has %d bytes", m.Written(), out.Len())
			}
			var got []byte
			for i, f := range parseFrames(t, out.Bytes()) {
				if f.tag != MsgData {
					t.Fatalf("frame %d has tag %s", i, f.tag)
				}
				if len(f.payload) == 0 || len(f.payload) > 32<<10 {
					t.Fatalf("frame %d has %d bytes; want 1..32768", i, len(f.payload))
				}
				got = append(got, f.payload...)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("data through the frames differs (%d bytes, want %d)", len(got), len(data))
			}
		})
	}
}

func TestMuxWriterOrdering(t *testing.T) {
	var out bytes.Buffer
	m := NewMuxWriter(&out)
	mustWrite := func(s string) {
		t.Helper()
		if _, err := m.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite("raw") // handshake bytes: sent unframed
	if err := m.WriteMsg(MsgInfo, []byte("too early")); err == nil {
		t.Fatal("WriteMsg before Enable: no error")
	}
	if err := m.Enable(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "raw" {
		t.Fatalf("Enable flushed %q, want the raw bytes", got)
	}
	if err := m.Flush(); err != nil || out.Len() != 3 {
		t.Fatalf("an empty Flush wrote %d bytes (err %v)", out.Len()-3, err)
	}
	mustWrite("ab")
	mustWrite("c")
	if out.Len() != 3 {
		t.Fatalf("Write did not buffer: %d bytes out", out.Len())
	}
	if err := m.WriteMsg(MsgNoSend, []byte{3, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	mustWrite("de")
	if err := m.WriteMsg(MsgErrorExit, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	raw, framed := out.Bytes()[:3], out.Bytes()[3:]
	if string(raw) != "raw" {
		t.Fatalf("prefix %q", raw)
	}
	want := []event{{MsgData, "abc"}, {MsgNoSend, "\x03\x00\x00\x00"}, {MsgData, "de"}, {MsgErrorExit, ""}}
	if got := parseFrames(t, framed); !equalEvents(got, want) {
		t.Fatalf("frames = %v, want %v", shortEvents(got), shortEvents(want))
	}
	if m.Written() != int64(out.Len()) {
		t.Errorf("Written = %d, output has %d bytes", m.Written(), out.Len())
	}
	// The data header of the first frame is what a capture shows.
	if want := []byte{3, 0, 0, 7}; !bytes.Equal(framed[:4], want) {
		t.Errorf("data header = % x, want % x", framed[:4], want)
	}
}

func TestMuxWriterErrorSticky(t *testing.T) {
	fw := &failWriter{n: 0}
	m := NewMuxWriter(fw)
	if err := m.Enable(); err != nil {
		t.Fatal(err) // nothing buffered: no write yet
	}
	if _, err := m.Write([]byte("x")); err != nil {
		t.Fatal(err) // buffered
	}
	if err := m.Flush(); err == nil {
		t.Fatal("Flush: no error from a failing writer")
	}
	fw.n = 100
	if _, err := m.Write([]byte("y")); err == nil {
		t.Error("Write after a failed Flush: no error")
	}
	if err := m.WriteMsg(MsgInfo, []byte("z")); err == nil {
		t.Error("WriteMsg after a failed Flush: no error")
	}
	if fw.n != 100 {
		t.Errorf("%d writes reached the writer after the failure", 100-fw.n)
	}
}

// TestMuxRoundTrip pushes random data and messages through a MuxWriter and
// back through a MuxReader.
func TestMuxRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		rng := rand.New(rand.NewPCG(seed, 2))
		var out bytes.Buffer
		m := NewMuxWriter(&out)
		if err := m.Enable(); err != nil {
			t.Fatal(err)
		}
		var wantData []byte
		var wantMsgs []event
		for range 200 {
			if rng.IntN(4) == 0 {
				p := make([]byte, rng.IntN(100))
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				tag := []MsgTag{MsgInfo, MsgWarning, MsgError, MsgNoSend, MsgIOError}[rng.IntN(5)]
				if err := m.WriteMsg(tag, p); err != nil {
					t.Fatal(err)
				}
				wantMsgs = append(wantMsgs, event{tag, string(p)})
				continue
			}
			p := make([]byte, rng.IntN(5000))
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			if _, err := m.Write(p); err != nil {
				t.Fatal(err)
			}
			wantData = append(wantData, p...)
		}
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		data, msgs, err := demuxAll(out.Bytes(), 1+rng.IntN(9000))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if data != string(wantData) {
			t.Fatalf("seed %d: data differs", seed)
		}
		if !equalEvents(msgs, wantMsgs) {
			t.Fatalf("seed %d: messages differ", seed)
		}
	}
}

func TestMsgTagString(t *testing.T) {
	for tag, want := range map[MsgTag]string{MsgData: "MSG_DATA", MsgErrorExit: "MSG_ERROR_EXIT", MsgNoSend: "MSG_NO_SEND", 77: "MSG_77"} {
		if got := tag.String(); got != want {
			t.Errorf("MsgTag(%d).String() = %q, want %q", uint8(tag), got, want)
		}
	}
}
