package rsync

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// A hostile server decides what our receiver is told to write. These tests
// play such a server (our own sender, fed a crafted file list, or raw
// bytes after a correct handshake) and check that every attempt is
// rejected with an error and that nothing appears outside the destination.

type hostileCase struct {
	name    string
	entries func(t *testing.T, src, outside string) []*flist.Entry
	errText string
}

// regular lists a regular file and writes its content where a sender with
// root src reads it (flist.WalkResult.LocalPath: src + "/" + name, taken
// literally even when the name is hostile, as the sender takes it).
func regular(t *testing.T, src, name, content string) *flist.Entry {
	t.Helper()
	p := src + "/" + name
	if err := os.MkdirAll(p[:strings.LastIndex(p, "/")], 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return &flist.Entry{Name: name, Mode: flist.SIFREG | 0o644, Size: int64(len(content)), ModTime: 1600000000}
}

func dirEntry(name string) *flist.Entry {
	return &flist.Entry{Name: name, Mode: flist.SIFDIR | 0o755, Size: 4096, ModTime: 1600000000, TopDir: name == "."}
}

func TestHostileServerFileLists(t *testing.T) {
	cases := []hostileCase{
		{"dot-dot path", func(t *testing.T, src, outside string) []*flist.Entry {
			return []*flist.Entry{dirEntry("."), regular(t, src, "../escape.txt", "pwned")}
		}, "unsafe"},
		{"deep dot-dot path", func(t *testing.T, src, outside string) []*flist.Entry {
			return []*flist.Entry{dirEntry("."), dirEntry("a"), regular(t, src, "a/../../escape.txt", "pwned")}
		}, "unsafe"},
		{"absolute path", func(t *testing.T, src, outside string) []*flist.Entry {
			return []*flist.Entry{dirEntry("."), regular(t, src, filepath.Join(outside, "abs.txt"), "pwned")}
		}, "absolute"},
		{"symlink then file through it", func(t *testing.T, src, outside string) []*flist.Entry {
			return []*flist.Entry{
				dirEntry("."),
				{Name: "link", Mode: flist.SIFLNK | 0o777, Size: int64(len(outside)), ModTime: 1600000000, LinkTarget: outside},
				regular(t, src, "link/pwned.txt", "pwned"),
			}
		}, "symlink"},
		{"symlink then directory through it", func(t *testing.T, src, outside string) []*flist.Entry {
			return []*flist.Entry{
				dirEntry("."),
				{Name: "link", Mode: flist.SIFLNK | 0o777, Size: int64(len(outside)), ModTime: 1600000000, LinkTarget: outside},
				dirEntry("link/sub"),
				regular(t, src, "link/sub/pwned.txt", "pwned"),
			}
		}, "symlink"},
		{"file with no parent in the list", func(t *testing.T, src, outside string) []*flist.Entry {
			return []*flist.Entry{dirEntry("."), regular(t, src, "missing/parent.txt", "x")}
		}, "parent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outside := t.TempDir()
			dest := filepath.Join(t.TempDir(), "dest")
			src := filepath.Join(t.TempDir(), "src")
			entries := tc.entries(t, src, outside)
			flist.Sort(entries)
			walk := &flist.WalkResult{Entries: entries, Root: src + "/"}
			tr := pipeTransport{serve: func(ctx context.Context, in io.Reader, out io.Writer) error {
				return serveSender(ctx, in, out, walk, Options{})
			}}
			_, err := Pull(context.Background(), tr, "src/", dest, Options{Logger: hclog.NewNullLogger()})
			if err == nil {
				t.Fatal("the pull succeeded")
			}
			if !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error %q does not mention %q", err, tc.errText)
			}
			assertEmpty(t, outside)
			if _, err := os.Stat(filepath.Join(filepath.Dir(dest), "escape.txt")); err == nil {
				t.Error("escape.txt was written beside the destination")
			}
		})
	}
}

