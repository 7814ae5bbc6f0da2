package tree

// Writing a tree's digest file: only when a record changed, so that a walk
// of an unchanged tree (a plan with nothing to do; the apply's re-plan)
// writes nothing — at 300,000 files a new file was some 15 MB encoded and
// written every walk.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// digestWriter makes the new file of a tree, beside the old one, and
// renames it over: another walk of the tree (another process) reading the
// old file meanwhile is not disturbed, and the old file is never written.
//
// It starts out writing nothing. While each record the walk hands it is
// the old file's next record (the same fields, hence, as the reader
// accepts only the writer's encoding, the same bytes), the new file would
// be the old one: only where the two agree up to is kept. At the first
// record that differs — a file changed, added, re-hashed to another
// digest or trust, or an old record passed over (a file gone or now
// excluded) — the new file is created with the old file's bytes up to
// there, and written from then on. A walk whose records were all the old
// file's, to its end, keeps that file and only renews its modification
// time, by which the sweep tells a tree's file in use.
type digestWriter struct {
	key, dir, dest string
	// old is the previous file (nil: none); the new file so far is its
	// bytes [0, kept).
	old  *digestReader
	kept int64
	f    *os.File // the new file; nil until a record differs
	w    *bufio.Writer
	body []byte // scratch: one record's fields
	buf  []byte // scratch: the record framed
	err  error
}

// createDigests starts the new file of key, to replace old (the reader of
// the previous file, open until finish; nil when there is none); nil
// (keep nothing) when the directory cannot be written.
func (c *DigestCache) createDigests(key string, old *digestReader) *digestWriter {
	c.swept.Do(c.sweep)
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil
	}
	w := &digestWriter{key: key, dir: c.dir, dest: c.fileName(key), old: old}
	if old != nil {
		w.kept = old.headerEnd
	}
	return w
}

// add records rec (nil: nothing to record of this entry); old is the
// previous file's record of the same file (nil: none), which rec
// replaces.
func (w *digestWriter) add(rec, old *digestRecord) {
	if w == nil || w.err != nil {
		return
	}
	if w.f == nil {
		switch {
		case rec == nil && old == nil:
			return
		case rec != nil && old != nil && int64(old.start) == w.kept && sameDigestRecord(rec, old):
			w.kept += digestFramedLen(old)
			return
		}
		if !w.diverge() {
			return
		}
	}
	if rec == nil {
		return
	}
	w.body = appendDigestBody(w.body[:0], rec)
	w.buf = appendFramed(w.buf[:0], w.body)
	_, w.err = w.w.Write(w.buf)
}

// sameDigestRecord reports whether a and b encode to the same bytes.
func sameDigestRecord(a, b *digestRecord) bool {
	return a == b || (a.name == b.name && a.id == b.id && a.trusted == b.trusted && bytes.Equal(a.digest, b.digest))
}

// diverge creates the new file with what it holds so far: the old file's
// first kept bytes, or the header when there is no old file. It reports
// whether the writer can go on.
func (w *digestWriter) diverge() bool {
	f, err := os.CreateTemp(w.dir, ".tmp-*")
	if err != nil {
		w.err = fmt.Errorf("digest file: %w", err)
		return false
	}
	w.f, w.w = f, bufio.NewWriterSize(f, 64<<10)
	if w.old == nil {
		_, w.err = w.w.Write(digestHeader(w.key))
	} else if _, err := io.Copy(w.w, io.NewSectionReader(w.old.f, 0, w.kept)); err != nil {
		// ReadAt: the reader goes on reading the same file from its
		// own offset.
		w.err = fmt.Errorf("digest file: copy of the previous: %w", err)
	}
	return w.err == nil
}

// finish puts the new file in place when everything was written and ok (a
// walk that failed keeps the previous file); a walk that changed nothing
// keeps the previous file, its modification time renewed.
func (w *digestWriter) finish(ok bool) {
	if w == nil {
		return
	}
	if ok && w.f == nil && w.err == nil {
		if w.old != nil && w.kept == w.old.size {
			now := time.Now()
			if os.Chtimes(w.dest, now, now) == nil {
				return
			}
			// Gone since it was opened: made again from what was read.
		}
		w.diverge()
	}
	if w.f == nil {
		return
	}
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if err := w.f.Close(); w.err == nil {
		w.err = err
	}
	if !ok || w.err != nil || os.Rename(w.f.Name(), w.dest) != nil {
		os.Remove(w.f.Name())
	}
}

// sweep removes the files of trees not hashed for digestsMaxAge, and
// temporary files left by a killed process.
func (c *DigestCache) sweep() {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		age := time.Since(info.ModTime())
		if age > digestsMaxAge || (strings.HasPrefix(e.Name(), ".tmp-") && age > time.Hour) {
			os.Remove(filepath.Join(c.dir, e.Name()))
		}
	}
}
