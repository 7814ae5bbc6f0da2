package sshconn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
)

// Pool shares SSH connections among the users of one process (the
// provider's resources in one Terraform run), so that 50 resources on one
// host make one connection, not 50, and never trip over sshd's limits:
//
//   - one connection per distinct Config (user, host, port, credentials,
//     host-key policy, keepalive, bastion chain); bastions are pooled too,
//     so every host behind one bastion shares the connection to it;
//   - at most MaxSessions commands running at once on one connection
//     (sshd's MaxSessions, default 10, refuses more: "open failed"); further
//     Starts wait for a free slot. If the server allows fewer than that, the
//     pool learns the real limit from the refusal and waits instead of
//     failing. Dropbear gets one at a time (see oneSessionAtATime);
//   - at most MaxDialsPerHost connection attempts at once per host:port
//     (sshd's MaxStartups, default 10:30:100, starts dropping unauthenticated
//     connections beyond 10);
//   - a connection that died (keepalives unanswered, server restarted) is
//     replaced on the next Start;
//   - a connection nobody holds closes after IdleTimeout.
type Pool struct {
	opts   PoolOptions
	ctx    context.Context // ends with Close; bounds dials in the background
	cancel context.CancelFunc

	mu      sync.Mutex
	entries map[string]*entry
	gates   map[string]chan struct{} // per host:port: dial slots
	closed  bool

	dials atomic.Int64
}

// PoolOptions tune a Pool; zero fields take the defaults.
type PoolOptions struct {
	// MaxSessions per connection; default 8, under OpenSSH's default
	// MaxSessions of 10: a session's slot is freed when its channel is
	// closed on our side, a moment before sshd has freed its own, and the
	// margin absorbs that.
	MaxSessions int
	// MaxDialsPerHost: concurrent connection attempts per host:port;
	// default 5, half of OpenSSH's MaxStartups start of 10.
	MaxDialsPerHost int
	// IdleTimeout: how long a connection nobody holds stays open; default
	// 30s. A Terraform run's resources follow each other closely.
	IdleTimeout time.Duration
}

// Defaults for PoolOptions.
const (
	DefaultMaxSessions     = 8
	DefaultMaxDialsPerHost = 5
	DefaultIdleTimeout     = 30 * time.Second
)

// NewPool returns an empty pool.
func NewPool(opts PoolOptions) *Pool {
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.MaxDialsPerHost <= 0 {
		opts.MaxDialsPerHost = DefaultMaxDialsPerHost
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{opts: opts, ctx: ctx, cancel: cancel,
		entries: map[string]*entry{}, gates: map[string]chan struct{}{}}
}

// entry is one pooled destination (one Config): its current connection,
// or the dial under way.
type entry struct {
	key     string
	hop     *hop
	bastion *entry // nil: direct

	// Guarded by Pool.mu.
	refs    int         // Transports held, plus connections through this one
	idle    *time.Timer // running while refs == 0
	cur     *pconn      // nil, or the latest connection (perhaps dead)
	call    *dialCall   // the dial under way, if any
	removed bool
}

type dialCall struct {
	done chan struct{}
	c    *pconn
	err  error
}

// Transport returns a transport to cfg's server over a pooled connection,
// connecting now if there is none, so that connection errors (host key,
// authentication, unreachable) surface here. Each Start runs one command
// in its own session, within the per-connection limit; if the connection
// has died since, Start reconnects first. Call release when done with the
// transport (after its processes have ended); the connection then stays
// open for IdleTimeout for the next user.
func (p *Pool) Transport(ctx context.Context, cfg Config) (rsync.Transport, func(), error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	e, err := p.entryFor(cfg, 0)
	if err != nil {
		return nil, nil, err
	}
	if _, err := p.live(ctx, e); err != nil {
		p.release(e)
		return nil, nil, err
	}
	var once sync.Once
	return &poolTransport{pool: p, e: e}, func() { once.Do(func() { p.release(e) }) }, nil
}

// Dials is how many connections the pool has made, bastions included.
func (p *Pool) Dials() int { return int(p.dials.Load()) }

// Close closes every connection, ending the commands still running on
// them, and makes later Transport calls fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	var conns []*pconn
	for _, e := range p.entries {
		if e.idle != nil {
			e.idle.Stop()
		}
		if e.cur != nil {
			conns = append(conns, e.cur)
		}
		e.removed = true
	}
	p.entries = map[string]*entry{}
	p.mu.Unlock()
	p.cancel()
	for _, c := range conns {
		c.die(errors.New("the connection pool was closed"))
	}
	return nil
}

