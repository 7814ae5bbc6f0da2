package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/fuzzseed"
	"io"
	"math"
	"math/bits"
	"runtime"
	"testing"
)

// Native fuzz targets for every decoder of peer input in this package.
// Each has hand-written edge cases (f.Add) and a checked-in corpus
// generated from real encodings (testdata/fuzz, see seeds_test.go).

// malformedOrShort reports whether err is one a decoder may return for
// hostile bytes: anything else (a panic, an I/O error out of nowhere) is a
// bug.
func malformedOrShort(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, io.ErrUnexpectedEOF)
}

func varintSeeds() []fuzzseed.Seed {
	var out []fuzzseed.Seed
	for _, v := range []int32{0x1fe, 0x9a, 65534, 123456789, -1, math.MaxInt32, math.MinInt32} {
		out = append(out, fuzzseed.Seed{Name: fmt.Sprintf("varint-%#x", uint32(v)), Args: []any{AppendVarint(nil, v)}})
	}
	return out
}

func FuzzVarint(f *testing.F) {
	for _, s := range varintSeeds() {
		f.Add(s.Args[0].([]byte))
	}
	f.Add([]byte{})
	f.Add([]byte{0xf8, 1, 2, 3, 4, 5}) // five extra bytes: malformed
	f.Add([]byte{0xf7, 1, 2, 3, 4})    // four extra bytes: the lead's bits are ignored
	f.Add([]byte{0x80, 0x05})          // non-canonical 5
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		v := r.Varint()
		if err := r.Err(); err != nil {
			if !malformedOrShort(err) {
				t.Fatalf("unexpected error class: %v", err)
			}
			if errors.Is(err, ErrMalformed) && bits.LeadingZeros8(^data[0]) <= 4 {
				t.Fatalf("lead %#02x has at most 4 extra bytes but was rejected: %v", data[0], err)
			}
			return
		}
		used := int(r.Count())
		if ref, n, ok := refDecode(data, 1); !ok || n != used || uint32(ref) != uint32(v) {
			t.Fatalf("Varint = %d using %d bytes; reference decoder: %#x using %d (ok=%v)", v, used, ref, n, ok)
		}
		enc := AppendVarint(nil, v)
		if len(enc) > used {
			t.Fatalf("canonical encoding of %d (%d bytes) is longer than the input's %d", v, len(enc), used)
		}
		r2 := NewReader(bytes.NewReader(enc))
		if got := r2.Varint(); got != v || r2.Err() != nil || r2.Count() != int64(len(enc)) {
			t.Fatalf("re-encoded %d as % x, which decodes to %d (err %v)", v, enc, got, r2.Err())
		}
	})
}

func varlongSeeds() []fuzzseed.Seed {
	out := []fuzzseed.Seed{
		{Name: "varlong3-4096", Args: []any{AppendVarlong(nil, 4096, 3), byte(2)}},
		{Name: "varlong3-100000", Args: []any{AppendVarlong(nil, 100000, 3), byte(2)}},
		{Name: "varlong3-5GiB", Args: []any{AppendVarlong(nil, 5<<30, 3), byte(2)}},
		{Name: "varlong4-1577836800", Args: []any{AppendVarlong(nil, 1577836800, 4), byte(3)}},
		{Name: "varlong4-2pow31", Args: []any{AppendVarlong(nil, 1<<31, 4), byte(3)}},
		{Name: "varlong4-minus1", Args: []any{AppendVarlong(nil, -1, 4), byte(3)}},
	}
	return out
}

