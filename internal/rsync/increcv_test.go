package rsync

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// The captures in testdata/increcv are stock rsync 3.5.0 clients pulling
// a small nested tree (empty directories included) from `rsync --server
// --sender` with incremental recursion: plain, with -c, with --delete, and
// from a 3.2.7 server (make-inc-captures.sh there makes them).

// incCapture returns the data stream the server sent after the handshake
// (protocol, compat flags, checksum list, seed), demultiplexed.
func incCapture(t testing.TB, name string) (data []byte, compat uint32) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "increcv", name+".s2c.bin"))
	if err != nil {
		t.Fatal(err)
	}
	r := wire.NewReader(bytes.NewReader(raw))
	r.Int32()
	compat = uint32(r.Varint())
	r.Vstring(1024)
	r.Int32()
	if err := r.Err(); err != nil {
		t.Fatalf("%s: handshake: %v", name, err)
	}
	mr := wire.NewMuxReader(bytes.NewReader(raw[r.Count():]), func(wire.MsgTag, []byte) error { return nil })
	mr.Enable()
	var out bytes.Buffer
	if _, err := out.ReadFrom(mr); err != nil {
		t.Fatalf("%s: demultiplex: %v", name, err)
	}
	return out.Bytes(), compat
}

// incStream is what walkIncStream saw.
type incStream struct {
	lists    []*incList
	eof      bool
	firstNdx int32 // the first file index after the lists, or 0
	uidNames []flist.IDName
	peakHeld int
}

// walkIncStream reads a sender's incremental lists from data as a
// receiver does, releasing the oldest list at every NDX_DONE, until the
// first file index or the end of data.
func walkIncStream(data []byte, c flist.Codec, maxHeld int) (*incStream, error) {
	r := wire.NewReader(bytes.NewReader(data))
	dec := flist.NewDecoder(c, r)
	l := newIncLists(dec, c.Protocol, maxHeld)
	st := &incStream{}
	first, err := l.readFirst()
	if err != nil {
		return st, err
	}
	st.lists = append(st.lists, first)
	live := []*incList{first}
	var ns wire.NdxState
	for {
		st.peakHeld = max(st.peakHeld, l.held)
		ndx := r.ReadNdx(&ns)
		if r.Err() != nil {
			return st, r.Err()
		}
		switch {
		case ndx == wire.NdxFlistEOF:
			if l.eof {
				return st, errors.New("eof twice")
			}
			l.eof, st.eof = true, true
		case ndx <= wire.NdxFlistOffset:
			fl, err := l.readFor(ndx)
			if err != nil {
				return st, err
			}
			st.lists = append(st.lists, fl)
			live = append(live, fl)
		case ndx == wire.NdxDone:
			if len(live) == 0 {
				return st, errors.New("NDX_DONE with no list")
			}
			l.release(live[0])
			live = live[1:]
		default:
			st.firstNdx = ndx
			st.uidNames = dec.UIDNames
			return st, nil
		}
	}
}

func captureCodec(compat uint32, sumLen int) flist.Codec {
	return flist.Codec{Protocol: 32, VarintFlags: compat&cfVarintFlistFlag != 0, PreserveUID: true, PreserveGID: true,
		PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true, ChecksumLen: sumLen, IncRecurse: true}
}

