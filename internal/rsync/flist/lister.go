package flist

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Lister reads a local tree one directory at a time, for a sender with
// incremental recursion (flist.c:send_extra_file_list, send1extra): the
// caller asks for a directory's entries when it sends that directory's
// list and drops them when the receiver is done with it, so what is held
// follows the directories in flight, not the tree. A whole-tree walk
// (WalkWith) is for the one-list protocol.
type Lister struct {
	w    *walker
	res  WalkResult // Root, Warnings, Skipped, IOError; Entries stays empty
	root Entry
	// inodes labels the hard-linked files seen so far (-H), for the whole
	// run as rsync's idev table (hlink.c): the sender marks the first name
	// of an inode and points later names, in any later list, at it. It
	// grows with the files that have more than one link, not the tree.
	inodes inodeLabels
	src    string // the source as given, trailing "/" removed
	// shared, when set, holds readings other Listers made, this one's
	// under sharedKey (ShareReadings).
	shared    *DirReadings
	sharedKey string
}

// ShareReadings has ReadDir take a directory's reading from d when
// another Lister made it under the same key, and keep its own there. The
// key must name everything that decides a reading besides the
// directory: the source as given, the skip rules and the options.
func (l *Lister) ShareReadings(d *DirReadings, key string) {
	l.shared, l.sharedKey = d, key+"\x00"
}

// NewLister stats the source src with rsync's trailing-slash rule (see
// Walk) and returns a lister and the top entry: "." for "dir/", the
// directory's base name for "dir", or a single non-directory.
func NewLister(src string, skip Skipper, opts WalkOptions) (*Lister, *Entry, error) {
	// The top entry is what a whole walk makes it; only the walk of the
	// directories below is left to ReadDir.
	top, err := walkTop(src)
	if err != nil {
		return nil, nil, err
	}
	l := &Lister{
		w:   &walker{skip: skip, opts: opts},
		res: WalkResult{Root: top.Root},
		src: strings.TrimSuffix(filepath.Clean(src), "/"),
	}
	l.w.res = &l.res
	l.root = top.Entry
	return l, &l.root, nil
}

// Root is what an entry's name is appended to for its local path
// (WalkResult.Root).
func (l *Lister) Root() string { return l.res.Root }

// LocalPath is where e is read from on the local disk.
func (l *Lister) LocalPath(e *Entry) string { return l.res.Root + e.Name }

// Problems returns the warnings and skipped-file notes gathered since the
// last call, and the io_error bits so far (which stay set).
func (l *Lister) Problems() (warnings, skipped []string, ioError int32) {
	warnings, skipped = l.res.Warnings, l.res.Skipped
	l.res.Warnings, l.res.Skipped = nil, nil
	return warnings, skipped, l.res.IOError
}

// AddIOError records io_error bits found by the caller (an unreadable
// file while checksumming).
func (l *Lister) AddIOError(bits int32) { l.res.IOError |= bits }

// ReadDir lists the directory dir — the top entry's name or a directory
// name ReadDir returned — sorted in rsync's order, without descending.
// The entries share one array and one string of names, which the caller
// releases by dropping the slice (and every pointer into it).
func (l *Lister) ReadDir(dir string) ([]*Entry, error) {
	local, prefix := l.src, ""
	if dir != "." {
		local, prefix = l.res.Root+dir, dir+"/"
	}
	var ents []Entry
	var links map[*Entry]inode
	have := false // ents and links are this directory's
	if l.shared != nil {
		// The directory's state before it is read: a reading kept under
		// it is taken while the directory is still in it. One that
		// cannot be stat'ed is read here alone (and warns, as it fails).
		if state, ok := dirStateOf(local); ok {
			key := l.sharedKey + local
			if ents, links, have = l.shared.take(key, state, l.subdirsCurrent); !have {
				var err error
				if ents, links, err = l.readKept(key, state, local, prefix); err != nil {
					return nil, err
				}
				have = true
			}
		}
	}
	if !have {
		ents, _ = l.w.read(local, prefix)
		links = l.w.links
		if err := l.w.err; err != nil {
			// What a whole walk fails on too (walker.read); unreadable and
			// vanished directories are warnings.
			return nil, err
		}
	}
	out := make([]*Entry, len(ents))
	for i := range ents {
		out[i] = &ents[i]
	}
	for e, id := range links {
		e.HlinkGroup = l.inodes.of(id)
	}
	clear(l.w.links)
	return out, nil // read sorts each directory
}

