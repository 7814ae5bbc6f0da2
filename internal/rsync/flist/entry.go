// Package flist is rsync's file list: the entries a sender describes, their
// wire encoding (flist.c:send_file_entry / recv_file_entry), the uid/gid
// name lists (uidlist.c), the sort order both sides agree on
// (flist.c:f_name_cmp) and walking a local tree into a list.
package flist

import (
	"io/fs"
	"strings"
)

// Unix file-type bits as they travel on the wire (raw st_mode; Linux values,
// which rsync's to_wire_mode keeps).
const (
	SIFMT   = 0o170000
	SIFSOCK = 0o140000
	SIFLNK  = 0o120000
	SIFREG  = 0o100000
	SIFBLK  = 0o060000
	SIFDIR  = 0o040000
	SIFCHR  = 0o020000
	SIFIFO  = 0o010000
)

// Entry is one file-list entry. A list holds one per file for a whole
// transfer, so the fields go widest first: no padding between them
// (104 bytes on 64-bit platforms, HlinkGroup filling what was padding).
type Entry struct {
	// Name is the path relative to the transfer root with "/" separators;
	// the root itself is ".".
	Name       string
	LinkTarget string // symlinks only
	Checksum   []byte // with -c: the unseeded whole-file sum (regular files)
	Size       int64
	ModTime    int64  // seconds since the epoch
	Mode       uint32 // st_mode: type and permission bits
	ModNsec    int32
	UID, GID   uint32
	RdevMajor  uint32 // devices only
	RdevMinor  uint32
	// HlinkGroup, when not 0, names the set of entries that are hard links
	// to one inode (-H): every entry of a set carries the same value. It is
	// a label, not an index: the walk uses 1 + the list position of the
	// set's first entry, the decoder 1 + the received position of the
	// entry the sender marked first. Never set on directories.
	HlinkGroup uint32
	TopDir     bool // XMIT_TOP_DIR: a directory named on the command line
	// NoContent (protocol 30+, XMIT_NO_CONTENT_DIR) sends a directory
	// whose contents this transfer does not send, as rsync -d does: a
	// receiver creates it and sets its attributes but deletes nothing in
	// it (generator.c only calls delete_in_dir for FLAG_CONTENT_DIR). A
	// parallel push sends a part's directories this way.
	NoContent bool
}

// Type returns the file-type bits.
func (e *Entry) Type() uint32 { return e.Mode & SIFMT }

// IsDir reports whether e is a directory.
func (e *Entry) IsDir() bool { return e.Type() == SIFDIR }

// IsRegular reports whether e is a regular file.
func (e *Entry) IsRegular() bool { return e.Type() == SIFREG }

// IsSymlink reports whether e is a symbolic link.
func (e *Entry) IsSymlink() bool { return e.Type() == SIFLNK }

// IsDevice reports whether e is a block or character device.
func (e *Entry) IsDevice() bool { return e.Type() == SIFBLK || e.Type() == SIFCHR }

// IsSpecial reports whether e is a fifo or socket.
func (e *Entry) IsSpecial() bool { return e.Type() == SIFIFO || e.Type() == SIFSOCK }

// Perm returns the permission bits including setuid/setgid/sticky.
func (e *Entry) Perm() uint32 { return e.Mode & 0o7777 }

// DisplayName is Name with a trailing "/" for directories, as rsync prints.
func (e *Entry) DisplayName() string {
	if e.IsDir() && !strings.HasSuffix(e.Name, "/") {
		return e.Name + "/"
	}
	return e.Name
}

// UnixMode converts a Go FileMode to st_mode bits.
func UnixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	switch {
	case m.IsDir():
		u |= SIFDIR
	case m&fs.ModeSymlink != 0:
		u |= SIFLNK
	case m&fs.ModeNamedPipe != 0:
		u |= SIFIFO
	case m&fs.ModeSocket != 0:
		u |= SIFSOCK
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice != 0:
		u |= SIFCHR
	case m&fs.ModeDevice != 0:
		u |= SIFBLK
	case m.IsRegular():
		u |= SIFREG
	}
	return u
}

// GoMode converts st_mode permission bits to a Go FileMode (no type bits).
func GoMode(mode uint32) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	if mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
