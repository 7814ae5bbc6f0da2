package rsync

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// TestCaptureOnlyWriteBatch decodes the stock client's --only-write-batch
// push (testdata/captures/l-*: rsync 3.5.0 client, 3.5.0 and 3.2.7
// servers), the exchange the estimate (estimate.go) is built on:
//   - the server argv carries --only-write-batch=X, and the server offers
//     only md5;
//   - the server's generator sends a real sum head and block sums for the
//     changed file (2,000,000 bytes: 1421 blocks of 1408, remainder 640)
//     and an empty one for the new file;
//   - the client's stream after its file list is the echoes (ndx and
//     iflags) and the NDX_DONEs, nothing else: no sum head, no token, no
//     file checksum, not a byte of file data.
func TestCaptureOnlyWriteBatch(t *testing.T) {
	for _, name := range []string{"l-push-onlywritebatch", "l2-push-onlywritebatch-srv327"} {
		t.Run(name, func(t *testing.T) {
			c := loadCapture(t, name)
			if !strings.Contains(c.argv, " --only-write-batch=X ") || !strings.Contains(c.argv, " -logDtpre.LsfxCIvu ") {
				t.Fatalf("server argv %q", c.argv)
			}
			if got := string(c.s2c[7:10]); c.s2c[6] != 3 || got != "md5" {
				t.Fatalf("server checksum list %q, want just md5", c.s2c[6:10])
			}
			// Server → client: the generator's requests.
			r := wire.NewReader(bytes.NewReader(demux(t, c.s2c[c.s2cMux:])))
			var st wire.NdxState
			type request struct {
				ndx    int32
				iflags uint16
				head   [4]int32
			}
			var reqs []request
			dones := 0
			for r.Err() == nil && dones < 5 {
				ndx := r.ReadNdx(&st)
				if ndx == wire.NdxDone {
					dones++
					continue
				}
				q := request{ndx: ndx, iflags: r.Shortint()}
				if q.iflags&itemTransfer != 0 {
					for i := range q.head {
						q.head[i] = r.Int32()
					}
					r.Bytes(int(q.head[0])*(4+int(q.head[2])), 1<<20, "block sums")
				}
				reqs = append(reqs, q)
			}
			if r.Err() != nil || dones != 5 {
				t.Fatalf("decoding the requests: %v (%d NDX_DONEs)", r.Err(), dones)
			}
			want := []request{{1, 0x8008, [4]int32{1421, 1408, 2, 640}}, {2, 0xa000, [4]int32{}}}
			if len(reqs) != 2 || reqs[0] != want[0] || reqs[1] != want[1] {
				t.Fatalf("requests %+v, want %+v", reqs, want)
			}

			// Client → server: the file list, then only the echoes.
			cr := wire.NewReader(bytes.NewReader(demux(t, c.c2s[c.c2sMux:])))
			dec := flist.NewDecoder(flist.Codec{Protocol: 32, VarintFlags: true, PreserveUID: true, PreserveGID: true,
				PreserveLinks: true, PreserveDevices: true}, cr)
			n := 0
			for {
				e, err := dec.Next()
				if err != nil {
					t.Fatal(err)
				}
				if e == nil {
					break
				}
				n++
			}
			for range 2 {
				if _, err := flist.ReadIDList(cr, true, 10); err != nil {
					t.Fatal(err)
				}
			}
			var cst wire.NdxState
			var echoes []request
			dones = 0
			for cr.Err() == nil && dones < 4 {
				ndx := cr.ReadNdx(&cst)
				if ndx == wire.NdxDone {
					dones++
					continue
				}
				echoes = append(echoes, request{ndx: ndx, iflags: cr.Shortint()})
			}
			if cr.Err() != nil || n != 3 || len(echoes) != 2 || echoes[0].ndx != 1 || echoes[1].ndx != 2 {
				t.Fatalf("client stream: %d entries, echoes %+v, err %v", n, echoes, cr.Err())
			}
			if rest, _ := cr.Read(make([]byte, 1)); rest != 0 {
				t.Fatal("the client sent more than the echoes and NDX_DONEs")
			}
		})
	}
}
