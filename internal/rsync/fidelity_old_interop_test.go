//go:build unix

package rsync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// TestInteropOldDevicesSpecials: -D below protocol 30, where rdevs travel
// in the old encodings (flist.c:send_file_entry): below 28 a whole 32-bit
// dev_t that any other entry resets to zero on both sides, at 28–29 a
// major and a one-byte or four-byte minor. The tree has two devices with
// one rdev separated by a regular file (the reset), a minor above 255 and
// fifos and sockets (a filler rdev); push and pull against both stock
// servers forced down to 29, 28 and 27 land every device with its rdev,
// and a second run changes nothing.
func TestInteropOldDevicesSpecials(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root to make device files; CI runs as root")
	}
	src := filepath.Join(t.TempDir(), "src")
	mustWrite(t, filepath.Join(src, "b.txt"), "between the devices")
	for i, n := range []struct {
		name string
		mode uint32
		dev  uint64
	}{
		{"a-null", unix.S_IFCHR | 0o666, unix.Mkdev(1, 3)},
		{"c-null", unix.S_IFCHR | 0o666, unix.Mkdev(1, 3)},
		{"d-big", unix.S_IFBLK | 0o600, unix.Mkdev(8, 300)},
		{"e-fifo", unix.S_IFIFO | 0o640, 0},
		{"f-blk", unix.S_IFBLK | 0o600, unix.Mkdev(8, 300)},
		{"g-sock", unix.S_IFSOCK | 0o600, 0},
	} {
		p := filepath.Join(src, n.name)
		if err := unix.Mknod(p, n.mode, int(n.dev)); err != nil { //nolint:gosec // G115: small test numbers
			t.Fatalf("mknod %s: %v", p, err)
		}
		if err := unix.Chmod(p, n.mode&0o7777); err != nil {
			t.Fatal(err)
		}
		mt := time.Unix(1600000000+int64(i), 0)
		ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
	wholeSeconds(t, src)
	for _, srv := range servers(t) {
		for _, proto := range []int{29, 28, 27} {
			rsyncPath := fmt.Sprintf("%s --protocol=%d", srv.path, proto)
			for _, dir := range []string{"push", "pull"} {
				t.Run(fmt.Sprintf("%s/%s/p%d", dir, srv.version, proto), func(t *testing.T) {
					t.Parallel()
					ctx := context.Background()
					dst := filepath.Join(t.TempDir(), "dst")
					opts := Options{Delete: true, RsyncPath: rsyncPath, Logger: testLogger(t)}
					run := func() (*Result, error) {
						if dir == "push" {
							return Push(ctx, ExecTransport{}, src+"/", dst+"/", opts)
						}
						return Pull(ctx, ExecTransport{}, src+"/", dst, opts)
					}
					if _, err := run(); err != nil {
						t.Fatal(err)
					}
					if err := testtree.Compare(src, dst); err != nil {
						t.Fatal(err)
					}
					sameRdevs(t, src, dst)
					again, err := run()
					if err != nil {
						t.Fatal(err)
					}
					if len(again.Changes) != 0 {
						t.Errorf("second run changed %+v", again.Changes)
					}
				})
			}
		}
	}
}

// TestInteropOldHardLinksRefused: below protocol 30 hard links travel as
// device and inode pairs, which the engine does not implement: -H against
// such a server fails at the handshake, before anything is sent, with an
// UnsupportedError naming the protocol and the option, and the
// destination is left untouched.
func TestInteropOldHardLinksRefused(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	mustWrite(t, filepath.Join(src, "a"), "shared")
	if err := os.Link(filepath.Join(src, "a"), filepath.Join(src, "b")); err != nil {
		t.Fatal(err)
	}
	for _, srv := range servers(t) {
		for _, proto := range []int{29, 27} {
			t.Run(fmt.Sprintf("%s/p%d", srv.version, proto), func(t *testing.T) {
				t.Parallel()
				dst := filepath.Join(t.TempDir(), "dst")
				opts := Options{HardLinks: true, RsyncPath: fmt.Sprintf("%s --protocol=%d", srv.path, proto), Logger: testLogger(t)}
				for name, run := range map[string]func() (*Result, error){
					"push": func() (*Result, error) { return Push(context.Background(), ExecTransport{}, src+"/", dst+"/", opts) },
					"pull": func() (*Result, error) { return Pull(context.Background(), ExecTransport{}, src+"/", dst, opts) },
				} {
					_, err := run()
					var unsupported *UnsupportedError
					if !errors.As(err, &unsupported) || unsupported.Protocol != proto || unsupported.Option != "-H (hard_links)" {
						t.Fatalf("%s with -H at protocol %d: %v; want an UnsupportedError for -H", name, proto, err)
					}
					if _, err := os.Lstat(filepath.Join(dst, "a")); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("%s: the refused transfer left %s/a behind (%v)", name, dst, err)
					}
				}
			})
		}
	}
}
