package rsync

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// estimateSecret is the content of the file an estimate looks at: it must
// never appear in what the estimate writes to the server.
var estimateSecret = bytes.Repeat([]byte("estimate-secret:"), 200)

// estimateRequests is a well-formed stream of a server's generator in an
// estimate, after the handshake: a request for ndx 1 (the file; 0 is the
// root) with a sum head and sums, then the three phase ends and the
// goodbye of protocol 32.
func estimateRequests(head [4]int32, sums []byte) []byte {
	var b []byte
	var st wire.NdxState
	b = st.AppendNdx(b, 1)
	b = binary.LittleEndian.AppendUint16(b, itemTransfer)
	for _, v := range head {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	b = append(b, sums...)
	for range 5 {
		b = st.AppendNdx(b, wire.NdxDone)
	}
	return b
}

// FuzzEstimateRequests plays a server generator whose requests are
// arbitrary bytes against an EstimateOnly push: it must end (an error or a
// result) without hanging or panicking, and must never send file data —
// the estimate's only promise to the server besides writing nothing.
func FuzzEstimateRequests(f *testing.F) {
	f.Add(estimateRequests([4]int32{0, 0, 0, 0}, nil))
	sum1 := make([]byte, 4+2)
	f.Add(estimateRequests([4]int32{1, 700, 2, 0}, sum1))
	f.Add(estimateRequests([4]int32{1 << 30, 700, 2, 0}, nil))
	f.Add(estimateRequests([4]int32{2, 131072, 16, 5}, make([]byte, 2*20)))
	f.Add([]byte{0xff, 0x02, 0, 0, 0, 0, 0, 0})
	src := f.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a"), estimateSecret, 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, requests []byte) {
		_, written, hung, _ := estimateScripted(src, requests)
		if hung {
			t.Fatal("the estimate hung on the server's requests")
		}
		if bytes.Contains(written, estimateSecret[:64]) {
			t.Fatal("the estimate sent file data")
		}
	})
}

// estimateScripted runs an EstimateOnly push of src's file "a" against a
// server that answers the handshake and then sends requests; it returns
// the push's result and error, everything the push wrote after the
// handshake, and whether it had to be stopped.
func estimateScripted(src string, requests []byte) (res *Result, written []byte, hung bool, err error) {
	var mu sync.Mutex
	var got bytes.Buffer
	drained := make(chan struct{})
	tr := pipeTransport{serve: func(ctx context.Context, in io.Reader, out io.Writer) error {
		s := &session{log: hclog.NewNullLogger(), stderr: newTailBuffer(1)}
		s.out = wire.NewMuxWriter(out)
		s.w = wire.NewWriter(s.out)
		s.in = wire.NewMuxReader(in, s.handleMsg)
		s.r = wire.NewReader(s.in)
		if err := s.serverHandshake(Options{}); err != nil {
			close(drained)
			return err
		}
		go func() {
			defer close(drained)
			buf := make([]byte, 32<<10)
			for {
				n, err := in.Read(buf)
				mu.Lock()
				got.Write(buf[:n])
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
		s.w.Raw(requests)
		err := s.out.Flush()
		// End of the server's output, then wait for the client to be done
		// writing (it closes its side when it finishes or gives up).
		if c, ok := out.(io.Closer); ok {
			c.Close()
		}
		<-drained
		return err
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err = Push(ctx, tr, src+"/", "dst/", Options{Logger: hclog.NewNullLogger(), EstimateOnly: true, EstimatePaths: []string{"a"}})
	hung = ctx.Err() != nil
	<-drained
	mu.Lock()
	defer mu.Unlock()
	return res, got.Bytes(), hung, err
}

// TestEstimateScripted: the fuzzer's first seed is a complete estimate —
// no basis, so all of the file is literal — with only the echo sent.
func TestEstimateScripted(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a"), estimateSecret, 0o644); err != nil {
		t.Fatal(err)
	}
	res, written, hung, err := estimateScripted(src, estimateRequests([4]int32{0, 0, 0, 0}, nil))
	if err != nil || hung {
		t.Fatalf("estimate: %v (hung %v)", err, hung)
	}
	if len(res.Estimates) != 1 || res.Estimates[0].Path != "a" || res.Estimates[0].Literal != int64(len(estimateSecret)) || res.Estimates[0].Basis {
		t.Fatalf("estimates %+v, want all of a literal", res.Estimates)
	}
	if bytes.Contains(written, estimateSecret[:64]) {
		t.Fatal("the estimate sent file data")
	}
}
