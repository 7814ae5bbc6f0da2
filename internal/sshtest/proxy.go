package sshtest

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
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
}

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
	p := &Proxy{
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
		p.accepted.Add(1)
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, up) {
			return
		}
		p.wg.Add(2)
		go p.pipe(up, c, 0)
		go p.pipe(c, up, 1)
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

// pipe copies src to dst, waiting before each write while stalled. When
// either side ends, both connections close.
func (p *Proxy) pipe(dst, src net.Conn, dir int) {
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
		if n > 0 {
			p.mu.Lock()
			resume := p.resume[dir]
			p.mu.Unlock()
			<-resume
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or error: either way the path is gone
		}
	}
}
