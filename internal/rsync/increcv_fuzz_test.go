//go:build unix

package rsync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// incFuzzCaptures are the real streams the fuzzers start from.
var incFuzzCaptures = []string{"inc-pull", "inc-pull-c", "inc-pull-delete", "inc-pull-srv327"}

// FuzzIncLists feeds arbitrary bytes to the incremental-list reader as a
// receiver reads a sender's stream (lists, list announcements, the end of
// lists, releases) with a small bound on held entries. Whatever it
// accepts keeps the promises the receiver relies on: every name is clean
// and lies directly in its list's directory, no directory gets two lists,
// and what is held stays under the bound.
func FuzzIncLists(f *testing.F) {
	for _, name := range incFuzzCaptures {
		data, _ := incCapture(f, name)
		sum := byte(0)
		if name == "inc-pull-c" {
			sum = 1
		}
		f.Add(data, sum)
	}
	top := incListSpec{-1, []*flist.Entry{dirEntry("."), fileEntry("f"), dirEntry("a"), dirEntry("b")}}
	f.Add(incListBytes(f, incTestCodec, []incListSpec{top, {1, []*flist.Entry{fileEntry("a/x"), dirEntry("a/d")}}, {3, nil}, {2, []*flist.Entry{fileEntry("b/y")}}}), byte(0))
	f.Add(incListBytes(f, incTestCodec, []incListSpec{top, {1, []*flist.Entry{fileEntry("b/x")}}}), byte(0))
	f.Fuzz(func(t *testing.T, data []byte, variant byte) {
		c := incTestCodec
		if variant&1 != 0 {
			c.ChecksumLen = 16
		}
		if variant&2 != 0 {
			c.VarintFlags = false
		}
		const bound = 64
		st, _ := walkIncStream(data, c, bound)
		if st.peakHeld >= bound {
			t.Fatalf("held %d entries, bound %d", st.peakHeld, bound)
		}
		parents := map[int32]bool{}
		for i, l := range st.lists {
			if i > 0 {
				if parents[l.parent] || l.parent < 0 {
					t.Fatalf("list %d for directory %d, which had one", i, l.parent)
				}
				parents[l.parent] = true
			}
			for _, e := range l.entries {
				if e.Name != "." {
					if err := flist.CheckName(e.Name); err != nil {
						t.Fatalf("accepted %q: %v", e.Name, err)
					}
				}
				dir := ""
				if j := strings.LastIndexByte(e.Name, '/'); j >= 0 {
					dir = e.Name[:j]
				}
				if dir != l.dir {
					t.Fatalf("%q accepted in the list of %q", e.Name, l.dir)
				}
			}
		}
	})
}

// FuzzIncPull plays a server that negotiates incremental recursion and
// then sends arbitrary bytes, against a pull with delete into a
// destination beside a directory holding a file: the pull must end (an
// error or a result) without hanging or panicking, and nothing outside the
// destination may be written, changed or deleted.
func FuzzIncPull(f *testing.F) {
	for _, name := range incFuzzCaptures {
		data, _ := incCapture(f, name)
		f.Add(data)
	}
	top := incListSpec{-1, []*flist.Entry{dirEntry("."), dirEntry("a"), symlinkEntry("link", "../outside")}}
	f.Add(incStreamOf(f, []incListSpec{top, {1, []*flist.Entry{symlinkEntry("a/l", "x"), dirEntry("a/d")}}, {3, nil}}))
	f.Add(incStreamOf(f, []incListSpec{top, {1, nil}}, wire.NdxDone, wire.NdxDone, wire.NdxDone))
	f.Fuzz(func(t *testing.T, stream []byte) {
		root := t.TempDir()
		dest, outside := filepath.Join(root, "dest"), filepath.Join(root, "outside")
		if err := os.Mkdir(outside, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(outside, "precious"), []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
		// A symlink to outside where a server may describe a directory.
		if err := os.MkdirAll(dest, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(dest, "a")); err != nil {
			t.Fatal(err)
		}
		hung, _ := incScriptedPull(dest, sendStream(stream), Options{Delete: true})
		if hung {
			t.Fatal("the pull hung")
		}
		assertOutsideUntouched(t, dest, outside)
	})
}
