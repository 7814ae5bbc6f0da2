//go:build unix

package localfile

import (
	"io/fs"
	"strings"

	"golang.org/x/sys/unix"
)

// Opener opens files as Open does, by their directory's descriptor when
// the previous file was in the same directory: openat(2) of the base name
// instead of open(2) of the whole path, which the kernel resolves
// component by component (a sender names files by their full path; rsync
// chdirs into the source instead, flist.c: change_dir). A sender and a
// hasher read a directory's files one after another, so one directory is
// kept open at a time. The zero Opener is ready; Close releases the
// directory. Not for concurrent use.
type Opener struct {
	dir string // the directory dirFD is open on, "" for none
	// dirFD is the descriptor of dir; -1 when dir could not be opened
	// (a directory without read permission can still be searched): its
	// files are then opened by their paths.
	dirFD int
}

// Open opens the file at name for reading, as Open does, with the same
// errors (naming the whole path).
func (o *Opener) Open(name string) (*File, error) {
	i := strings.LastIndexByte(name, '/')
	if i <= 0 || i == len(name)-1 {
		return Open(name)
	}
	dir, base := name[:i], name[i+1:]
	if dir != o.dir {
		o.Close()
		o.dir, o.dirFD = dir, -1
		_ = ignoringEINTR(func() (err error) {
			o.dirFD, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				o.dirFD = -1
			}
			return err
		})
	}
	if o.dirFD < 0 {
		return Open(name)
	}
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Openat(o.dirFD, base, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &File{fd: fd, name: name, size: -1}, nil
}

// Close closes the directory kept open, if any. The Opener can be used
// again.
func (o *Opener) Close() {
	if o.dir != "" && o.dirFD >= 0 {
		_ = unix.Close(o.dirFD)
	}
	o.dir, o.dirFD = "", -1
}
