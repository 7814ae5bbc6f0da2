package rsync

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// capture is one recorded exchange between a stock rsync client and
// server (testdata/captures, described in its README and NOTES.md).
type capture struct {
	name     string
	c2s, s2c []byte
	argv     string
	c2sMux   int // offset where client→server framing starts
	s2cMux   int
	walk     string // the decoded walk-through
}

var muxLine = regexp.MustCompile(`c2s: multiplexed from c2s@0x([0-9a-f]+) ; s2c: multiplexed from s2c@0x([0-9a-f]+)`)

func loadCapture(t *testing.T, name string) *capture {
	t.Helper()
	dir := filepath.Join("testdata", "captures")
	read := func(suffix string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name+suffix))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	c := &capture{name: name, c2s: read(".c2s.bin"), s2c: read(".s2c.bin"), argv: strings.TrimSpace(string(read(".argv.txt"))), walk: string(read(".txt"))}
	m := muxLine.FindStringSubmatch(c.walk)
	if m == nil {
		t.Fatalf("%s: no multiplex offsets in the walk-through", name)
	}
	a, _ := strconv.ParseInt(m[1], 16, 32)
	b, _ := strconv.ParseInt(m[2], 16, 32)
	c.c2sMux, c.s2cMux = int(a), int(b)
	return c
}

// demux returns the data stream of a framed direction; it skips the
// messages.
func demux(t *testing.T, framed []byte) []byte {
	t.Helper()
	mr := wire.NewMuxReader(bytes.NewReader(framed), func(wire.MsgTag, []byte) error { return nil })
	mr.Enable()
	var out bytes.Buffer
	if _, err := out.ReadFrom(mr); err != nil {
		t.Fatalf("demux: %v", err)
	}
	return out.Bytes()
}

// sortedOrder parses the "sorted order (ndx): 0=., 1=a.txt, …" line.
func (c *capture) sortedOrder(t *testing.T) []string {
	for _, line := range strings.Split(c.walk, "\n") {
		if rest, ok := strings.CutPrefix(line, "sorted order (ndx): "); ok {
			var names []string
			for _, item := range strings.Split(rest, ", ") {
				_, n, _ := strings.Cut(item, "=")
				names = append(names, n)
			}
			return names
		}
	}
	t.Fatalf("%s: no sorted order line", c.name)
	return nil
}

func (c *capture) compat(t *testing.T) uint32 {
	r := wire.NewReader(bytes.NewReader(c.s2c[4:]))
	v := uint32(r.Varint())
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	return v
}

