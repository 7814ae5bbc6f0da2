package flist

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

func writeIDs(t *testing.T, ids []IDName, id0Names bool, id0Name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteIDList(wire.NewWriter(&buf), ids, id0Names, id0Name); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestIDListCapture: a-push-p32 c2s@0xed (NOTES.md §9.5).
func TestIDListCapture(t *testing.T) {
	uids := writeIDs(t, []IDName{{65534, "nobody"}}, true, "root")
	gids := writeIDs(t, []IDName{{65534, "nogroup"}}, true, "root")
	want := "c0 fe ff 06 6e 6f 62 6f 64 79 00 04 72 6f 6f 74 c0 fe ff 07 6e 6f 67 72 6f 75 70 00 04 72 6f 6f 74"
	if got := hexs(append(uids, gids...)); got != want {
		t.Fatalf("id lists\n got %s\nwant %s", got, want)
	}
	r := wire.NewReader(bytes.NewReader(append(uids, gids...)))
	u, err1 := ReadIDList(r, true, 10)
	g, err2 := ReadIDList(r, true, 10)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if want := []IDName{{65534, "nobody"}, {0, "root"}}; !reflect.DeepEqual(u, want) {
		t.Errorf("uids %v, want %v", u, want)
	}
	if want := []IDName{{65534, "nogroup"}, {0, "root"}}; !reflect.DeepEqual(g, want) {
		t.Errorf("gids %v, want %v", g, want)
	}
}

func TestWriteIDListSkips(t *testing.T) {
	long := strings.Repeat("n", 256)
	got := writeIDs(t, []IDName{{0, "root"}, {5, ""}, {6, long}, {7, "ok"}}, false, "")
	if want := "07 02 6f 6b 00"; hexs(got) != want {
		t.Fatalf("wrote %s, want %s (id 0, nameless and over-long names left out)", hexs(got), want)
	}
	got = writeIDs(t, nil, true, long)
	if want := "00 00"; hexs(got) != want {
		t.Fatalf("over-long id 0 name: wrote %s, want %s", hexs(got), want)
	}
}

func TestIDListRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	for round := range 100 {
		id0Names := round%2 == 0
		var ids []IDName
		for range rng.IntN(50) {
			name := make([]byte, 1+rng.IntN(maxIDName))
			for i := range name {
				name[i] = byte(rng.Uint32())
			}
			id := rng.Uint32()
			if id == 0 {
				id = 1
			}
			ids = append(ids, IDName{id, string(name)})
		}
		id0 := []string{"root", "", "wheel", strings.Repeat("r", maxIDName)}[rng.IntN(4)]
		enc := writeIDs(t, ids, id0Names, id0)
		r := wire.NewReader(bytes.NewReader(enc))
		got, err := ReadIDList(r, id0Names, 50)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		want := append([]IDName(nil), ids...)
		if id0Names {
			want = append(want, IDName{0, id0})
		}
		if !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
			t.Fatalf("round %d: got %v, want %v", round, got, want)
		}
		if r.Count() != int64(len(enc)) {
			t.Fatalf("round %d: read %d of %d bytes", round, r.Count(), len(enc))
		}
	}
}

func TestReadIDListRejects(t *testing.T) {
	three := writeIDs(t, []IDName{{1, "a"}, {2, "b"}, {3, "c"}}, true, "root")
	tests := []struct {
		name     string
		in       []byte
		id0Names bool
		max      int
		wantErr  error
	}{
		{"more entries than allowed", three, true, 2, wire.ErrMalformed},
		{"truncated name", three[:5], true, 10, io.ErrUnexpectedEOF},
		{"truncated id 0 name", three[:len(three)-1], true, 10, io.ErrUnexpectedEOF},
		{"missing terminator", three[:len(three)-6], false, 10, io.ErrUnexpectedEOF},
		{"bad varint", []byte{0xf8, 0, 0, 0, 0, 0}, false, 10, wire.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadIDList(wire.NewReader(bytes.NewReader(tt.in)), tt.id0Names, tt.max)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReadIDList = %v, %v; want %v", got, err, tt.wantErr)
			}
		})
	}
	t.Run("exactly the limit", func(t *testing.T) {
		got, err := ReadIDList(wire.NewReader(bytes.NewReader(three)), true, 3)
		if err != nil || len(got) != 4 {
			t.Fatalf("ReadIDList = %v, %v", got, err)
		}
	})
	t.Run("negative varint ids are large uids", func(t *testing.T) {
		in := writeIDs(t, []IDName{{0xfffffffe, "nfs"}}, false, "")
		got, err := ReadIDList(wire.NewReader(bytes.NewReader(in)), false, 1)
		if err != nil || fmt.Sprint(got) != fmt.Sprint([]IDName{{0xfffffffe, "nfs"}}) {
			t.Fatalf("ReadIDList = %v, %v", got, err)
		}
	})
}
