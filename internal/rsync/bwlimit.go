package rsync

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// bwLimiter caps a stream at kib KiB/s (rsync --bwlimit). The burst, what
// may pass at once after a pause, is an eighth of a second's worth, within
// 1 KiB and 64 KiB: small enough that the rate holds over a second, large
// enough that frames are not split into tiny writes.
func bwLimiter(kib int) *rate.Limiter {
	bps := kib * 1024
	return rate.NewLimiter(rate.Limit(bps), min(max(bps/8, 1024), 64<<10))
}

// limitedWriter writes at most its limiter's rate; a cancelled context
// ends the wait.
type limitedWriter struct {
	ctx context.Context //nolint:containedctx // the transport's writes have no context of their own
	w   io.Writer
	l   *rate.Limiter
}

func (lw *limitedWriter) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n := min(len(p)-done, lw.l.Burst())
		if err := lw.l.WaitN(lw.ctx, n); err != nil {
			return done, err
		}
		m, err := lw.w.Write(p[done : done+n])
		done += m
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// limitedReader reads at most its limiter's rate: it waits after each
// read for what it got, so the peer, whose writes then block on a full
// pipe or SSH window, is slowed to the rate too.
type limitedReader struct {
	ctx context.Context //nolint:containedctx // the transport's reads have no context of their own
	r   io.Reader
	l   *rate.Limiter
}

func (lr *limitedReader) Read(p []byte) (int, error) {
	if b := lr.l.Burst(); len(p) > b {
		p = p[:b]
	}
	n, err := lr.r.Read(p)
	if n > 0 {
		if werr := lr.l.WaitN(lr.ctx, n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

// limitTransport wraps a process's streams in kib KiB/s limits, one per
// direction; kib 0 leaves them as they are.
func limitTransport(ctx context.Context, stdin io.Writer, stdout io.Reader, kib int) (io.Writer, io.Reader) {
	if kib <= 0 {
		return stdin, stdout
	}
	return &limitedWriter{ctx: ctx, w: stdin, l: bwLimiter(kib)}, &limitedReader{ctx: ctx, r: stdout, l: bwLimiter(kib)}
}
