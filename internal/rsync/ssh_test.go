package rsync_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// sshTransport dials the test sshd the way the provider does.
func sshTransport(t testing.TB, srv *sshtest.Server) rsync.Transport {
	t.Helper()
	c, err := sshconn.Dial(context.Background(), sshconn.Config{
		Host: srv.Host, Port: srv.Port, User: srv.User,
		PrivateKeyFile: srv.ClientKeyFile, KnownHostsFile: srv.KnownHostsFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return sshconn.NewTransport(c)
}

// TestInteropOverSSH pushes, lists and pulls through a real OpenSSH sshd
// to rsync 3.5.0 at protocols 32, 31 and 30 (rsync_path "rsync
// --protocol=N", as a user would write it) and to rsync 3.2.7.
func TestInteropOverSSH(t *testing.T) {
	srv := sshtest.Start(t)
	tr := sshTransport(t, srv)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())
	paths := map[string]string{
		"3.5.0 p32": "rsync",
		"3.5.0 p31": "rsync --protocol=31",
		"3.5.0 p30": "rsync --protocol=30",
		"3.2.7":     sshtest.Rsync327(t),
	}
	for name, rsyncPath := range paths {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dst := filepath.Join(t.TempDir(), "dst")
			opts := rsync.Options{RsyncPath: rsyncPath, Delete: true}
			if _, err := rsync.Push(ctx, tr, src+"/", dst, opts); err != nil {
				t.Fatalf("push: %v", err)
			}
			if err := testtree.Compare(src, dst); err != nil {
				t.Fatal(err)
			}
			again, err := rsync.Push(ctx, tr, src+"/", dst, opts)
			if err != nil || again.Stats.FilesTransferred != 0 || again.Stats.LiteralBytes != 0 {
				t.Fatalf("second push did work: %+v, %v", again, err)
			}
			l, err := rsync.List(ctx, tr, dst+"/", rsync.Options{RsyncPath: rsyncPath, Checksum: true})
			if err != nil || len(l.Entries) != len(testtree.Rich())+1 {
				t.Fatalf("list: %d entries, %v", len(l.Entries), err)
			}
			back := filepath.Join(t.TempDir(), "back")
			if _, err := rsync.Pull(ctx, tr, dst+"/", back, opts); err != nil {
				t.Fatalf("pull: %v", err)
			}
			if err := testtree.Compare(src, back); err != nil {
				t.Fatal(err)
			}
		})
	}
}

var statsLine = regexp.MustCompile(`Total bytes (sent|received): ([\d,.]+)`)

// BenchmarkPullEdit pulls a 100 MB random file with a 31-byte overwrite in
// the middle, over the same sshd, with our engine and with the rsync CLI,
// and reports the bytes each moved and their ratio (issue 5: ≤ 1.05).
func BenchmarkPullEdit(b *testing.B) {
	size := 100 << 20
	if s := os.Getenv("PULL_BENCH_SIZE"); s != "" {
		size, _ = strconv.Atoi(s)
	}
	srv, err := sshtest.StartServer(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			b.Error(err)
		}
	}()
	tr := sshTransport(b, srv)
	dir := b.TempDir()
	remote := filepath.Join(dir, "remote")
	if err := os.Mkdir(remote, 0o755); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, size)
	seed := uint64(7)
	for i := range data { // xorshift: deterministic incompressible bytes
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		data[i] = byte(seed)
	}
	base := filepath.Join(dir, "base.bin")
	if err := os.WriteFile(base, data, 0o644); err != nil {
		b.Fatal(err)
	}
	copy(data[size/2:], "thirty-one bytes of new content")
	if err := os.WriteFile(filepath.Join(remote, "big.bin"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	mt := time.Unix(1700000000, 0)
	if err := os.Chtimes(filepath.Join(remote, "big.bin"), mt, mt); err != nil {
		b.Fatal(err)
	}
	fresh := func(name string) string {
		d := filepath.Join(dir, name)
		os.RemoveAll(d)
		if err := os.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
		data, _ := os.ReadFile(base)
		if err := os.WriteFile(filepath.Join(d, "big.bin"), data, 0o644); err != nil {
			b.Fatal(err)
		}
		return d
	}
	ssh := fmt.Sprintf("ssh -p %d -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes", srv.Port, srv.ClientKeyFile, srv.KnownHostsFile)
	var ours, theirs int64
	var literal int64
	for b.Loop() {
		b.StopTimer()
		local := fresh("ours")
		b.StartTimer()
		res, err := rsync.Pull(context.Background(), tr, remote+"/", local, rsync.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		ours, literal = res.Stats.BytesSent+res.Stats.BytesReceived, res.Stats.LiteralBytes
		local = fresh("theirs")
		out, err := exec.Command("rsync", "-a", "--stats", "-e", ssh, fmt.Sprintf("%s@127.0.0.1:%s/", srv.User, remote), local+"/").CombinedOutput()
		if err != nil {
			b.Fatalf("rsync CLI: %v: %s", err, out)
		}
		theirs = 0
		for _, m := range statsLine.FindAllStringSubmatch(string(out), -1) {
			n, _ := strconv.ParseInt(strings.NewReplacer(",", "", ".", "").Replace(m[2]), 10, 64)
			theirs += n
		}
		b.StartTimer()
	}
	if theirs == 0 {
		b.Fatal("could not read the rsync CLI's --stats")
	}
	b.ReportMetric(float64(ours), "bytes-ours")
	b.ReportMetric(float64(theirs), "bytes-rsync")
	b.ReportMetric(float64(ours)/float64(theirs), "bytes-ratio")
	b.ReportMetric(float64(literal), "literal-bytes")
	if r := float64(ours) / float64(theirs); r > 1.05 {
		b.Errorf("our pull moved %d bytes, %.3f× the rsync CLI's %d (goal ≤ 1.05)", ours, r, theirs)
	}
}
