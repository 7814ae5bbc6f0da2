package sshtest

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards TCP connections from a port on 127.0.0.1 to a target
// address, counting the connections it accepts, and lets a test stall or
// cut them: the faults a network path produces, without root or tc.
type Proxy struct {
	Host string // "127.0.0.1"
	Port int

	target   string
	ln       net.Listener
	accepted atomic.Int64

	mu sync.Mutex
	// Per direction (0: client to target, 1: target to client): whether
	// forwarding is stalled, and a channel closed when it resumes.
	stalled [2]bool
	resume  [2]chan struct{}
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	closed  bool

	// triggers armed by At for connections accepted after arming; rate
	// limits forwarding (bytes per second per direction and connection;
	// 0: unlimited).
	triggers []*trigger
	rate     int64
	// forwarded counts the bytes forwarded in each direction, over all
	// connections.
	forwarded [2]atomic.Int64
}

// Direction is a direction of forwarding.
type Direction int

const (
	// ToTarget is client to target (the SSH client's requests and data).
	ToTarget Direction = 0
	// ToClient is target to client (the server's answers).
	ToClient Direction = 1
)

func (d Direction) String() string {
	if d == ToTarget {
		return "client->server"
	}
	return "server->client"
}

// trigger is an action to run once a connection has forwarded N bytes in
// one direction.
type trigger struct {
	dir    Direction
	n      int64
	action func(c *ProxyConn)
	since  int64 // accepted count when armed: only later connections count
	fired  atomic.Bool
}

// ProxyConn is one forwarded connection, as a trigger's action sees it.
type ProxyConn struct {
	p          *Proxy
	client, up net.Conn
	count      [2]atomic.Int64
}

// Cut closes both sides of the connection, like a reset.
func (c *ProxyConn) Cut() {
	c.client.Close()
	c.up.Close()
}

// Forwarded is how many bytes this connection has forwarded in d.
func (c *ProxyConn) Forwarded(d Direction) int64 { return c.count[d].Load() }

// At arms action to run, once, on the first connection accepted from now
// on whose forwarded bytes in direction d reach n: the first n bytes go
// through, then action runs (synchronously: forwarding in d waits for it),
// then the rest follows unless action cut the connection. It returns a
// function that reports whether the action has run.
func (p *Proxy) At(d Direction, n int64, action func(c *ProxyConn)) (fired func() bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := &trigger{dir: d, n: n, action: action, since: p.accepted.Load()}
	p.triggers = append(p.triggers, t)
	return t.fired.Load
}

// CutAt cuts the first connection accepted from now on once it has
// forwarded n bytes in direction d: exactly n bytes get through.
func (p *Proxy) CutAt(d Direction, n int64) (fired func() bool) {
	return p.At(d, n, (*ProxyConn).Cut)
}

// Disarm drops the triggers that have not fired.
func (p *Proxy) Disarm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.triggers = nil
}

// SetRate limits forwarding to bytesPerSecond in each direction of each
// connection (0: unlimited), so that a transfer lasts long enough for a
// test to act in the middle of it.
func (p *Proxy) SetRate(bytesPerSecond int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = bytesPerSecond
}

// Forwarded is the number of bytes forwarded so far in d, over all
// connections.
func (p *Proxy) Forwarded(d Direction) int64 { return p.forwarded[d].Load() }

// StartProxy starts a proxy to target ("host:port") and closes it when the
// test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewProxy starts a proxy to target. Call Close when done.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ //nolint:forcetypeassert // a "tcp" listener's address is a *net.TCPAddr
		Host:   "127.0.0.1",
		Port:   ln.Addr().(*net.TCPAddr).Port,
		target: target,
		ln:     ln,
		conns:  map[net.Conn]struct{}{},
	}
	for d := range p.resume {
		p.resume[d] = make(chan struct{})
		close(p.resume[d])
	}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is "127.0.0.1:PORT".
func (p *Proxy) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// Accepted is the number of connections accepted so far.
func (p *Proxy) Accepted() int { return int(p.accepted.Load()) }

// Active is the number of connections open now.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Stall stops forwarding in both directions on every connection, open or
// future, without closing any: to both ends the path goes silent, as when
// a route or firewall starts dropping packets. Bytes already read from one
// side are held back until Resume.
func (p *Proxy) Stall() {
	p.stall(0)
	p.stall(1)
}

// StallToTarget stalls only the client-to-target direction: the server
// still talks, but hears nothing (requests, window updates) until Resume.
func (p *Proxy) StallToTarget() { p.stall(0) }

func (p *Proxy) stall(d int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stalled[d] {
		p.stalled[d] = true
		p.resume[d] = make(chan struct{})
	}
}

// Resume undoes Stall and StallToTarget.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resumeLocked()
}

func (p *Proxy) resumeLocked() {
	for d := range p.stalled {
		if p.stalled[d] {
			p.stalled[d] = false
			close(p.resume[d])
		}
	}
}

// CutAll closes every open connection (both sides), like a reset.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Close stops accepting, closes every connection and waits for the
// forwarding goroutines to end.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.resumeLocked()
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		seq := p.accepted.Add(1)
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, up) {
			return
		}
		pc := &ProxyConn{p: p, client: c, up: up}
		p.wg.Add(2)
		go p.pipe(pc, up, c, 0, seq)
		go p.pipe(pc, c, up, 1, seq)
	}
}

func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// due returns the first armed trigger for connection number seq in dir
// that falls within the next n bytes after count, claiming it.
func (p *Proxy) due(dir int, seq, count, n int64) *trigger {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *trigger
	for _, t := range p.triggers {
		if int(t.dir) != dir || seq <= t.since || t.fired.Load() || t.n > count+n {
			continue
		}
		if best == nil || t.n < best.n {
			best = t
		}
	}
	if best != nil {
		best.fired.Store(true)
	}
	return best
}

// pipe copies src to dst, waiting before each write while stalled and
// running the triggers armed for this connection at their byte counts.
// When either side ends, both connections close.
func (p *Proxy) pipe(pc *ProxyConn, dst, src net.Conn, dir int, seq int64) {
	defer p.wg.Done()
	defer func() {
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		chunk := buf[:n]
		for len(chunk) > 0 {
			p.mu.Lock()
			resume, rate := p.resume[dir], p.rate
			p.mu.Unlock()
			<-resume
			count := pc.count[dir].Load()
			part := chunk
			t := p.due(dir, seq, count, int64(len(chunk)))
			if t != nil {
				part = chunk[:max(t.n-count, 0)]
			}
			if rate > 0 && len(part) > 0 {
				time.Sleep(time.Duration(int64(len(part)) * int64(time.Second) / rate))
			}
			if len(part) > 0 {
				if _, werr := dst.Write(part); werr != nil {
					return
				}
				pc.count[dir].Add(int64(len(part)))
				p.forwarded[dir].Add(int64(len(part)))
			}
			chunk = chunk[len(part):]
			if t != nil {
				t.action(pc)
			}
		}
		if err != nil {
			return // EOF or error: either way the path is gone
		}
	}
}