// entryFor finds or makes the entry for cfg (defaulted) and its bastions,
// taking a reference on it. Keys are loaded and checked only when the
// entry is new.
func (p *Pool) entryFor(cfg Config, depth int) (*entry, error) {
	key := cfg.poolKey()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("ssh: the connection pool is closed")
	}
	if e := p.entries[key]; e != nil {
		p.retainLocked(e)
		p.mu.Unlock()
		return e, nil
	}
	p.mu.Unlock()

	h, err := prepareHop(cfg)
	if err != nil {
		if depth > 0 {
			return nil, fmt.Errorf("ssh: bastion %s: %w", cfg.display(), trimSSH(err))
		}
		return nil, err
	}
	var bastion *entry
	if cfg.Bastion != nil {
		// The entry's own reference on its bastion, held for its life.
		if bastion, err = p.entryFor(*cfg.Bastion, depth+1); err != nil {
			return nil, err
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("ssh: the connection pool is closed")
	}
	if e := p.entries[key]; e != nil { // made meanwhile by another caller
		p.retainLocked(e)
		if bastion != nil {
			p.releaseLocked(bastion)
		}
		return e, nil
	}
	e := &entry{key: key, hop: h, bastion: bastion, refs: 1}
	p.entries[key] = e
	return e, nil
}

func (p *Pool) retainLocked(e *entry) {
	e.refs++
	if e.idle != nil {
		e.idle.Stop()
		e.idle = nil
	}
}

func (p *Pool) release(e *entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked(e)
}

// releaseLocked drops a reference; the last one starts the idle timer,
// whose expiry closes the connection and forgets the entry (and releases
// its bastion in turn).
func (p *Pool) releaseLocked(e *entry) {
	e.refs--
	if e.refs > 0 || e.removed {
		return
	}
	e.idle = time.AfterFunc(p.opts.IdleTimeout, func() { p.expire(e) })
}

func (p *Pool) expire(e *entry) {
	p.mu.Lock()
	if e.refs > 0 || e.removed || e.idle == nil {
		p.mu.Unlock()
		return
	}
	e.removed = true
	e.idle = nil
	if p.entries[e.key] == e {
		delete(p.entries, e.key)
	}
	c := e.cur
	e.cur = nil
	if e.bastion != nil {
		p.releaseLocked(e.bastion)
	}
	p.mu.Unlock()
	if c != nil {
		c.die(errors.New("closed after being idle"))
	}
}

// live returns e's connection, dialling (once, for all callers) when there
// is none or it died. ctx bounds only the wait: the dial itself runs under
// the pool's context, since other callers may be waiting for it too.
func (p *Pool) live(ctx context.Context, e *entry) (*pconn, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errors.New("ssh: the connection pool is closed")
		}
		if e.removed {
			p.mu.Unlock()
			return nil, fmt.Errorf("ssh: transport to %s used after its release: this is a bug in the provider", e.hop.cfg.addr())
		}
		if e.cur != nil && e.cur.alive() {
			c := e.cur
			p.mu.Unlock()
			return c, nil
		}
		call := e.call
		if call == nil {
			call = &dialCall{done: make(chan struct{})}
			e.call = call
			go p.dial(e, call)
		}
		p.mu.Unlock()

		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("ssh: connect to %s: %w", e.hop.cfg.addr(), ctx.Err())
		}
		if call.err != nil {
			return nil, call.err
		}
		if call.c.alive() {
			return call.c, nil
		}
		// Died at once (rare): dial again.
	}
}