func FuzzVarlong(f *testing.F) {
	for _, s := range varlongSeeds() {
		f.Add(s.Args[0].([]byte), s.Args[1].(byte))
	}
	f.Add([]byte{0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0}, byte(2))
	f.Add([]byte{0xff, 1, 2, 3, 4, 5, 6, 7, 8}, byte(0))
	f.Add([]byte{0x80, 1, 2, 3, 4, 5, 6, 7, 8}, byte(7))
	f.Fuzz(func(t *testing.T, data []byte, m byte) {
		minBytes := int(m%8) + 1
		r := NewReader(bytes.NewReader(data))
		v := r.Varlong(minBytes)
		if err := r.Err(); err != nil {
			if !malformedOrShort(err) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		used := int(r.Count())
		if ref, n, ok := refDecode(data, minBytes); !ok || n != used || ref != uint64(v) {
			t.Fatalf("Varlong(%d) = %d using %d bytes; reference decoder: %#x using %d (ok=%v)", minBytes, v, used, ref, n, ok)
		}
		enc := AppendVarlong(nil, v, minBytes)
		if len(enc) > used || len(enc) < minBytes {
			t.Fatalf("canonical encoding of %d is %d bytes; input used %d, minimum %d", v, len(enc), used, minBytes)
		}
		r2 := NewReader(bytes.NewReader(enc))
		if got := r2.Varlong(minBytes); got != v || r2.Err() != nil || r2.Count() != int64(len(enc)) {
			t.Fatalf("re-encoded %d as % x, which decodes to %d (err %v)", v, enc, got, r2.Err())
		}
	})
}

func ndxSeeds() []fuzzseed.Seed {
	enc := func(seq ...int32) []byte {
		var s NdxState
		var out []byte
		for _, v := range seq {
			out = s.AppendNdx(out, v)
		}
		return out
	}
	return []fuzzseed.Seed{
		// A generator's requests: files 1, 3, 4, done, a redo of 3, done, done.
		{Name: "requests-and-redo", Args: []any{enc(1, 3, 4, NdxDone, 3, NdxDone, NdxDone)}},
		// Deletion stats then the goodbye.
		{Name: "del-stats-goodbye", Args: []any{enc(NdxDelStats, 0, 0, 0, 0, 0, NdxDone, NdxDone)}},
		// Large jumps, backwards, the extremes.
		{Name: "jumps", Args: []any{enc(0, 300, 0x7fff, 5, math.MaxInt32, 0, NdxFlistEOF, NdxFlistOffset-7, -math.MaxInt32)}},
	}
}

func FuzzNdx(f *testing.F) {
	for _, s := range ndxSeeds() {
		f.Add(s.Args[0].([]byte))
	}
	f.Add([]byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0x01}) // overflow
	f.Add([]byte{0xff, 0xfe, 0x80, 0, 0, 0})          // negative zero
	f.Add([]byte{0xff, 0x00, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var rs NdxState
		r := NewReader(bytes.NewReader(data))
		var vals []int32
		for {
			v := r.ReadNdx(&rs)
			if r.Err() != nil {
				break
			}
			vals = append(vals, v)
		}
		if err := r.Err(); !malformedOrShort(err) {
			t.Fatalf("unexpected error class: %v", err)
		}
		if len(vals) > len(data) {
			t.Fatalf("%d values from %d bytes", len(vals), len(data))
		}
		// Everything decoded must re-encode (with a fresh state) to a
		// stream that decodes to the same sequence.
		var ws NdxState
		var enc []byte
		for _, v := range vals {
			before := len(enc)
			enc = ws.AppendNdx(enc, v)
			if n := len(enc) - before; n < 1 || n > 6 {
				t.Fatalf("AppendNdx(%d) wrote %d bytes", v, n)
			}
		}
		var rs2 NdxState
		r2 := NewReader(bytes.NewReader(enc))
		for i, v := range vals {
			if got := r2.ReadNdx(&rs2); got != v || r2.Err() != nil {
				t.Fatalf("value %d: re-encoded %d decodes to %d (err %v)", i, v, got, r2.Err())
			}
		}
		if r2.Count() != int64(len(enc)) {
			t.Fatalf("re-encoding has %d bytes, %d consumed", len(enc), r2.Count())
		}
	})
}

func vstringSeeds() []fuzzseed.Seed {
	enc := func(s string) []byte {
		var b bytes.Buffer
		NewWriter(&b).Vstring(s)
		return b.Bytes()
	}
	long := bytes.Repeat([]byte("sub/dir/"), 40)
	return []fuzzseed.Seed{
		{Name: "empty", Args: []any{enc(""), uint16(100)}},
		{Name: "xname", Args: []any{enc("sub/c2.txt"), uint16(4096)}},
		{Name: "two-byte-length", Args: []any{enc(string(long)), uint16(4096)}},
		{Name: "over-limit", Args: []any{enc(string(long)), uint16(10)}},
	}
}

