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
	return &File{fd: fd, name: name}, nil
}

// Read reads up to len(p) bytes; at the end of the file it returns 0
// and io.EOF.
func (f *File) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
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
	return n, nil
}

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
