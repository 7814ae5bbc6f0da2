package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Link is the emulated network path between the tools and sshd, the same
// in each direction.
type Link struct {
	BitsPerSec int64         // 0: unlimited
	Delay      time.Duration // one-way delay
}

// Shaped reports whether the link limits or delays anything.
func (l Link) Shaped() bool { return l.BitsPerSec > 0 || l.Delay > 0 }

func (l Link) String() string {
	if !l.Shaped() {
		return "loopback (unthrottled)"
	}
	rate := "unlimited"
	if l.BitsPerSec > 0 {
		rate = FormatRate(l.BitsPerSec)
	}
	return fmt.Sprintf("%s, %v each way", rate, l.Delay)
}

// Proxy forwards TCP connections from a port on 127.0.0.1 to target,
// counting the bytes in each direction; a shaped Link throttles each
// direction with a token bucket and delays it by a fixed time. Both tools
// connect through the same proxy, so its counts are the bytes on the wire
// measured the same way for both.
type Proxy struct {
	link   Link
	target string
	ln     *net.TCPListener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	up, down atomic.Int64 // client→server, server→client

	mu         sync.Mutex
	active     int
	idle       chan struct{} // closed when active drops to 0
	handshakes []Handshake
	errs       []error
}

// Chunking of a shaped link: each read is at most chunkSize bytes, the
// token bucket holds at most burstBytes, and at most queueChunks chunks are
// in flight in the delay line (16 MiB: far above 100 Mbit/s × 10 ms).
const (
	chunkSize   = 16 << 10
	burstBytes  = 32 << 10
	queueChunks = 1024
)

// StartProxy listens on 127.0.0.1 (a free port) and forwards to target
// (host:port on loopback). Close stops it.
func StartProxy(ctx context.Context, target string, link Link) (*Proxy, error) {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("proxy: target %q: %w", target, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("proxy: target %q is not a loopback address", target)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy: listen: %w", err)
	}
	tl, ok := l.(*net.TCPListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("proxy: listener is %T, not TCP", l)
	}
	p := &Proxy{link: link, target: target, ln: tl}
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Port is the proxy's port on 127.0.0.1.
func (p *Proxy) Port() int {
	addr, ok := p.ln.Addr().(*net.TCPAddr)
	if !ok {
		return 0
	}
	return addr.Port
}

// Link is the link the proxy emulates.
func (p *Proxy) Link() Link { return p.link }

// Counters returns the bytes forwarded so far, client→server and
// server→client. They are complete for a connection once it has closed
// (see WaitIdle).
func (p *Proxy) Counters() (up, down int64) { return p.up.Load(), p.down.Load() }

// WaitIdle waits until no connection is open.
func (p *Proxy) WaitIdle(ctx context.Context) error {
	p.mu.Lock()
	if p.active == 0 {
		p.mu.Unlock()
		return nil
	}
	ch := p.idle
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("proxy: waiting for connections to close: %w", ctx.Err())
	}
}

// Handshakes returns the negotiation seen on each connection closed so
// far, oldest first, from index from on.
func (p *Proxy) Handshakes(from int) []Handshake {
	p.mu.Lock()
	defer p.mu.Unlock()
	if from >= len(p.handshakes) {
		return nil
	}
	return append([]Handshake(nil), p.handshakes[from:]...)
}

// Errors returns the forwarding errors seen so far (a connection that
// failed inside the proxy, not a tool's own error).
func (p *Proxy) Errors() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.errs...)
}

// Close stops accepting, cuts open connections and waits for the proxy's
// goroutines.
func (p *Proxy) Close() error {
	p.cancel()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.AcceptTCP()
		if err != nil {
			if p.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				p.fail(fmt.Errorf("proxy: accept: %w", err))
			}
			return
		}
		p.mu.Lock()
		if p.active == 0 {
			p.idle = make(chan struct{})
		}
		p.active++
		p.mu.Unlock()
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *Proxy) fail(err error) {
	p.mu.Lock()
	p.errs = append(p.errs, err)
	p.mu.Unlock()
}

