package rsync

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/delta"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// Local copies the local tree source to the local path dest, as
// `rsync -a source dest` between two local paths does: our receiver (the
// same code that pulls) talks to our sender, which plays the server, over
// a pair of pipes. As rsync between two local paths does, it copies
// changed files whole (Options.WholeFile): the delta saves no bytes that
// cross a network, and reading the old copy to checksum it costs more than
// copying.
func Local(ctx context.Context, source, dest string, opts Options) (*Result, error) {
	opts = withBackupExcluded(opts, dest)
	opts.WholeFile = true
	rules, err := newRules(opts)
	if err != nil {
		return nil, err
	}
	walk, err := flist.WalkWith(source, rules.Excluded, walkOptions(opts))
	if err != nil {
		return nil, err
	}
	t := pipeTransport{serve: func(ctx context.Context, in io.Reader, out io.Writer) error {
		return serveSender(ctx, in, out, walk, opts)
	}}
	return Pull(ctx, t, source, dest, opts)
}

// pipeTransport "starts" an in-process server (serve) in a goroutine
// instead of a remote command, joined to the client by two pipes.
type pipeTransport struct {
	serve func(ctx context.Context, in io.Reader, out io.Writer) error
}

func (t pipeTransport) Start(ctx context.Context, _ string) (Process, error) {
	c2sR, c2sW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s2cR, s2cW, err := os.Pipe()
	if err != nil {
		c2sR.Close()
		c2sW.Close()
		return nil, err
	}
	p := &localProcess{stdin: c2sW, stdout: s2cR, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = t.serve(ctx, c2sR, s2cW)
		if p.err != nil {
			p.code = 12
		}
		s2cW.Close()
		c2sR.Close()
	}()
	return p, nil
}

type localProcess struct {
	stdin  *os.File
	stdout *os.File
	done   chan struct{}
	code   int
	err    error
}

func (p *localProcess) Stdin() io.WriteCloser { return p.stdin }
func (p *localProcess) Stdout() io.Reader     { return p.stdout }
func (p *localProcess) Stderr() io.Reader     { return eofReader{} }
func (p *localProcess) Wait() (int, error) {
	<-p.done
	p.stdout.Close()
	if p.err != nil {
		return p.code, fmt.Errorf("local sender: %w", p.err)
	}
	return 0, nil
}
func (p *localProcess) Kill() error {
	p.stdin.Close()
	p.stdout.Close()
	return nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// serveSender is the server side of a pull, in process: the handshake as
// a server does it (compat.c:setup_protocol), the filter list in, the file
// list out, the requests answered, the stats and the goodbye
// (main.c:do_server_sender).
func serveSender(ctx context.Context, in io.Reader, out io.Writer, walk *flist.WalkResult, opts Options) error {
	s := &session{log: opts.Logger, stderr: newTailBuffer(1)}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	s.log = s.log.Named("local-sender")
	s.out = wire.NewMuxWriter(out)
	s.w = wire.NewWriter(s.out)
	s.in = wire.NewMuxReader(&flushingReader{r: in, flush: s.out.Flush}, s.handleMsg)
	s.r = wire.NewReader(s.in)
	stop := context.AfterFunc(ctx, func() {
		if c, ok := in.(io.Closer); ok {
			c.Close()
		}
	})
	defer stop()

	if err := s.serverHandshake(opts); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	// The client always sends a filter list to a sender; ours already
	// applied the same rules to the walk.
	for {
		n := s.r.Int32()
		if err := s.r.Err(); err != nil {
			return fmt.Errorf("read filter list: %w", err)
		}
		if n == 0 {
			break
		}
		s.r.Bytes(int(n), flist.MaxPathLen+16, "filter rule")
	}
	start := time.Now()
	if err := s.sendFileList(walk, opts); err != nil {
		return err
	}
	if len(walk.Entries) == 0 {
		return s.out.Flush()
	}
	if _, err := s.sendFiles(walk, opts); err != nil {
		return err
	}
	var total int64
	for _, e := range walk.Entries {
		if e.IsRegular() || e.IsSymlink() {
			total += e.Size
		}
	}
	// main.c:write_stats order: read, written, size, flist build/xfer ms.
	s.w.Varlong(s.r.Count(), 3)
	s.w.Varlong(s.out.Written(), 3)
	s.w.Varlong(total, 3)
	s.w.Varlong(max(1, time.Since(start).Milliseconds()), 3)
	s.w.Varlong(0, 3)
	if s.protocol >= 31 {
		if err := s.expectDone("goodbye"); err != nil {
			return err
		}
		s.writeNdx(wire.NdxDone)
	}
	if err := s.expectDone("final goodbye"); err != nil {
		return err
	}
	return s.out.Flush()
}

// serverHandshake is setup_protocol from the server's side.
func (s *session) serverHandshake(opts Options) error {
	s.w.Int32(DefaultProtocol)
	s.compat = cfSymlinkTimes | cfSafeFlist | cfChksumSeedFix | cfVarintFlistFlag | cfID0Names
	s.w.Varint(int32(s.compat))
	s.w.Vstring(csum.OfferString(csum.Offered))
	if opts.Compress {
		s.w.Vstring(compressionList(delta.OfferedCompressions))
	}
	if err := s.out.Flush(); err != nil {
		return err
	}
	theirs := int(s.r.Int32())
	if err := s.r.Err(); err != nil {
		return err
	}
	if theirs < MinProtocol {
		return fmt.Errorf("client protocol %d is too old", theirs)
	}
	s.protocol = min(theirs, DefaultProtocol)
	// The client's first choice that we support (3.2–3.4 server rule).
	algo, err := csum.Negotiate(csum.Offered, s.r.Vstring(1024))
	if err != nil {
		return err
	}
	s.algo = algo
	if opts.Compress {
		c, err := negotiateCompression(delta.OfferedCompressions, s.r.Vstring(1024))
		if err != nil {
			return err
		}
		s.compress = c
	}
	if err := s.r.Err(); err != nil {
		return err
	}
	var seed [4]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return err
	}
	s.seed = int32(binary.LittleEndian.Uint32(seed[:]))
	s.w.Int32(s.seed)
	if err := s.out.Enable(); err != nil {
		return err
	}
	s.in.Enable()
	return nil
}