func FuzzVstring(f *testing.F) {
	for _, s := range vstringSeeds() {
		f.Add(s.Args[0].([]byte), s.Args[1].(uint16))
	}
	f.Add([]byte{0xff, 0xff}, uint16(0xffff))
	f.Add([]byte{0x80, 0x03, 'a', 'b', 'c'}, uint16(3))
	f.Add([]byte{0x85}, uint16(100))
	f.Fuzz(func(t *testing.T, data []byte, maxLen uint16) {
		r := NewReader(bytes.NewReader(data))
		s := r.Vstring(int(maxLen))
		if err := r.Err(); err != nil {
			if !malformedOrShort(err) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if len(s) > int(maxLen) || len(s) > 0x7fff {
			t.Fatalf("Vstring returned %d bytes with limit %d", len(s), maxLen)
		}
		if want := 1 + len(s) + boolInt(data[0]&0x80 != 0); int(r.Count()) != want {
			t.Fatalf("consumed %d bytes for a %d-byte string", r.Count(), len(s))
		}
		var b bytes.Buffer
		w := NewWriter(&b)
		w.Vstring(s)
		r2 := NewReader(&b)
		if got := r2.Vstring(int(maxLen)); got != s || w.Err() != nil || r2.Err() != nil {
			t.Fatalf("round trip of %q: %q (errs %v, %v)", s, got, w.Err(), r2.Err())
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func muxSeeds() []fuzzseed.Seed {
	return []fuzzseed.Seed{
		// What a server sends during a push: data, an info line, a
		// keepalive, more data.
		{Name: "data-info-keepalive", Args: []any{frames(frame(MsgData, []byte{1, 0xa0, 0}), frame(MsgInfo, []byte("sending incremental file list\n")),
			frame(MsgData, nil), frame(MsgData, AppendVarint(nil, 123456789)))}},
		// The end of a failed run: an error and ERROR_EXIT.
		{Name: "error-exit", Args: []any{frames(frame(MsgError, []byte("rsync: [receiver] mkstemp failed\n")), frame(MsgErrorExit, []byte{23, 0, 0, 0}))}},
		// Deletions and NO_SEND.
		{Name: "deleted-nosend", Args: []any{frames(frame(MsgDeleted, []byte("old.txt")), frame(MsgDeleted, []byte("olddir\x00")),
			frame(MsgNoSend, []byte{3, 0, 0, 0}), frame(MsgData, []byte{0}))}},
		// An oversize message header (rejected before allocation).
		{Name: "oversize-message", Args: []any{rawFrame(uint32(mplexBase+MsgInfo), MaxFrame, []byte("x"))}},
	}
}

// refDemux is an independent frame parser: the data a reader must deliver,
// the messages it must dispatch and the kind of error it must end with
// (nil, ErrMalformed or io.ErrUnexpectedEOF).
func refDemux(in []byte) ([]byte, []event, error) {
	var data []byte
	var msgs []event
	for {
		switch {
		case len(in) == 0:
			return data, msgs, nil
		case len(in) < 4:
			return data, msgs, io.ErrUnexpectedEOF
		}
		h := binary.LittleEndian.Uint32(in)
		in = in[4:]
		tag, n := h>>24, int(h&0xffffff)
		if tag < 7 {
			return data, msgs, ErrMalformed
		}
		if tag == 7 {
			if len(in) < n {
				return append(data, in...), msgs, io.ErrUnexpectedEOF
			}
			data = append(data, in[:n]...)
			in = in[n:]
			continue
		}
		if n > MaxMsgPayload {
			return data, msgs, ErrMalformed
		}
		if len(in) < n {
			return data, msgs, io.ErrUnexpectedEOF
		}
		msgs = append(msgs, event{MsgTag(tag - 7), string(in[:n])})
		in = in[n:]
	}
}

func FuzzMuxReader(f *testing.F) {
	for _, s := range muxSeeds() {
		f.Add(s.Args[0].([]byte))
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 6})
	f.Add(rawFrame(uint32(mplexBase), 100, []byte("short")))
	f.Fuzz(func(t *testing.T, in []byte) {
		wantData, wantMsgs, wantErr := refDemux(in)
		readSize := 1 + len(in)%13
		buf := make([]byte, readSize)
		data := make([]byte, 0, len(in))
		msgs := make([]event, 0, len(in)/4+1)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m := NewMuxReader(bytes.NewReader(in), func(tag MsgTag, p []byte) error {
			if tag == MsgData {
				t.Errorf("MSG_DATA reached the handler")
			}
			if len(p) > MaxMsgPayload {
				t.Errorf("handler got a %d-byte %s payload (limit %d)", len(p), tag, MaxMsgPayload)
			}
			msgs = append(msgs, event{tag, string(p)})
			return nil
		})
		m.Enable()
		var err error
		for {
			var n int
			n, err = m.Read(buf)
			data = append(data, buf[:n]...)
			if err != nil {
				break
			}
		}
		runtime.ReadMemStats(&after)
		if errors.Is(err, io.EOF) {
			err = nil
		}
		if (err == nil) != (wantErr == nil) || (wantErr != nil && !errors.Is(err, wantErr)) {
			t.Fatalf("err = %v, want %v", err, wantErr)
		}
		if !bytes.Equal(data, wantData) {
			t.Fatalf("data = %q, want %q", data, wantData)
		}
		if !equalEvents(msgs, wantMsgs) {
			t.Fatalf("messages = %v, want %v", shortEvents(msgs), shortEvents(wantMsgs))
		}
		// The reader's 64 KiB buffer, at most one message payload that the
		// input does not back, the payloads it does back (and our copies of
		// them), and some slack.
		limit := uint64(64<<10 + MaxMsgPayload + 2*len(in) + 64<<10)
		if got := after.TotalAlloc - before.TotalAlloc; got > limit {
			t.Fatalf("allocated %d bytes for %d bytes of input (limit %d)", got, len(in), limit)
		}
	})
}

func TestFuzzSeedCorpus(t *testing.T) {
	for target, seeds := range map[string][]fuzzseed.Seed{
		"FuzzVarint":    varintSeeds(),
		"FuzzVarlong":   varlongSeeds(),
		"FuzzNdx":       ndxSeeds(),
		"FuzzVstring":   vstringSeeds(),
		"FuzzMuxReader": muxSeeds(),
		"FuzzLongint":   longintSeeds(),
	} {
		t.Run(target, func(t *testing.T) { fuzzseed.Check(t, target, seeds, true) })
	}
}