// TestCaptureFileLists decodes every file list in the captures, checks the
// entries and the sort order against the walk-through, and re-encodes them
// in wire order to the exact bytes the stock client or server sent.
func TestCaptureFileLists(t *testing.T) {
	cases := []struct {
		name      string
		serverOut bool // the list goes server→client (pull, listing)
		filters   bool // a filter list precedes it (client→server)
	}{
		{"a-push-p32", false, false},
		{"b-push-p30", false, false},
		{"b2-push-p30-nov", false, false},
		{"b3-push-p31", false, false},
		{"d-push-delete", false, true},
		{"d2-push-delete-exclude", false, true},
		{"g-push-dryrun", false, true},
		{"i-push-srv327", false, false},
		{"e-pull", true, false},
		{"e2-pull-p30", true, false},
		{"f-list-c", true, false},
		{"f2-list-ac", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCapture(t, tc.name)
			proto := min(int(int32(leUint32(c.c2s))), int(int32(leUint32(c.s2c))))
			compat := c.compat(t)
			flags := strings.Fields(c.argv)
			var letters string
			for _, f := range flags {
				if strings.HasPrefix(f, "-") && !strings.HasPrefix(f, "--") {
					letters, _, _ = strings.Cut(f[1:], "e")
				}
			}
			algo := csum.MD5
			if compat&cfVarintFlistFlag != 0 {
				algo = csum.XXH128
			}
			codec := flist.Codec{
				Protocol:         proto,
				VarintFlags:      compat&cfVarintFlistFlag != 0,
				PreserveUID:      strings.Contains(letters, "o"),
				PreserveGID:      strings.Contains(letters, "g"),
				PreserveLinks:    strings.Contains(letters, "l"),
				PreserveDevices:  strings.Contains(letters, "D"),
				PreserveSpecials: strings.Contains(letters, "D"),
			}
			if strings.Contains(letters, "c") {
				codec.ChecksumLen = algo.Len()
			}
			var stream []byte
			if tc.serverOut {
				stream = demux(t, c.s2c[c.s2cMux:])
			} else {
				stream = demux(t, c.c2s[c.c2sMux:])
			}
			r := wire.NewReader(bytes.NewReader(stream))
			if tc.filters {
				for {
					n := r.Int32()
					if n == 0 || r.Err() != nil {
						break
					}
					r.Bytes(int(n), 1024, "rule")
				}
			}
			start := r.Count()
			dec := flist.NewDecoder(codec, r)
			var entries []*flist.Entry
			for {
				e, err := dec.Next()
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if e == nil {
					break
				}
				entries = append(entries, e)
			}
			end := r.Count()
			uids, err := flist.ReadIDList(r, compat&cfID0Names != 0, 100)
			if codec.PreserveUID && err != nil {
				t.Fatalf("uid list: %v", err)
			}
			_ = uids

			// Re-encode in the same (wire) order: identical bytes.
			var buf bytes.Buffer
			w := wire.NewWriter(&buf)
			enc := flist.NewEncoder(codec, w)
			for _, e := range entries {
				if err := enc.Encode(e); err != nil {
					t.Fatal(err)
				}
			}
			if err := enc.End(dec.IOError); err != nil {
				t.Fatal(err)
			}
			if want := stream[start:end]; !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("re-encoded list differs:\n got %s\nwant %s", hex.EncodeToString(buf.Bytes()), hex.EncodeToString(want))
			}

			// The sort order both sides use for ndx.
			sorted := append([]*flist.Entry(nil), entries...)
			flist.Sort(sorted)
			var got []string
			for _, e := range sorted {
				got = append(got, e.Name)
			}
			if want := c.sortedOrder(t); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("sorted order\n got %v\nwant %v", got, want)
			}

			byName := map[string]*flist.Entry{}
			for _, e := range entries {
				byName[e.Name] = e
			}
			if e := byName["empty"]; e != nil && proto >= 31 && e.ModNsec != 123456789 {
				t.Errorf("empty: nsec %d, want 123456789", e.ModNsec)
			}
			if e := byName["link"]; e != nil && codec.PreserveLinks && e.LinkTarget != "a.txt" {
				t.Errorf("link target %q", e.LinkTarget)
			}
			if e := byName["a.txt"]; e != nil {
				if e.Size != 13 || e.ModTime != 1577934245 || e.Mode != 0o100644 {
					t.Errorf("a.txt decoded as %+v", e)
				}
				if codec.ChecksumLen > 0 && hex.EncodeToString(e.Checksum) != "c71d15d454b48c8d6ce402d37fb78f17" {
					t.Errorf("a.txt list checksum %x", e.Checksum)
				}
			}
		})
	}
}

func leUint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// TestCaptureWholeFileSum checks our xxh128 against the stock client's
// whole-file checksum of "hello, rsync\n" (a-push-p32 c2s@0x141).
func TestCaptureWholeFileSum(t *testing.T) {
	h := csum.XXH128.NewFile()
	h.Write([]byte("hello, rsync\n"))
	if got := hex.EncodeToString(h.Sum(nil)); got != "c71d15d454b48c8d6ce402d37fb78f17" {
		t.Fatalf("xxh128 = %s", got)
	}
	c := loadCapture(t, "a-push-p32")
	if !bytes.Contains(c.c2s, h.Sum(nil)) {
		t.Fatal("the capture does not contain our digest")
	}
}