// lostErr is why e's last connection died, if it was lost (a
// *LostError, not closed by the pool); nil otherwise. A failed dial leaves
// the dead connection in place, so after one this is the connection the
// dial meant to replace.
func (p *Pool) lostErr(e *entry) error {
	p.mu.Lock()
	c := e.cur
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	var lost *LostError
	if err := c.Err(); errors.As(err, &lost) {
		return err
	}
	return nil
}

// dial makes e's connection, through its bastion's pooled connection.
func (p *Pool) dial(e *entry, call *dialCall) {
	c, err := p.connect(e)
	p.mu.Lock()
	e.call = nil
	stale := e.removed || p.closed
	if err == nil && !stale {
		e.cur = c
	}
	p.mu.Unlock()
	if err == nil && stale {
		c.die(errors.New("the connection pool was closed"))
		err = errors.New("ssh: the connection pool is closed")
	}
	call.c, call.err = c, err
	close(call.done)
}

func (p *Pool) connect(e *entry) (*pconn, error) {
	ctx := p.ctx
	var via *pconn
	if e.bastion != nil {
		var err error
		if via, err = p.live(ctx, e.bastion); err != nil {
			return nil, fmt.Errorf("ssh: bastion %s: %w", e.bastion.hop.cfg.display(), trimSSH(err))
		}
	}
	client, act, err := e.hop.connect(ctx, via.clientOrNil(), p.gate(e.hop.cfg.addr()))
	if err != nil {
		return nil, err
	}
	p.dials.Add(1)
	limit := p.opts.MaxSessions
	if oneSessionAtATime(client) {
		limit = 1
	}
	c := &pconn{link: newLink(client, act, e.hop.cfg), limit: limit,
		changed: make(chan struct{}), procs: map[*process]struct{}{}}
	c.onDeath(c.dead)
	// The bastion's entry is held by this entry for its whole life (see
	// entryFor), so it cannot go idle under this connection. If the
	// bastion's connection dies, the channel this one runs in closes and
	// this one dies with it.
	return c, nil
}

// oneSessionAtATime reports whether the server must get one session at a
// time per connection. Dropbear (2022.83 and the releases since) closes a
// session channel that has not started its command yet whenever another
// session's command on the connection exits: svr-chansession.c's
// sesscheckclose counts "no process yet" as ready to close, and each
// SIGCHLD re-checks every channel. Two resources on one Dropbear host would
// then fail at random with EOF in reply to their exec, and when the exec
// crosses the close, Dropbear aborts the whole connection (assertion
// `!channel->sent_close' in common-channel.c), ending every transfer on
// it. One session at a time costs only the parallelism on that host.
func oneSessionAtATime(client *ssh.Client) bool {
	return strings.HasPrefix(string(client.ServerVersion()), "SSH-2.0-dropbear")
}

