//go:build unix

package rsync

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// TestHostileServerLinksAndSpecials: a hostile sender's hard links and
// special files cannot write outside the destination either: a later
// hard link, a fifo or a device under a symlink it listed is refused, and
// a hard-link index that names no earlier first entry ends the pull.
func TestHostileServerLinksAndSpecials(t *testing.T) {
	symlinkTo := func(outside string) *flist.Entry {
		return &flist.Entry{Name: "link", Mode: flist.SIFLNK | 0o777, Size: int64(len(outside)), ModTime: 1600000000, LinkTarget: outside}
	}
	cases := []hostileCase{
		{"hard link under a symlink", func(t *testing.T, src, outside string) []*flist.Entry {
			first := regular(t, src, "a", "content")
			first.HlinkGroup = 7
			later := regular(t, src, "link/b", "content")
			later.HlinkGroup = 7
			return []*flist.Entry{dirEntry("."), first, symlinkTo(outside), later}
		}, "symlink"},
		{"fifo under a symlink", func(t *testing.T, src, outside string) []*flist.Entry {
			return []*flist.Entry{dirEntry("."), symlinkTo(outside), {Name: "link/fifo", Mode: flist.SIFIFO | 0o644, ModTime: 1600000000}}
		}, "symlink"},
		{"device under a symlink", func(t *testing.T, src, outside string) []*flist.Entry {
			return []*flist.Entry{dirEntry("."), symlinkTo(outside), {Name: "link/null", Mode: flist.SIFCHR | 0o666, ModTime: 1600000000, RdevMajor: 1, RdevMinor: 3}}
		}, "symlink"},
	}
	opts := Options{HardLinks: true, Logger: hclog.NewNullLogger()}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outside := t.TempDir()
			dest := filepath.Join(t.TempDir(), "dest")
			src := filepath.Join(t.TempDir(), "src")
			entries := tc.entries(t, src, outside)
			flist.Sort(entries)
			walk := &flist.WalkResult{Entries: entries, Root: src + "/"}
			tr := pipeTransport{serve: func(ctx context.Context, in io.Reader, out io.Writer) error {
				return serveSender(ctx, in, out, walk, opts)
			}}
			_, err := Pull(context.Background(), tr, "src/", dest, opts)
			if err == nil {
				t.Fatal("the pull succeeded")
			}
			if !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error %q does not mention %q", err, tc.errText)
			}
			assertEmpty(t, outside)
		})
	}

	t.Run("hard-link index out of range", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "dest")
		_, err := Pull(context.Background(), rawServer(func(s *session, raw io.Writer) error {
			enc := flist.NewEncoder(listCodec(s, opts), s.w)
			if err := enc.Encode(dirEntry(".")); err != nil {
				return err
			}
			s.w.Varint(1 << 9) // XMIT_HLINKED without XMIT_HLINK_FIRST
			s.w.Byte(1)
			s.w.Raw([]byte("x"))
			s.w.Varint(1 << 30)
			return nil
		}), "src/", dest, opts)
		if err == nil || !strings.Contains(err.Error(), "not the first of a hard-link set") {
			t.Fatalf("err %v, want the index refused", err)
		}
	})
}
