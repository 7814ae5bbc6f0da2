//go:build unix

package rsync

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// incScriptedPull pulls into dest from a server that negotiates
// incremental recursion (as rsync 3.x does when offered 'i') and then runs
// script, which writes what the server sends and may read what the client
// sends; it reports whether the pull had to be stopped.
func incScriptedPull(dest string, script func(s *session, in io.Reader) error, opts Options) (hung bool, err error) {
	done := make(chan struct{})
	tr := pipeTransport{serve: func(ctx context.Context, in io.Reader, out io.Writer) error {
		defer close(done)
		s := &session{log: hclog.NewNullLogger(), stderr: newTailBuffer(1), protocol: DefaultProtocol}
		s.out = wire.NewMuxWriter(out)
		s.w = wire.NewWriter(s.out)
		s.in = wire.NewMuxReader(in, s.handleMsg)
		s.r = wire.NewReader(s.in)
		// The server's half of compat.c:setup_protocol, with CF_INC_RECURSE.
		s.w.Int32(DefaultProtocol)
		s.w.Varint(int32(cfIncRecurse | cfSymlinkTimes | cfSafeFlist | cfChksumSeedFix | cfVarintFlistFlag | cfID0Names))
		s.w.Vstring(csum.OfferString(csum.Offered))
		if err := s.out.Flush(); err != nil {
			return err
		}
		s.r.Int32()
		s.r.Vstring(1024)
		if err := s.r.Err(); err != nil {
			return err
		}
		var seed [4]byte
		_, _ = rand.Read(seed[:])
		s.w.Int32(int32(binary.LittleEndian.Uint32(seed[:])))
		if err := s.out.Enable(); err != nil {
			return err
		}
		s.in.Enable()
		err := script(s, in)
		if ferr := s.out.Flush(); err == nil {
			err = ferr
		}
		// End of the server's output, then wait for the client to be done
		// writing (it closes its side when it finishes or gives up).
		if c, ok := out.(io.Closer); ok {
			c.Close()
		}
		_, _ = io.Copy(io.Discard, in)
		return err
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	_, err = Pull(ctx, tr, "src/", dest, opts)
	hung = ctx.Err() != nil
	<-done
	return hung, err
}

// sendStream is a script that sends stream whatever the client says.
func sendStream(stream []byte) func(s *session, in io.Reader) error {
	return func(s *session, in io.Reader) error {
		go func() { _, _ = io.Copy(io.Discard, in) }()
		s.w.Raw(stream)
		return s.w.Err()
	}
}

// incStreamOf builds a server's stream: lists, the end of lists, then raw indexes (with
// their item flags) in the same index coding state.
func incStreamOf(t testing.TB, lists []incListSpec, then ...int32) []byte {
	t.Helper()
	var buf bytes.Buffer
	var ns wire.NdxState
	w := wire.NewWriter(&buf)
	writeIncLists(t, w, &ns, flist.NewEncoder(incTestCodec, w), lists)
	for _, ndx := range then {
		w.Raw(ns.AppendNdx(nil, ndx))
		if ndx >= 0 {
			w.Shortint(itemTransfer)
		}
	}
	return buf.Bytes()
}

// hostileDest is a destination beside an "outside" directory holding a
// file a hostile server would like to reach.
func hostileDest(t *testing.T) (dest, outside string) {
	root := t.TempDir()
	dest, outside = filepath.Join(root, "dest"), filepath.Join(root, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "precious"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dest, outside
}

// assertOutsideUntouched: outside holds its one file, and dest's parent
// nothing but dest and outside.
func assertOutsideUntouched(t testing.TB, dest, outside string) {
	t.Helper()
	des, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(des) != 1 || des[0].Name() != "precious" {
		var names []string
		for _, d := range des {
			names = append(names, d.Name())
		}
		t.Fatalf("outside the destination now holds %v", names)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "precious")); err != nil || string(b) != "keep" {
		t.Fatalf("the file outside changed: %q, %v", b, err)
	}
	des, err = os.ReadDir(filepath.Dir(dest))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range des {
		if d.Name() != "dest" && d.Name() != "outside" {
			t.Fatalf("%s appeared beside the destination", d.Name())
		}
	}
}

func symlinkEntry(name, target string) *flist.Entry {
	return &flist.Entry{Name: name, Mode: flist.SIFLNK | 0o777, Size: int64(len(target)), ModTime: 1600000000, LinkTarget: target}
}

// TestHostileIncrementalPull: a server that negotiated incremental
// recursion and then sends what no honest one does. Each pull fails with
// an error that says why, in time, and nothing outside the destination is
// written, read for deletion or removed.
func TestHostileIncrementalPull(t *testing.T) {
	top := incListSpec{-1, []*flist.Entry{dirEntry("."), dirEntry("a"), symlinkEntry("link", "../outside")}}
	cases := []struct {
		name   string
		stream func(outside string) []byte
		text   string
	}{
		{"list for an unknown directory", func(string) []byte {
			return incStreamOf(t, []incListSpec{top, {9, []*flist.Entry{symlinkEntry("x", "y")}}})
		}, "described only"},
		{"list for the root again", func(string) []byte {
			return incStreamOf(t, []incListSpec{top, {0, []*flist.Entry{symlinkEntry("x", "y")}}})
		}, "second file list"},
		{"two lists for a directory", func(string) []byte {
			return incStreamOf(t, []incListSpec{top, {1, nil}, {1, []*flist.Entry{symlinkEntry("a/x", "y")}}})
		}, "second file list"},
		{"a name through the symlink", func(string) []byte {
			return incStreamOf(t, []incListSpec{top, {1, []*flist.Entry{symlinkEntry("link/x", "y")}}})
		}, "in the file list of"},
		{"a list after the end of lists", func(string) []byte {
			return incStreamOf(t, []incListSpec{top}, int32(wire.NdxFlistOffset)-1)
		}, "after the end"},
		{"a file index in no list", func(string) []byte {
			return incStreamOf(t, []incListSpec{top, {1, nil}}, 4000)
		}, "in no current list"},
		{"data for what we did not ask for", func(string) []byte {
			return incStreamOf(t, []incListSpec{top, {1, nil}}, 2)
		}, "did not ask for"},
		{"the end of lists twice", func(string) []byte {
			return incStreamOf(t, []incListSpec{top}, wire.NdxFlistEOF)
		}, "twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dest, outside := hostileDest(t)
			hung, err := incScriptedPull(dest, sendStream(tc.stream(outside)), Options{Delete: true})
			if hung {
				t.Fatal("the pull hung")
			}
			if err == nil || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v, want one saying %q", err, tc.text)
			}
			assertOutsideUntouched(t, dest, outside)
		})
	}
}