// TestCaptureIncrementalLists decodes the real incremental lists: one per
// directory, in the sender's depth-first order, each numbered one past the
// last (flist_new), names inline, the empty directory's list empty.
func TestCaptureIncrementalLists(t *testing.T) {
	wantDirs := []string{"", "a", "a/b", "a/b/c", "a/empty", "d", "e", "e/f"}
	wantNames := [][]string{
		{".", "top.txt", "a", "d", "e"},
		{"a/ab.txt", "a/link", "a/b", "a/empty"},
		{"a/b/c"},
		{"a/b/c/abc.txt"},
		nil,
		{"d/dd.txt"},
		{"e/f"},
		{"e/f/ef.txt"},
	}
	for _, tc := range []struct {
		name   string
		sumLen int
	}{{"inc-pull", 0}, {"inc-pull-c", 16}, {"inc-pull-delete", 0}, {"inc-pull-srv327", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			data, compat := incCapture(t, tc.name)
			if compat&cfIncRecurse == 0 {
				t.Fatalf("compat %#x: the server did not enable incremental recursion", compat)
			}
			st, err := walkIncStream(data, captureCodec(compat, tc.sumLen), maxHeldEntries)
			if err != nil {
				t.Fatal(err)
			}
			if !st.eof {
				t.Error("no NDX_FLIST_EOF before the first file")
			}
			var dirs []string
			start := int32(1)
			for i, l := range st.lists {
				dirs = append(dirs, l.dir)
				var names []string
				for _, e := range l.entries {
					names = append(names, e.Name)
					if e.IsRegular() && len(e.Checksum) != tc.sumLen {
						t.Errorf("%s: checksum of %d bytes", e.Name, len(e.Checksum))
					}
				}
				if i < len(wantNames) && !slices.Equal(names, wantNames[i]) {
					t.Errorf("list %d (%q): %q, want %q", i, l.dir, names, wantNames[i])
				}
				if l.start != start {
					t.Errorf("list %d starts at %d, want %d", i, l.start, start)
				}
				start += int32(len(l.entries)) + 1
			}
			if !slices.Equal(dirs, wantDirs) {
				t.Errorf("lists for %q, want %q", dirs, wantDirs)
			}
			// The first answer is the sender's echo of the client's
			// itemization of ".", the first list's parent: index 0.
			if st.firstNdx != 0 {
				t.Errorf("first file index %d, want 0", st.firstNdx)
			}
			if !slices.Contains(st.uidNames, flist.IDName{ID: 0, Name: "root"}) {
				t.Errorf("inline uid names %v, want root", st.uidNames)
			}
		})
	}
}

// incListBytes encodes lists as a sender sends them: each announced by
// NDX_FLIST_OFFSET-dirNdx (dirNdx -1: the first list, unannounced), ended
// with a zero flag; then NDX_FLIST_EOF.
type incListSpec struct {
	dirNdx  int32
	entries []*flist.Entry
}

