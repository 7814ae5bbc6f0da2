//go:build unix

package localfile

import (
	"errors"
	"io"
	"io/fs"

	"golang.org/x/sys/unix"
)

// File is a local file open for reading.
type File struct {
	fd   int
	name string
	// size is what the caller expects the file to hold (ExpectSize; -1:
	// nothing), read how much Read has returned, and atEnd that the end
	// was seen without a read(2) returning 0.
	size, read int64
	atEnd      bool
}

// Open opens the file at name for reading, following symlinks as
// os.Open does. Its errors are *fs.PathError, as os.Open's.
func Open(name string) (*File, error) {
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &File{fd: fd, name: name, size: -1}, nil
}

// Read reads up to len(p) bytes; at the end of the file it returns 0
// and io.EOF.
func (f *File) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if f.atEnd {
		return 0, io.EOF
	}
	var n int
	err := ignoringEINTR(func() (err error) {
		n, err = unix.Read(f.fd, p)
		return err
	})
	switch {
	case err != nil:
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
	case n == 0:
		return 0, io.EOF
	}
	f.read += int64(n)
	if f.read == f.size && n < len(p) {
		f.atEnd = true
	}
	return n, nil
}

// ExpectSize says the file is expected to hold size bytes, as its lstat
// in the file list said. Once Read has returned that many, from a
// read(2) that returned less than asked, the file is taken to end there:
// the next Read is io.EOF without the read(2) that would say so. A tree
// of tiny files is read with one read(2) a file instead of two (rsync's
// sender reads the size it stats, sender.c: map_file). A file that grew
// is still read to its end: it returns as much as asked. The one case
// taken for the end that is not is a read(2) cut short by a signal at
// exactly the expected size of a file that has grown since it was
// listed, a file changing while it is sent, which rsync sends at the
// size it stats too.
func (f *File) ExpectSize(size int64) { f.size = size }

// Close closes the file; a second Close reports fs.ErrClosed.
func (f *File) Close() error {
	if f.fd < 0 {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	fd := f.fd
	f.fd = -1
	// close(2) is not retried on EINTR: the descriptor is gone either way
	// on Linux, and may be reused by then.
	if err := unix.Close(fd); err != nil {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}

// Stat is fstat(2) of the open file.
func (f *File) Stat(st *unix.Stat_t) error {
	return ignoringEINTR(func() error { return unix.Fstat(f.fd, st) })
}

// ignoringEINTR retries a system call interrupted by a signal (the Go
// runtime's preemption signals among them), as the os package does.
func ignoringEINTR(call func() error) error {
	for {
		err := call()
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