// gate returns the dial-slot gate for a host:port.
func (p *Pool) gate(addr string) gate {
	p.mu.Lock()
	g := p.gates[addr]
	if g == nil {
		g = make(chan struct{}, p.opts.MaxDialsPerHost)
		p.gates[addr] = g
	}
	p.mu.Unlock()
	return func(ctx context.Context) (func(), error) {
		select {
		case g <- struct{}{}:
			return func() { <-g }, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// pconn is a pooled connection: a link with a session semaphore and the
// processes running on it.
type pconn struct {
	*link

	mu      sync.Mutex
	active  int           // sessions open or being opened
	limit   int           // at most this many
	changed chan struct{} // closed (and replaced) when active drops or the link dies
	procs   map[*process]struct{}
}

func (c *pconn) clientOrNil() *ssh.Client {
	if c == nil {
		return nil
	}
	return c.client
}

// dead ends every process on the connection with the reason, so their
// reads, writes and Wait fail saying why rather than with a bare EOF.
func (c *pconn) dead(reason error) {
	c.mu.Lock()
	procs := make([]*process, 0, len(c.procs))
	for p := range c.procs {
		procs = append(procs, p)
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	for _, p := range procs {
		p.terminate(reason)
	}
}

// acquire takes a session slot, waiting while all are taken. It fails
// with the link's error when the connection dies meanwhile.
func (c *pconn) acquire(ctx context.Context) error {
	for {
		if err := c.Err(); err != nil {
			return err
		}
		c.mu.Lock()
		if c.active < c.limit {
			c.active++
			c.mu.Unlock()
			return nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *pconn) releaseSlot() {
	c.mu.Lock()
	c.active--
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// learnLimit is called after the server refused a session while others
// were open: its MaxSessions is lower than ours. It lowers the limit to
// what is open now and reports whether waiting can help (something is
// open whose end frees a slot).
func (c *pconn) learnLimit() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active == 0 {
		return false
	}
	if c.active < c.limit {
		c.limit = c.active
	}
	return true
}

// poolTransport is the rsync.Transport a Pool hands out.
type poolTransport struct {
	pool *Pool
	e    *entry
}

// Start runs command in a new session on the pooled connection, waiting
// for a free session slot, and reconnecting once if the connection has
// died.
func (t *poolTransport) Start(ctx context.Context, command string) (rsync.Process, error) {
	return t.start(ctx, command, false)
}

// StartSubsystem starts an SSH subsystem (such as "sftp") in a new
// session on the pooled connection, as Start runs a command.
func (t *poolTransport) StartSubsystem(ctx context.Context, name string) (rsync.Process, error) {
	return t.start(ctx, name, true)
}

func (t *poolTransport) start(ctx context.Context, command string, subsystem bool) (rsync.Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ssh: start remote command: %w", err)
	}
	var lost error // the connection that died under us, reported if reconnecting fails
	for {
		c, err := t.pool.live(ctx, t.e)
		if err != nil {
			if lost == nil {
				// The connection may have been noticed dead before this
				// Start (its reader saw the cut first) rather than by it:
				// say so all the same.
				lost = t.pool.lostErr(t.e)
			}
			if lost != nil {
				return nil, fmt.Errorf("%w; reconnecting failed: %w", lost, trimSSH(err))
			}
			return nil, err
		}
		if err := c.acquire(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("ssh: start remote command: waiting for a free session on %s: %w", c.addr, ctx.Err())
			}
			if lost != nil {
				return nil, err
			}
			lost = err
			continue
		}
		h := hooks{
			started: func(p *process) {
				c.mu.Lock()
				c.procs[p] = struct{}{}
				c.mu.Unlock()
			},
			exited: func(p *process) {
				c.mu.Lock()
				delete(c.procs, p)
				c.mu.Unlock()
				c.releaseSlot()
			},
			linkDone: c.done,
			linkErr:  c.Err,
		}
		p, err := startCtx(ctx, func() (*process, error) {
			var p *process
			var err error
			if subsystem {
				p, err = startSession(c.client, command, true, h, 1)
			} else {
				p, err = startProcess(c.client, command, h)
			}
			if err != nil {
				c.releaseSlot()
			}
			return p, err
		})
		if err == nil {
			// A death between the session opening and the registration
			// would have missed this process: check again.
			if linkErr := c.Err(); linkErr != nil {
				p.terminate(linkErr)
			}
			return p, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		var broken *brokenError
		if errors.As(err, &broken) {
			// The link may not have noticed yet; make it so, keeping
			// its own reason if it has.
			c.die(&LostError{Addr: c.addr, Reason: fmt.Sprintf("opening a session failed (%v)", broken.err)})
		}
		if linkErr := c.Err(); linkErr != nil {
			if lost != nil {
				return nil, fmt.Errorf("%w: %w", linkErr, trimSSH(err))
			}
			lost = linkErr // nothing ran: reconnect and try once more
			continue
		}
		var openErr *ssh.OpenChannelError
		if errors.As(err, &openErr) && c.learnLimit() {
			continue // wait in acquire for a session to end
		}
		return nil, err
	}
}
