//go:build unix

package bench

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/bench/rusage"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/delta"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// benchFile is the size of the benchmarks' random file. Run them with
// go test ./internal/bench -run '^$' -bench . -benchtime 3x [-bench.file 20MB].
var benchFile = flag.String("bench.file", "100MB", "size of the random file in the delta benchmarks")

// TestMain lets the test binary act as the rusage launcher, so that
// BenchmarkPushEdit measures the rsync CLI as make bench does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == RusageCommand {
		os.Exit(rusage.Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// BenchmarkMatch is the delta matcher alone, in memory: the new version of
// a random file against the signature of the old one, with the block
// length and strong-sum length a stock receiver picks, xxh128 seeded.
// "edit31" has a 31-byte overwrite in the middle (every block but one or
// two matches at once); "rewritten" shares nothing with its basis, so the
// matcher rolls through every byte and probes the hash table at each.
func BenchmarkMatch(b *testing.B) {
	size := fileSize(b)
	old := randomBytes(size, 1)
	for _, tc := range []struct {
		name string
		new  []byte
	}{
		{"edit31", overwriteMiddle(old, 31)},
		{"rewritten", randomBytes(size, 2)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			head := delta.NewSumHead(int64(size), csum.XXH128.Len(), false)
			strong := func(dst, block []byte) []byte { return csum.XXH128.Block(dst, block, 0x5eed, true) }
			sig, err := delta.MakeSignature(bytes.NewReader(old), head, strong)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var st delta.MatchStats
			for b.Loop() {
				st, err = delta.Match(sig, strong, bytes.NewReader(tc.new), csum.XXH128.NewFile(), discardSink{})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(st.Literal), "literal-B")
			b.ReportMetric(float64(st.Literal)/float64(head.BlockLen), "literal-blocks")
		})
	}
}

// BenchmarkPushEdit is issue 3's delta-efficiency case on the wire: a
// random file (100 MB) whose remote copy differs by a 31-byte overwrite in
// the middle, pushed by our engine (in-process: dial + rsync.Push, the
// timed part) and by the rsync CLI, both through one counting proxy in
// front of one sshd. Reported per op: our bytes sent and the CLI's, their
// ratio (issue 3: ≤ 1.05), the same on the wire, our literal data in
// blocks (≤ 2), and the CLI's wall time and our ratio to it.
func BenchmarkPushEdit(b *testing.B) {
	for _, bin := range []string{"/usr/bin/rsync", "/usr/bin/ssh", sshtest.DefaultSSHD} {
		if _, err := os.Stat(bin); err != nil {
			b.Skipf("needs %s: %v", bin, err)
		}
	}
	ctx := b.Context()
	size := fileSize(b)
	dir := b.TempDir()
	base, edited, dst := filepath.Join(dir, "base"), filepath.Join(dir, "edited"), filepath.Join(dir, "dst")
	old := randomBytes(size, 1)
	mtime := epoch
	for _, d := range []struct {
		dir  string
		data []byte
	}{{base, old}, {edited, overwriteMiddle(old, 31)}} {
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			b.Fatal(err)
		}
		f := filepath.Join(d.dir, "big.bin")
		if err := os.WriteFile(f, d.data, 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Chtimes(f, mtime, mtime); err != nil {
			b.Fatal(err)
		}
		mtime = mtime.Add(time.Hour) // the edit is newer
	}
	sshdDir := filepath.Join(dir, "sshd")
	if err := os.Mkdir(sshdDir, 0o700); err != nil {
		b.Fatal(err)
	}
	srv, err := sshtest.StartServer(sshdDir)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			b.Error(err)
		}
	}()
	proxy, err := StartProxy(ctx, srv.Addr(), Link{})
	if err != nil {
		b.Fatal(err)
	}
	defer proxy.Close()
	known := filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(fmt.Sprintf("127.0.0.1:%d", proxy.Port()))}, srv.HostPublicKey)
	if err := os.WriteFile(known, []byte(line+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cli := CLIRunner{Rsync: "/usr/bin/rsync", SSH: "/usr/bin/ssh", Launch: Launcher{Argv: []string{exe, RusageCommand}}}
	job := Job{Source: edited, Dest: dst, Delete: true, UsageFile: filepath.Join(dir, "usage.json"), Endpoint: Endpoint{
		Host: "127.0.0.1", Port: proxy.Port(), User: srv.User, KeyFile: srv.ClientKeyFile,
		KnownHostsFile: known, HostKey: srv.HostKeyAuthorized,
	}}
	wire := func(run func()) int64 {
		up0, _ := proxy.Counters()
		run()
		if err := proxy.WaitIdle(ctx); err != nil {
			b.Fatal(err)
		}
		up1, _ := proxy.Counters()
		return up1 - up0
	}
	reset := func() {
		if err := resetDest(ctx, "/usr/bin/rsync", base, dst); err != nil {
			b.Fatal(err)
		}
	}

	var ours *rsync.Result
	var oursUp, cliUp int64
	var cliRun Run
	var cliWall time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		reset()
		b.StartTimer()
		oursUp = wire(func() {
			client, err := sshconn.Dial(ctx, sshconn.Config{Host: "127.0.0.1", Port: proxy.Port(), User: srv.User, PrivateKeyFile: srv.ClientKeyFile, HostKey: srv.HostKeyAuthorized})
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			if ours, err = rsync.Push(ctx, sshconn.NewTransport(client), edited+"/", dst+"/", rsync.Options{Delete: true}); err != nil {
				b.Fatal(err)
			}
		})
		b.StopTimer()
		reset()
		cliUp = wire(func() {
			if cliRun, err = cli.Run(ctx, job); err != nil {
				b.Fatal(err)
			}
		})
		cliWall += cliRun.Client.Wall
		b.StartTimer()
	}
	b.StopTimer()
	head := delta.NewSumHead(int64(size), 16, false)
	b.ReportMetric(float64(ours.Stats.BytesSent), "ours-sent-B")
	b.ReportMetric(float64(cliRun.Sent), "rsync-sent-B")
	b.ReportMetric(float64(ours.Stats.BytesSent)/float64(cliRun.Sent), "sent-ratio")
	b.ReportMetric(float64(oursUp)/float64(cliUp), "wire-up-ratio")
	b.ReportMetric(float64(ours.Stats.LiteralBytes)/float64(head.BlockLen), "literal-blocks")
	rsyncNs := float64(cliWall.Nanoseconds()) / float64(b.N)
	b.ReportMetric(rsyncNs, "rsync-ns/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rsyncNs, "wall-ratio")
}

func fileSize(b *testing.B) int {
	n, err := ParseSize(*benchFile)
	if err != nil || n < delta.MinBlockSize {
		b.Fatalf("-bench.file %q: %v (at least %d bytes)", *benchFile, err, delta.MinBlockSize)
	}
	return int(n)
}

func randomBytes(n int, seed uint64) []byte {
	p := make([]byte, n)
	_, _ = io.ReadFull(randomStream(seed, 0), p)
	return p
}

// overwriteMiddle returns a copy of p with n bytes in the middle changed.
func overwriteMiddle(p []byte, n int) []byte {
	q := bytes.Clone(p)
	rng := rand.New(rand.NewPCG(9, 9))
	off := len(q)/2 - n/2
	for i := off; i < off+n; i++ {
		q[i] ^= byte(1 + rng.IntN(255))
	}
	return q
}

type discardSink struct{}

func (discardSink) Literal([]byte) error      { return nil }
func (discardSink) Match(int32, []byte) error { return nil }