// handle forwards one connection in both directions until both have ended.
func (p *Proxy) handle(client *net.TCPConn) {
	defer p.wg.Done()
	var hs Handshake
	defer func() {
		p.mu.Lock()
		p.handshakes = append(p.handshakes, hs)
		p.active--
		if p.active == 0 {
			close(p.idle)
		}
		p.mu.Unlock()
	}()
	d := net.Dialer{Timeout: 10 * time.Second}
	sc, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		client.Close()
		p.fail(fmt.Errorf("proxy: connect to %s: %w", p.target, err))
		return
	}
	server, ok := sc.(*net.TCPConn)
	if !ok {
		client.Close()
		sc.Close()
		p.fail(fmt.Errorf("proxy: connection to %s is %T", p.target, sc))
		return
	}
	var once sync.Once
	abort := func() {
		once.Do(func() {
			client.Close()
			server.Close()
		})
	}
	stop := context.AfterFunc(p.ctx, abort)
	defer stop()

	var cs, ss sniffer
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.pipe(server, client, &p.up, &cs, abort, "client→server")
	}()
	go func() {
		defer wg.Done()
		p.pipe(client, server, &p.down, &ss, abort, "server→client")
	}()
	wg.Wait()
	abort()
	hs = negotiate(&cs, &ss)
}

// pipe forwards one direction; at src's EOF it half-closes dst so the peer
// sees the end, as a direct connection would.
func (p *Proxy) pipe(dst, src *net.TCPConn, counter *atomic.Int64, sn *sniffer, abort func(), dir string) {
	var err error
	if p.link.Shaped() {
		err = p.forwardShaped(dst, src, counter, sn, abort)
	} else {
		err = forwardDirect(dst, src, counter, sn)
	}
	if err != nil {
		if p.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
			p.fail(fmt.Errorf("proxy %s: %w", dir, err))
		}
		abort()
		return
	}
	_ = dst.CloseWrite()
}

// forwardDirect copies src to dst: the first bytes through the sniffer,
// the rest with io.Copy, which splices socket to socket in the kernel.
func forwardDirect(dst, src *net.TCPConn, counter *atomic.Int64, sn *sniffer) error {
	buf := make([]byte, chunkSize)
	for !sn.done { // bounded: the sniffer gives up after maxSniff bytes
		n, err := src.Read(buf)
		if n > 0 {
			sn.feed(buf[:n])
			m, werr := dst.Write(buf[:n])
			counter.Add(int64(m))
			if werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	n, err := io.Copy(dst, src)
	counter.Add(n)
	return err
}

// chunk is a piece of the stream in the delay line.
type chunk struct {
	buf *[]byte
	n   int
	due time.Time
}

var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, chunkSize)
	return &b
}}

// forwardShaped reads src as fast as the token bucket allows and stamps
// each chunk with the time it may leave; a second goroutine writes chunks
// to dst when they are due. Reading never waits for the delay, so a slow
// or delayed direction holds up neither the other direction nor the data
// behind it (the delay is latency, not a throughput limit).
func (p *Proxy) forwardShaped(dst, src *net.TCPConn, counter *atomic.Int64, sn *sniffer, abort func()) error {
	queue := make(chan chunk, queueChunks)
	written := make(chan error, 1)
	go func() {
		var werr error
		for c := range queue {
			if werr == nil {
				werr = sleepUntil(p.ctx, c.due)
			}
			if werr == nil {
				var m int
				m, werr = dst.Write((*c.buf)[:c.n])
				counter.Add(int64(m))
				if werr != nil {
					abort() // unblocks the reader
				}
			}
			chunkPool.Put(c.buf)
		}
		written <- werr
	}()
	tb := newBucket(p.link.BitsPerSec)
	var rerr error
	for {
		bp, ok := chunkPool.Get().(*[]byte)
		if !ok {
			rerr = errors.New("chunk pool holds a foreign value")
			break
		}
		n, err := src.Read(*bp)
		if n > 0 {
			sn.feed((*bp)[:n])
			if werr := tb.take(p.ctx, n); werr != nil {
				chunkPool.Put(bp)
				rerr = werr
				break
			}
			queue <- chunk{buf: bp, n: n, due: time.Now().Add(p.link.Delay)}
		} else {
			chunkPool.Put(bp)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rerr = err
			}
			break
		}
	}
	close(queue)
	werr := <-written
	return errors.Join(rerr, werr)
}

// bucket is a token bucket in bytes; a take that overdraws it sleeps until
// the debt is paid, so the long-run rate is exact whatever the timer slack.
type bucket struct {
	rate   float64 // bytes per second; 0: unlimited
	tokens float64
	last   time.Time
}

func newBucket(bitsPerSec int64) *bucket {
	return &bucket{rate: float64(bitsPerSec) / 8, tokens: burstBytes, last: time.Now()}
}

func (b *bucket) take(ctx context.Context, n int) error {
	if b.rate == 0 {
		return nil
	}
	now := time.Now()
	b.tokens = min(burstBytes, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return nil
	}
	return sleepUntil(ctx, now.Add(time.Duration(-b.tokens/b.rate*float64(time.Second))))
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