// subdirsCurrent reports whether each directory among ents lists now as
// it did (mode, times, owner, size): a subdirectory's times move with
// what is added to or removed from it, which its parent's times do not.
func (l *Lister) subdirsCurrent(ents []Entry) bool {
	var st fileStat
	var now Entry
	for i := range ents {
		e := &ents[i]
		if !e.IsDir() {
			continue
		}
		if err := lstat(l.res.Root+e.Name, &st); err != nil {
			return false
		}
		setStat(&now, e.Name, &st)
		if now.Mode != e.Mode || now.ModTime != e.ModTime || now.ModNsec != e.ModNsec ||
			now.UID != e.UID || now.GID != e.GID || now.Size != e.Size {
			return false
		}
	}
	return true
}

// readKept reads the directory local, which take handed to this Lister
// under key, and hands the reading to done, whatever happens: another
// Lister may be waiting for it. A reading that warned is not kept: every
// Lister reports it.
func (l *Lister) readKept(key string, state dirState, local, prefix string) (ents []Entry, links map[*Entry]inode, err error) {
	keep := false
	defer func() { l.shared.done(key, state, ents, links, keep) }()
	warned := len(l.res.Warnings) + len(l.res.Skipped)
	ents, _ = l.w.read(local, prefix)
	links = l.w.links
	if err := l.w.err; err != nil {
		return nil, nil, err
	}
	// Kept only when the path still names the directory stat'ed before
	// the read, unchanged: the read opens the path again, and a directory
	// swapped in between (a release's symlink flipped, a rename) would
	// have its entries kept under the other one's state.
	after, ok := dirStateOf(local)
	keep = len(l.res.Warnings)+len(l.res.Skipped) == warned && ok && after == state
	return ents, links, nil
}

// topEntry is a source's top entry and its Root (WalkResult.Root).
type topEntry struct {
	Entry Entry
	Root  string
	ID    FileID // what the lstat said of its identity
}

// walkTop stats the source src as WalkWith does and makes its top entry.
func walkTop(src string) (topEntry, error) {
	if src == "" {
		return topEntry{}, errors.New("source path is empty")
	}
	var st fileStat
	if err := lstat(src, &st); err != nil {
		return topEntry{}, fmt.Errorf("source %s: %w", src, &fs.PathError{Op: "lstat", Path: src, Err: err})
	}
	contents := strings.HasSuffix(src, "/") || strings.HasSuffix(src, "/.") || src == "."
	if contents && st.mode&SIFMT == SIFLNK {
		if err := stat(src, &st); err != nil {
			return topEntry{}, fmt.Errorf("source %s: %w", src, &fs.PathError{Op: "stat", Path: src, Err: err})
		}
	}
	var t topEntry
	clean := filepath.Clean(src)
	var rootName string
	if contents && st.mode&SIFMT == SIFDIR {
		rootName = "."
		t.Root = strings.TrimSuffix(clean, "/") + "/"
	} else {
		rootName = filepath.Base(clean)
		if parent := filepath.Dir(clean); parent != "." {
			t.Root = strings.TrimSuffix(parent, "/") + "/"
		}
	}
	setStat(&t.Entry, rootName, &st)
	t.ID = st.id()
	if t.Entry.IsSymlink() {
		if err := readLink(&t.Entry, src); err != nil {
			return topEntry{}, err
		}
	}
	if t.Entry.IsDir() {
		t.Entry.TopDir = true
	}
	if !t.Entry.IsDir() && !t.Entry.IsRegular() && !t.Entry.IsSymlink() {
		return topEntry{}, fmt.Errorf("source %s is not a regular file, directory or symlink", src)
	}
	return t, nil
}