// TestHostileIncrementalPullSymlinkedDir: the destination already holds a
// symlink to outside where the server describes a directory, and the
// server's list for that directory names nothing, so that delete-during
// would empty it: the symlink is replaced by a directory, and nothing
// outside is deleted.
func TestHostileIncrementalPullSymlinkedDir(t *testing.T) {
	dest, outside := hostileDest(t)
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dest, "a")); err != nil {
		t.Fatal(err)
	}
	stream := incStreamOf(t, []incListSpec{
		{-1, []*flist.Entry{dirEntry("."), dirEntry("a")}},
		{1, []*flist.Entry{symlinkEntry("a/planted", "x")}},
	})
	// The server waits for the client to finish both lists (it asks for
	// no file: a directory and a symlink), so both were worked through,
	// delete-during included, before it ends the stream.
	script := func(s *session, in io.Reader) error {
		for { // filter rules
			n := s.r.Int32()
			if s.r.Err() != nil || n == 0 {
				break
			}
			s.r.Bytes(int(n), 4096, "rule")
		}
		s.w.Raw(stream)
		if err := s.out.Flush(); err != nil {
			return err
		}
		for acks := 0; acks < 2; {
			ndx := s.r.ReadNdx(&s.ndxIn)
			if err := s.r.Err(); err != nil {
				return err
			}
			if ndx != wire.NdxDone {
				return fmt.Errorf("the client sent index %d", ndx)
			}
			acks++
		}
		return nil
	}
	hung, err := incScriptedPull(dest, script, Options{Delete: true})
	if hung {
		t.Fatal("the pull hung")
	}
	if err == nil {
		t.Fatal("the pull succeeded against a server that never finished")
	}
	assertOutsideUntouched(t, dest, outside)
	if fi, err := os.Lstat(filepath.Join(dest, "a")); err != nil || !fi.IsDir() {
		t.Fatalf("dest/a: %v, %v; want the directory that replaced the symlink", fi, err)
	}
	if fi, err := os.Lstat(filepath.Join(dest, "a", "planted")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("dest/a/planted: %v; want the list for a worked through", err)
	}
}

// TestHostileIncrementalNotOffered: a server that turns incremental
// recursion on when we did not offer it is refused at the handshake.
func TestHostileIncrementalNotOffered(t *testing.T) {
	dest, outside := hostileDest(t)
	stream := incStreamOf(t, []incListSpec{{-1, []*flist.Entry{dirEntry("."), dirEntry("a")}}})
	hung, err := incScriptedPull(dest, sendStream(stream), Options{NoIncRecursive: true})
	if hung {
		t.Fatal("the pull hung")
	}
	if err == nil || !strings.Contains(err.Error(), "did not offer") {
		t.Fatalf("error %v, want the handshake's refusal", err)
	}
	assertOutsideUntouched(t, dest, outside)
}
