package rsync

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// TestIncSenderHostileReceiver plays a receiver against our incremental
// sender with scripted requests: one that never reports a list done
// cannot make the sender read more of the tree than the lookahead (the
// lists in flight stay bounded however long it goes on), and an index in
// no list in flight, or a list marker, which only a sender may send, is a
// protocol error, not a lookup out of range.
func TestIncSenderHostileReceiver(t *testing.T) {
	src := t.TempDir()
	for d := range 120 { // 12,000 entries: more than the larger lookahead
		dir := filepath.Join(src, fmt.Sprintf("d%02d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", f)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := func(t *testing.T, script []byte) (*incSender, error) {
		t.Helper()
		s := &session{
			w: wire.NewWriter(io.Discard), r: wire.NewReader(bytes.NewReader(script)),
			protocol: 32, compat: cfIncRecurse | cfVarintFlistFlag | cfSafeFlist, algo: csum.XXH128, log: hclog.NewNullLogger(),
		}
		opts := Options{}
		rules, err := newRules(opts)
		if err != nil {
			t.Fatal(err)
		}
		lister, top, err := flist.NewLister(src+"/", rules.Excluded, walkOptions(opts))
		if err != nil {
			t.Fatal(err)
		}
		x := &incSender{s: s, lister: lister, opts: opts, items: itemStrings{}}
		s.inc = x
		if err := x.begin(top, rules); err != nil {
			t.Fatal(err)
		}
		return x, x.requests()
	}
	request := func(ndx *wire.NdxState, n int32, iflags uint16) []byte {
		b := ndx.AppendNdx(nil, n)
		return append(b, byte(iflags), byte(iflags>>8))
	}

	t.Run("never done", func(t *testing.T) {
		var ndx wire.NdxState
		var script []byte
		for range 5000 {
			script = append(script, request(&ndx, 1, 0)...) // "." again and again, itemized only
		}
		x, err := run(t, script)
		if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			t.Fatalf("the script's end: %v", err)
		}
		// At most the larger lookahead ahead, one more list of 100, and
		// the oldest list (the first: "." and 120 directories).
		if limit := maxFileLookahead + 100 + 121; x.inFlight > limit || x.eof {
			t.Fatalf("%d entries in flight (NDX_FLIST_EOF sent: %v) for a receiver that finished no list, want at most %d and not the whole tree", x.inFlight, x.eof, limit)
		}
	})
	t.Run("index in no list", func(t *testing.T) {
		var ndx wire.NdxState
		_, err := run(t, request(&ndx, 1<<20, 0))
		if !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("got %v, want a protocol error", err)
		}
	})
	t.Run("list marker from the receiver", func(t *testing.T) {
		var ndx wire.NdxState
		_, err := run(t, ndx.AppendNdx(nil, wire.NdxFlistOffset-3))
		if !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("got %v, want a protocol error", err)
		}
	})
	t.Run("transfer of a directory", func(t *testing.T) {
		var ndx wire.NdxState
		_, err := run(t, request(&ndx, 2, itemTransfer))
		if !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("got %v, want a protocol error", err)
		}
	})
}