func incListBytes(t testing.TB, c flist.Codec, lists []incListSpec) []byte {
	t.Helper()
	var buf bytes.Buffer
	var ns wire.NdxState
	w := wire.NewWriter(&buf)
	writeIncLists(t, w, &ns, flist.NewEncoder(c, w), lists)
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeIncLists(t testing.TB, w *wire.Writer, ns *wire.NdxState, enc *flist.Encoder, lists []incListSpec) {
	t.Helper()
	for _, l := range lists {
		if l.dirNdx >= 0 {
			w.Raw(ns.AppendNdx(nil, int32(wire.NdxFlistOffset)-l.dirNdx))
		}
		for _, e := range l.entries {
			if err := enc.Encode(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := enc.End(0); err != nil {
			t.Fatal(err)
		}
	}
	w.Raw(ns.AppendNdx(nil, wire.NdxFlistEOF))
}

func fileEntry(name string) *flist.Entry {
	return &flist.Entry{Name: name, Mode: flist.SIFREG | 0o644, Size: 1, ModTime: 1600000000}
}

var incTestCodec = flist.Codec{Protocol: 32, VarintFlags: true, PreserveUID: true, PreserveGID: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true, IncRecurse: true}

// TestIncListsRejectHostileLists: what a hostile sender may try with
// incremental lists, each refused with an error that says what.
func TestIncListsRejectHostileLists(t *testing.T) {
	top := incListSpec{-1, []*flist.Entry{dirEntry("."), fileEntry("f"), dirEntry("a"), dirEntry("b")}}
	cases := []struct {
		name  string
		lists []incListSpec
		text  string
	}{
		{"list for an unknown directory", []incListSpec{top, {7, []*flist.Entry{fileEntry("x")}}}, "described only 3 directories"},
		{"list for a negative offset", []incListSpec{top, {-50, nil}}, ""}, // not announced as a list at all: a plain negative index
		{"second list for a directory", []incListSpec{top, {1, []*flist.Entry{fileEntry("a/x")}}, {1, []*flist.Entry{fileEntry("a/y")}}}, "second file list"},
		{"list for the top directory", []incListSpec{top, {0, []*flist.Entry{fileEntry("x")}}}, "second file list"},
		{"name outside the list's directory", []incListSpec{top, {1, []*flist.Entry{fileEntry("b/x")}}}, "in the file list of"},
		{"name two levels down", []incListSpec{top, {1, []*flist.Entry{fileEntry("a/b/x")}}}, "in the file list of"},
		{"the directory itself again", []incListSpec{top, {1, []*flist.Entry{dirEntry("a")}}}, "in the file list of"},
		{"dot in a later list", []incListSpec{top, {1, []*flist.Entry{dirEntry(".")}}}, "in the file list of"},
		{"nested name in the first list", []incListSpec{{-1, []*flist.Entry{dirEntry("."), fileEntry("a/x")}}}, "in the file list of"},
		{"duplicate name", []incListSpec{top, {1, []*flist.Entry{fileEntry("a/x"), fileEntry("a/x")}}}, "twice"},
		{"list for a directory listed as a file too", []incListSpec{{-1, []*flist.Entry{dirEntry("."), fileEntry("a"), dirEntry("a")}}}, "twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := incListBytes(t, incTestCodec, tc.lists)
			st, err := walkIncStream(data, incTestCodec, maxHeldEntries)
			if tc.text == "" {
				if err == nil && st.firstNdx >= 0 {
					t.Fatalf("accepted: %+v", st)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v, want one saying %q", err, tc.text)
			}
		})
	}
	// Names that leave the tree are refused by the entry decoder.
	for _, name := range []string{"a/../../x", "/etc/x", "a/./x", "a//x"} {
		data := incListBytes(t, incTestCodec, []incListSpec{top, {1, []*flist.Entry{fileEntry(name)}}})
		if _, err := walkIncStream(data, incTestCodec, maxHeldEntries); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
}

// TestIncListsBoundHeld: a sender that sends lists without waiting for our
// acknowledgements hits the bound on what we hold, with an error; one
// whose lists we release as we go does not.
func TestIncListsBoundHeld(t *testing.T) {
	const bound = 50
	lists := []incListSpec{{-1, []*flist.Entry{dirEntry(".")}}}
	for i := range 40 {
		lists[0].entries = append(lists[0].entries, dirEntry(fmt.Sprintf("d%02d", i)))
	}
	for i := range 40 {
		lists = append(lists, incListSpec{int32(i + 1), []*flist.Entry{fileEntry(fmt.Sprintf("d%02d/x", i)), fileEntry(fmt.Sprintf("d%02d/y", i))}})
	}
	data := incListBytes(t, incTestCodec, lists)
	_, err := walkIncStream(data, incTestCodec, bound)
	if err == nil || !strings.Contains(err.Error(), "ahead of the transfer") {
		t.Fatalf("error %v, want the bound on held entries", err)
	}
	// The same lists with an NDX_DONE (our release) after each.
	var ns wire.NdxState
	var buf bytes.Buffer
	w := wire.NewWriter(&buf)
	e := flist.NewEncoder(incTestCodec, w)
	for i, l := range lists {
		if i > 0 {
			w.Raw(ns.AppendNdx(nil, int32(wire.NdxFlistOffset)-l.dirNdx))
		}
		for _, ent := range l.entries {
			if err := e.Encode(ent); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.End(0); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			w.Raw(ns.AppendNdx(nil, wire.NdxDone))
		}
	}
	w.Raw(ns.AppendNdx(nil, wire.NdxFlistEOF))
	w.Raw(ns.AppendNdx(nil, 5))
	st, err := walkIncStream(buf.Bytes(), incTestCodec, bound)
	if err != nil {
		t.Fatalf("paced lists: %v", err)
	}
	if st.peakHeld > 41+2 {
		t.Errorf("held %d entries at the peak", st.peakHeld)
	}
}

// TestIncOffer: pulls and listings offer incremental recursion in their -e
// argument unless told not to or with -H; the handshake takes the flag
// only from a server we offered it to.
func TestIncOffer(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want bool
	}{
		{Options{}, true},
		{Options{Checksum: true, Delete: true, DryRun: true}, true},
		{Options{NoIncRecursive: true}, false},
		{Options{HardLinks: true}, false},
	} {
		args := []string{"--server", "--sender", serverFlags(tc.opts, false) + incOffer(tc.opts), ".", "src/"}
		if got := offersIncRecurse(args); got != tc.want {
			t.Errorf("%+v: %q offers incremental recursion: %v, want %v", tc.opts, args[2], got, tc.want)
		}
	}
}
