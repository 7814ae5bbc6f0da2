package rsync

import (
	"bytes"
	"io"
	"os"
)

// sparseBlock is the granularity at which zeros become holes: a file
// system allocates whole blocks, so a run of zeros saves space only where
// it covers one. 4 KiB is the block of ext4, XFS, APFS and NTFS.
const sparseBlock = 4096

// sparseWriter writes a new file leaving holes where whole blocks are
// zero (rsync -S; fileio.c:write_sparse seeks over zero runs the same
// way): it seeks over them instead of writing, and finish sets the
// length, so a file ending in zeros ends in a hole. The file must be new
// (empty): a hole reads as zeros only where nothing was written before.
type sparseWriter struct {
	f       *os.File
	zero    []byte // sparseBlock zero bytes to compare blocks with
	off     int64  // bytes written or skipped so far
	pending int64  // zero bytes at the end not yet seeked over
}

func (w *sparseWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		// Up to the next block boundary of the file, so that a block is
		// judged whole however the writes fall.
		k := min(len(p), sparseBlock-int(w.off%sparseBlock))
		chunk := p[:k]
		p = p[k:]
		if w.zero == nil {
			w.zero = make([]byte, sparseBlock)
		}
		if k == sparseBlock && bytes.Equal(chunk, w.zero) {
			w.pending += int64(k)
			w.off += int64(k)
			continue
		}
		if w.pending > 0 {
			if _, err := w.f.Seek(w.pending, io.SeekCurrent); err != nil {
				return n - len(p) - k, err
			}
			w.pending = 0
		}
		if _, err := w.f.Write(chunk); err != nil {
			return n - len(p) - k, err
		}
		w.off += int64(k)
	}
	return n, nil
}

// finish gives the file its full length when it ends in a hole.
func (w *sparseWriter) finish() error {
	if w.pending == 0 {
		return nil
	}
	w.pending = 0
	return w.f.Truncate(w.off)
}
