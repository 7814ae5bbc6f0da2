package wire

import (
	"bytes"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/fuzzseed"
)

func longintSeeds() []fuzzseed.Seed {
	enc := func(vs ...int64) []byte {
		var b bytes.Buffer
		w := NewWriter(&b)
		for _, v := range vs {
			w.Longint(v)
		}
		return b.Bytes()
	}
	return []fuzzseed.Seed{
		{Name: "small", Args: []any{enc(0, 1, 4096, 0x7fffffff)}},
		{Name: "large", Args: []any{enc(0x80000000, 5<<30, 1<<62)}},
		{Name: "negative", Args: []any{enc(-2, -1)}},
	}
}

// FuzzLongint: protocol < 30 sizes and stats (io.c:read_longint) over
// arbitrary bytes: only short input fails, every value re-encodes to
// bytes that decode to it, and the canonical encoding of a size is never
// longer than what was read.
func FuzzLongint(f *testing.F) {
	for _, s := range longintSeeds() {
		f.Add(s.Args[0].([]byte))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		for {
			before := r.Count()
			v := r.Longint()
			if err := r.Err(); err != nil {
				if !malformedOrShort(err) {
					t.Fatalf("unexpected error class: %v", err)
				}
				return
			}
			used := r.Count() - before
			if used != 4 && used != 12 {
				t.Fatalf("Longint used %d bytes", used)
			}
			var b bytes.Buffer
			w := NewWriter(&b)
			w.Longint(v)
			// A negative int32 other than -1 is read as itself, though
			// write_longint spends 12 bytes on every negative value.
			if int64(b.Len()) > used && v >= 0 {
				t.Fatalf("%d re-encodes in %d bytes, read from %d", v, b.Len(), used)
			}
			r2 := NewReader(&b)
			if got := r2.Longint(); got != v || r2.Err() != nil {
				t.Fatalf("%d re-encoded as % x decodes to %d (%v)", v, b.Bytes(), got, r2.Err())
			}
		}
	})
}

// TestNdxProto: below protocol 30 a file index is a plain int32 and the
// delta state is untouched.
func TestNdxProto(t *testing.T) {
	var ws, rs NdxState
	var enc []byte
	for _, v := range []int32{0, 5, NdxDone, 3} {
		enc = ws.AppendNdxProto(enc, v, 29)
	}
	if want := []byte{0, 0, 0, 0, 5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0}; !bytes.Equal(enc, want) {
		t.Fatalf("% x, want % x", enc, want)
	}
	r := NewReader(bytes.NewReader(enc))
	for _, want := range []int32{0, 5, NdxDone, 3} {
		if got := r.ReadNdxProto(&rs, 27); got != want || r.Err() != nil {
			t.Fatalf("ReadNdxProto = %d (%v), want %d", got, r.Err(), want)
		}
	}
	// At 30 the same calls use the delta coding.
	if got := ws.AppendNdxProto(nil, 1, 30); !bytes.Equal(got, []byte{2}) {
		t.Fatalf("at 30 ndx 1 is % x, want 02", got)
	}
}
