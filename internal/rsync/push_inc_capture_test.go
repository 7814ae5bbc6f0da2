package rsync

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// TestIncCaptureLists rebuilds the tree of the inc-push captures
// (testdata/captures/make-inc-captures.sh: rsync 3.5.0 pushing -a --delete
// and -aH --delete with incremental recursion) and checks that our
// incremental sender's stream up to NDX_FLIST_EOF says what the stock
// client's says: the filter list, the first list, each directory's list
// behind NDX_FLIST_OFFSET - its number in the same order, the same
// entries in each with the same attributes, each uid/gid name once,
// inline, and -H's later names pointing at the same first name (whole,
// across lists). The stock client sends a directory's entries in
// readdir order and sorts afterwards (flist.c:send_file_list,
// send_extra_file_list); we send them sorted, so the bytes differ in
// order only, and each list is compared as a set.
func TestIncCaptureLists(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the captured tree is root-owned; run as root (CI does)")
	}
	src := filepath.Join(t.TempDir(), "src")
	writeCaptureTree(t, src)
	for _, c := range []struct {
		name      string
		hardLinks bool
	}{{"inc-push", false}, {"inc-push-H", true}} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "captures")
			c2s, err := os.ReadFile(filepath.Join(dir, c.name+".c2s.bin"))
			if err != nil {
				t.Fatal(err)
			}
			s2c, err := os.ReadFile(filepath.Join(dir, c.name+".s2c.bin"))
			if err != nil {
				t.Fatal(err)
			}
			// c2s: version, the checksum list, then framed data; s2c:
			// version, then the compat flags.
			want := demux(t, c2s[5+int(c2s[4]):])
			compat := wire.NewReader(bytes.NewReader(s2c[4:])).Varint()
			if compat&cfIncRecurse == 0 {
				t.Fatalf("the capture's server did not enable incremental recursion (compat %#x)", compat)
			}
			var got bytes.Buffer
			s := &session{w: wire.NewWriter(&got), protocol: 32, compat: uint32(compat), algo: csum.XXH128, log: hclog.NewNullLogger()}
			opts := Options{Delete: true, HardLinks: c.hardLinks}
			rules, err := newRules(opts)
			if err != nil {
				t.Fatal(err)
			}
			lister, top, err := flist.NewLister(src+"/", rules.Excluded, walkOptions(opts))
			if err != nil {
				t.Fatal(err)
			}
			x := &incSender{s: s, lister: lister, opts: opts, items: itemStrings{}}
			if err := x.begin(top, rules); err != nil {
				t.Fatal(err)
			}
			if err := x.sendExtra(minFileLookahead); err != nil {
				t.Fatal(err)
			}
			if !x.eof {
				t.Fatal("the sender did not reach NDX_FLIST_EOF")
			}
			stock := decodeIncLists(t, want, c.hardLinks)
			ours := decodeIncLists(t, got.Bytes(), c.hardLinks)
			if len(stock) < 5 {
				t.Fatalf("the capture decodes to %d lists, want one per directory", len(stock))
			}
			if strings.Join(ours, "\n") != strings.Join(stock, "\n") {
				t.Errorf("our lists differ from the stock client's:\nours:\n%s\nstock:\n%s", strings.Join(ours, "\n"), strings.Join(stock, "\n"))
			}
		})
	}
}

// writeCaptureTree makes the tree of make-inc-captures.sh.
func writeCaptureTree(t *testing.T, src string) {
	t.Helper()
	for _, d := range []string{"a/a1", "a/a2", "b", "empty"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"top.txt": "x\n", "a/f1": "y\n", "a/a1/g": "z\n", "b/h": "w\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("top.txt", filepath.Join(src, "lnk")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "a/f1"), filepath.Join(src, "b/hl")); err != nil {
		t.Fatal(err)
	}
	if err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode()&os.ModeSymlink != 0 {
			return nil // chmod would follow it
		}
		return os.Chmod(p, info.Mode().Perm())
	}); err != nil {
		t.Fatal(err)
	}
	// The times of everything, the symlink's own included.
	out, err := exec.Command("find", src, "-exec", "touch", "-h", "-d", "@1577836800", "{}", "+").CombinedOutput()
	if err != nil {
		t.Fatalf("touch: %v: %s", err, out)
	}
}

