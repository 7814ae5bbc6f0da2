package rsync

// Progress of a long transfer: every few seconds a line at INFO through
// Options.Logger with the files and bytes done of the total, the rate and
// an estimate of the time left. A transfer that ends before the first
// tick logs nothing.

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// DefaultProgressInterval is how often a transfer reports its progress
// when Options.ProgressInterval is zero.
const DefaultProgressInterval = 5 * time.Second

// Clock is the time source of progress reports. Tests inject one whose
// ticks they send themselves; nil in Options means the real clock.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
}

// Ticker is a time.Ticker behind an interface (see Clock).
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) NewTicker(d time.Duration) Ticker {
	return realTicker{time.NewTicker(d)}
}

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }

// progress counts a transfer's files and bytes as the generator passes
// them (sent, received, or found up to date) and reports them on each
// tick. Its counters are atomic: the generator and the receiver of a pull
// run on two goroutines.
type progress struct {
	log   hclog.Logger
	clock Clock
	verb  string

	sizes   []int64 // per list entry: the size of a regular file, else -1
	counted []atomic.Bool
	next    int // push: entries before next are accounted (the sender's goroutine only)

	filesTotal, bytesTotal atomic.Int64 // grow as incremental lists come or go
	filesDone, bytesDone   atomic.Int64
	start                  time.Time

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// startProgress starts reporting the transfer of entries (verb: "push",
// "pull", "copy"), or returns nil when reports are off (a dry run, a
// negative interval). Call finish when the transfer ends.
func startProgress(opts Options, log hclog.Logger, verb string, entries []*flist.Entry) *progress {
	if opts.DryRun || opts.ProgressInterval < 0 || log == nil {
		return nil
	}
	interval := opts.ProgressInterval
	if interval == 0 {
		interval = DefaultProgressInterval
	}
	clock := opts.Clock
	if clock == nil {
		clock = realClock{}
	}
	p := &progress{log: log, clock: clock, verb: verb, sizes: make([]int64, len(entries)), counted: make([]atomic.Bool, len(entries)),
		stop: make(chan struct{}), done: make(chan struct{})}
	for i, e := range entries {
		p.sizes[i] = -1
		if e.IsRegular() {
			p.sizes[i] = e.Size
			p.filesTotal.Add(1)
			p.bytesTotal.Add(e.Size)
		}
	}
	p.start = clock.Now()
	t := clock.NewTicker(interval)
	go func() {
		defer close(p.done)
		defer t.Stop()
		for {
			select {
			case now := <-t.C():
				p.report(now)
			case <-p.stop:
				return
			}
		}
	}()
	return p
}

// entryDone accounts entry i as done (its whole size), once.
func (p *progress) entryDone(i int) {
	if p == nil || i < 0 || i >= len(p.sizes) || p.sizes[i] < 0 || p.counted[i].Swap(true) {
		return
	}
	p.filesDone.Add(1)
	p.bytesDone.Add(p.sizes[i])
}

// grow adds the regular files of a list that just came to the totals (an
// incremental pull knows its tree a directory at a time); they are then
// accounted with fileDone, not by index.
func (p *progress) grow(entries []*flist.Entry) {
	if p == nil {
		return
	}
	for _, e := range entries {
		if e.IsRegular() {
			p.filesTotal.Add(1)
			p.bytesTotal.Add(e.Size)
		}
	}
}

// fileDone accounts one regular file of a grown total as done.
func (p *progress) fileDone(e *flist.Entry) {
	if p == nil || !e.IsRegular() {
		return
	}
	p.filesDone.Add(1)
	p.bytesDone.Add(e.Size)
}

// doneBefore accounts every entry before ndx: a push's receiver asks for
// files in list order, so the ones it passed over are up to date.
func (p *progress) doneBefore(ndx int) {
	if p == nil {
		return
	}
	for ; p.next < ndx && p.next < len(p.sizes); p.next++ {
		p.entryDone(p.next)
	}
}

// reading wraps the reader of entry i's data, whose bytes count as they
// are read; the entry is then done without adding its size again.
func (p *progress) reading(i int, r io.Reader) io.Reader {
	if p == nil || i < 0 || i >= len(p.sizes) || p.counted[i].Swap(true) {
		return r
	}
	p.filesDone.Add(1)
	return &countingReader{r: r, n: &p.bytesDone}
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// report logs one progress line.
func (p *progress) report(now time.Time) {
	files, bytes := p.filesDone.Load(), p.bytesDone.Load()
	filesTotal, bytesTotal := p.filesTotal.Load(), p.bytesTotal.Load()
	elapsed := now.Sub(p.start)
	var rate float64
	if elapsed > 0 {
		rate = float64(bytes) / elapsed.Seconds()
	}
	eta := "unknown"
	if rate > 0 && bytes <= bytesTotal {
		eta = (time.Duration(float64(bytesTotal-bytes)/rate*float64(time.Second)) + time.Second/2).Truncate(time.Second).String()
	}
	pct := 100
	if bytesTotal > 0 {
		pct = int(bytes * 100 / bytesTotal)
	}
	p.log.Info(fmt.Sprintf("%s progress: %d of %d files, %s of %s (%d%%), %s/s, about %s left",
		p.verb, files, filesTotal, humanBytes(bytes), humanBytes(bytesTotal), pct, humanBytes(int64(rate)), eta),
		"files_done", files, "files_total", filesTotal, "bytes_done", bytes, "bytes_total", bytesTotal,
		"bytes_per_second", int64(rate), "eta", eta, "elapsed", elapsed.Truncate(time.Second).String())
}

// addTotal adds a list's regular files to the totals (incremental
// recursion: the tree is not known up front; so a report's total is what
// has been listed so far).
func (p *progress) addTotal(files int, bytes int64) {
	if p == nil {
		return
	}
	p.filesTotal.Add(int64(files))
	p.bytesTotal.Add(bytes)
}

// listDone accounts the files of a finished list that were not read for
// sending: up to date.
func (p *progress) listDone(files int, bytes int64) {
	if p == nil {
		return
	}
	p.filesDone.Add(int64(files))
	p.bytesDone.Add(bytes)
}

// readingAny counts a file's data as it is read, with no per-entry state.
func (p *progress) readingAny(r io.Reader) io.Reader {
	if p == nil {
		return r
	}
	p.filesDone.Add(1)
	return &countingReader{r: r, n: &p.bytesDone}
}

// finish stops the reports.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
}

// humanBytes is n in B, KiB, MiB or GiB, with one decimal.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n), []string{"KiB", "MiB", "GiB", "TiB"}
	i := -1
	for v >= unit && i < len(suffix)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, suffix[i])
}