// TestHostileServerPreexistingSymlink: a symlink already in the
// destination that points outside is not written through either.
func TestHostileServerPreexistingSymlink(t *testing.T) {
	outside := t.TempDir()
	dest := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dest, "link")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src")
	entries := []*flist.Entry{dirEntry("."), dirEntry("link"), regular(t, src, "link/pwned.txt", "pwned")}
	// A directory named like the symlink: the receiver must not take the
	// existing symlink for that directory.
	walk := &flist.WalkResult{Entries: entries, Root: src + "/"}
	tr := pipeTransport{serve: func(ctx context.Context, in io.Reader, out io.Writer) error {
		return serveSender(ctx, in, out, walk, Options{})
	}}
	_, err := Pull(context.Background(), tr, "src/", dest, Options{Logger: hclog.NewNullLogger()})
	if err != nil && !errors.Is(err, errUnsafePath) && !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("unexpected error: %v", err)
	}
	assertEmpty(t, outside)
}

// rawServer answers the handshake correctly, then writes whatever script
// writes.
func rawServer(script func(s *session, raw io.Writer) error) pipeTransport {
	return pipeTransport{serve: func(ctx context.Context, in io.Reader, out io.Writer) error {
		s := &session{log: hclog.NewNullLogger(), stderr: newTailBuffer(1)}
		s.out = wire.NewMuxWriter(out)
		s.w = wire.NewWriter(s.out)
		s.in = wire.NewMuxReader(&flushingReader{r: in, flush: s.out.Flush}, s.handleMsg)
		s.r = wire.NewReader(s.in)
		if err := s.serverHandshake(Options{}); err != nil {
			return err
		}
		for { // filter list
			n := s.r.Int32()
			if s.r.Err() != nil || n == 0 {
				break
			}
			s.r.Bytes(int(n), 4096, "rule")
		}
		if err := script(s, out); err != nil {
			return err
		}
		return s.out.Flush()
	}}
}

func TestHostileServerAbsurdLengths(t *testing.T) {
	cases := []struct {
		name   string
		script func(s *session, raw io.Writer) error
		text   string
	}{
		{"name length beyond MAXPATHLEN", func(s *session, raw io.Writer) error {
			s.w.Varint(0x40) // XMIT_LONG_NAME
			s.w.Varint(1 << 30)
			return nil
		}, "exceeds"},
		{"symlink target of 2 GiB", func(s *session, raw io.Writer) error {
			e := &flist.Entry{Name: "l", Mode: flist.SIFLNK | 0o777, ModTime: 1}
			enc := flist.NewEncoder(flist.Codec{Protocol: 32, VarintFlags: true, PreserveUID: true, PreserveGID: true, PreserveDevices: true, PreserveSpecials: true}, s.w)
			if err := enc.Encode(e); err != nil {
				return err
			}
			s.w.Varint(1<<31 - 1)
			return nil
		}, "symlink target length"},
		{"16 MiB message frame", func(s *session, raw io.Writer) error {
			if err := s.out.Flush(); err != nil {
				return err
			}
			hdr := []byte{0xff, 0xff, 0xff, byte(7 + wire.MsgInfo)}
			_, err := raw.Write(hdr)
			return err
		}, "exceeds"},
		{"huge id list", func(s *session, raw io.Writer) error {
			enc := flist.NewEncoder(flist.Codec{Protocol: 32, VarintFlags: true, PreserveUID: true, PreserveGID: true, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true}, s.w)
			if err := enc.Encode(dirEntry(".")); err != nil {
				return err
			}
			if err := enc.End(0); err != nil {
				return err
			}
			for i := 1; i < 100; i++ {
				s.w.Varint(int32(i))
				s.w.Byte(3)
				s.w.Raw([]byte("abc"))
			}
			return nil
		}, "id list longer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "dest")
			_, err := Pull(context.Background(), rawServer(tc.script), "src/", dest, Options{Logger: hclog.NewNullLogger()})
			if err == nil {
				t.Fatal("the pull succeeded")
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not mention %q", err, tc.text)
			}
		})
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(des) != 0 {
		var names []string
		for _, d := range des {
			names = append(names, d.Name())
		}
		t.Fatalf("files appeared outside the destination: %v", names)
	}
}