// decodeIncLists reads a sender's stream from the filter list to
// NDX_FLIST_EOF (protocol 32, varint flags, -logDtpr, -H when hardLinks)
// and describes it: one line per list, its marker and its entries sorted,
// each with its attributes; a hard link names its first name.
func decodeIncLists(t *testing.T, data []byte, hardLinks bool) []string {
	t.Helper()
	r := wire.NewReader(bytes.NewReader(data))
	if r.Int32() != 0 {
		t.Fatal("the filter list is not empty")
	}
	var lists []string
	var names []string // by wire index (each list's indexes follow the previous list's, plus one)
	var ndx wire.NdxState
	marker := "first"
	start := 1
	var lastName string
	var mode, mtime int64
	var uid, gid int64
	for {
		var entries []string
		n := 0
		for {
			flags := r.Varint()
			if flags == 0 {
				if e := r.Varint(); e != 0 {
					entries = append(entries, fmt.Sprintf("io_error %d", e))
				}
				break
			}
			l1 := 0
			if flags&(1<<5) != 0 {
				l1 = int(r.Byte())
			}
			var l2 int
			if flags&(1<<6) != 0 {
				l2 = int(r.Varint30(32))
			} else {
				l2 = int(r.Byte())
			}
			name := lastName[:l1] + string(r.Bytes(l2, 4096, "name"))
			lastName = name
			for len(names) < start+n {
				names = append(names, "")
			}
			names = append(names[:start+n], name)
			n++
			desc := name
			if flags&(1<<9) != 0 && flags&(1<<12) == 0 {
				first := int(r.Varint())
				desc += " hlink=" + names[first]
				if first >= start {
					entries = append(entries, desc)
					continue
				}
				desc += "(whole)"
			}
			size := r.Varlong30(3, 32)
			if flags&(1<<7) == 0 {
				mtime = r.Varlong(4)
			}
			if flags&(1<<13) != 0 {
				r.Varint()
			}
			if flags&(1<<1) == 0 {
				mode = int64(uint32(r.Int32()))
			}
			if flags&(1<<3) == 0 {
				uid = int64(r.Varint())
				if flags&(1<<10) != 0 {
					desc += " user=" + string(r.Bytes(int(r.Byte()), 255, "user"))
				}
			}
			if flags&(1<<4) == 0 {
				gid = int64(r.Varint())
				if flags&(1<<11) != 0 {
					desc += " group=" + string(r.Bytes(int(r.Byte()), 255, "group"))
				}
			}
			desc += fmt.Sprintf(" size=%d mtime=%d mode=%o uid=%d gid=%d", size, mtime, mode, uid, gid)
			if mode&flist.SIFMT == flist.SIFLNK {
				desc += " -> " + string(r.Bytes(int(r.Varint30(32)), 4096, "link"))
			}
			if flags&(1<<0) != 0 && mode&flist.SIFMT == flist.SIFDIR {
				desc += " top"
			}
			if flags&(1<<8) != 0 && mode&flist.SIFMT == flist.SIFDIR {
				desc += " no-content"
			}
			if flags&(1<<12) != 0 && hardLinks {
				desc += " hlink-first"
			}
			entries = append(entries, desc)
		}
		if err := r.Err(); err != nil {
			t.Fatalf("decode list %s: %v", marker, err)
		}
		slices.Sort(entries)
		lists = append(lists, marker+": "+strings.Join(entries, "; "))
		start += n + 1
		next := r.ReadNdx(&ndx)
		if err := r.Err(); err != nil {
			t.Fatalf("read the marker after list %s: %v", marker, err)
		}
		if next == wire.NdxFlistEOF {
			return lists
		}
		if next > wire.NdxFlistOffset {
			t.Fatalf("list %s is followed by index %d, not a list or NDX_FLIST_EOF", marker, next)
		}
		marker = fmt.Sprintf("dir %d", wire.NdxFlistOffset-next)
	}
}
