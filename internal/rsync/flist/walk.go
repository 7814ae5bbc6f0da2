package flist

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Skipper decides whether a path (relative to the transfer root, "/"
// separated) is left out of the list; isDir tells whether it is a directory.
type Skipper func(name string, isDir bool) bool

// WalkOptions say what of rsync -a's fidelity a walk serves.
type WalkOptions struct {
	// Devices and Specials are rsync's --devices and --specials (-D):
	// whether device files, and fifos and sockets, are copied. The walk
	// lists them either way, as rsync's sender does, so that a receiver
	// leaves alone (does not delete) what stands at their names; when they
	// are not copied it says so in Skipped.
	Devices, Specials bool
	// HardLinks is -H: names of one inode are marked as one set
	// (Entry.HlinkGroup).
	HardLinks bool
}

// AllOptions is rsync -a: devices and specials, no hard links.
func AllOptions() WalkOptions { return WalkOptions{Devices: true, Specials: true} }

// WalkResult is a local tree read into file-list entries.
type WalkResult struct {
	Entries  []*Entry // sorted in rsync order
	Warnings []string // unreadable or unsupported files that were skipped
	// Skipped says which listed files are not copied because the options
	// leave their kind out (devices or specials off): deliberate, unlike
	// Warnings.
	Skipped []string
	IOError int32 // rsync's io_error bits: IOErrGeneral, IOErrVanished

	// Root is what an entry's name is appended to for its local path: the
	// source directory with a trailing "/" when its contents are listed
	// ("dir/" lists "a" as "dir/a"), the directory above the source when
	// the source itself is listed ("x/dir" lists "dir/a" as "x/dir/a"),
	// or "" for a source in the current directory. One string for the
	// whole list rather than a path per entry: a push holds the list for
	// its whole run, and for many small files the paths were the largest
	// part of it.
	Root string
}

// LocalPath is where e, an entry of r, is read from on the local disk.
func (r *WalkResult) LocalPath(e *Entry) string {
	return r.Root + e.Name
}

// io_error bits (rsync.h IOERR_*): a general read error makes the receiver
// skip deletions and exit 23; vanished files only give exit 24.
const (
	IOErrGeneral  = 1
	IOErrVanished = 2
)

// Walk lists the local source named by src with rsync's trailing-slash rule
// (flist.c:send_file_list): "dir/" lists the contents of dir under the root
// ".", "dir" lists dir itself under the name "dir", and a non-directory is
// listed under its base name. skip may be nil. Symlinks are listed, not
// followed. Walk serves rsync -a (AllOptions); WalkWith takes options.
func Walk(src string, skip Skipper) (*WalkResult, error) {
	return WalkWith(src, skip, AllOptions())
}

// WalkWith is Walk with opts.
func WalkWith(src string, skip Skipper, opts WalkOptions) (*WalkResult, error) {
	top, err := walkTop(src)
	if err != nil {
		return nil, err
	}
	res := &WalkResult{Root: top.Root}
	root := &top.Entry
	rootName := root.Name
	clean := filepath.Clean(src)
	res.Entries = append(res.Entries, root)
	var links map[*Entry]inode
	if root.IsDir() {
		prefix := ""
		if rootName != "." {
			prefix = rootName + "/"
		}
		var err error
		if links, err = walkDir(res, strings.TrimSuffix(clean, "/"), prefix, skip, opts); err != nil {
			return nil, err
		}
	}
	if len(links) > 0 {
		groupLinks(res.Entries, links)
	}
	return res, nil
}

// inode identifies a file on its file system, for -H.
type inode struct{ dev, ino uint64 }

// inodeLabels gives each inode met in a walk a label of its own, 1, 2, …
// in the order they are first met: the HlinkGroup of every name of it,
// for a walk that hands entries over as it goes (Lister, Stream) and so
// cannot label a set by its first name's list position.
type inodeLabels struct {
	m    map[inode]uint32
	last uint32
}

// of returns id's label, giving it the next one when first met.
func (l *inodeLabels) of(id inode) uint32 {
	if g, ok := l.m[id]; ok {
		return g
	}
	if l.m == nil {
		l.m = map[inode]uint32{}
	}
	l.last++
	l.m[id] = l.last
	return l.last
}

// groupLinks marks the entries that are names of one inode as one set,
// labelled by the position of its first name in the sorted list (what
// the encoder sends as XMIT_HLINK_FIRST). A name whose other links are
// all outside the list forms a set of one, as with rsync.
func groupLinks(entries []*Entry, links map[*Entry]inode) {
	first := make(map[inode]uint32, len(links))
	for i, e := range entries {
		id, ok := links[e]
		if !ok {
			continue
		}
		g, seen := first[id]
		if !seen {
			g = uint32(i) + 1
			first[id] = g
		}
		e.HlinkGroup = g
	}
}

// walker reads directories on several goroutines: on a page-cached tree
// the walk is one lstat(2) per entry, and syscalls are what it waits on.
// Each directory's entries are sorted as they are read, and the list is
// put together afterwards in rsync's order, so the order of discovery does
// not matter and no sort of the whole list is needed (it was a fifth of a
// no-change plan's CPU at 100,000 files).
type walker struct {
	skip Skipper
	opts WalkOptions
	ids  bool          // read also returns each entry's FileID
	sem  chan struct{} // bounds the goroutines reading directories
	wg   sync.WaitGroup

	mu    sync.Mutex
	res   *WalkResult
	links map[*Entry]inode // -H: the entries with more than one link
	err   error
}

// walkNode is one directory read: its entries in rsync order, and for
// each of them that is a directory, the node of its contents.
type walkNode struct {
	ents []Entry
	subs []*walkNode // parallel to ents; nil for a non-directory
}

func walkDir(res *WalkResult, dir, prefix string, skip Skipper, opts WalkOptions) (map[*Entry]inode, error) {
	w := &walker{skip: skip, opts: opts, sem: make(chan struct{}, runtime.GOMAXPROCS(0)), res: res}
	var top walkNode
	w.dir(&top, dir, prefix)
	w.wg.Wait()
	if w.err != nil {
		return nil, w.err
	}
	res.Entries = top.appendTo(res.Entries)
	return w.links, nil
}

// appendTo appends the node's entries in rsync order (flist.c:f_name_cmp
// at protocol ≥ 29): within a directory its files sort before its
// directories, and a directory before its own contents, so the whole
// list is each directory's sorted entries with every subdirectory's
// contents right after the subdirectory: a depth-first walk.
func (n *walkNode) appendTo(out []*Entry) []*Entry {
	for i := range n.ents {
		out = append(out, &n.ents[i])
		if n.subs != nil && n.subs[i] != nil {
			out = n.subs[i].appendTo(out)
		}
	}
	return out
}

// dir lists the directory dir into node, whose entries are named prefix +
// their base name, then the directories found in it.
func (w *walker) dir(node *walkNode, dir, prefix string) {
	ents, _ := w.read(dir, prefix)
	if len(ents) == 0 {
		return
	}
	node.ents = ents
	for i := range ents {
		if !ents[i].IsDir() {
			continue
		}
		if node.subs == nil {
			node.subs = make([]*walkNode, len(ents))
		}
		sub := &walkNode{}
		node.subs[i] = sub
		local, name := dir+"/"+ents[i].Name[len(prefix):], ents[i].Name+"/"
		select {
		case w.sem <- struct{}{}:
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				defer func() { <-w.sem }()
				w.dir(sub, local, name)
			}()
		default:
			w.dir(sub, local, name)
		}
	}
}

// read lists one directory's entries, sorted in rsync's order, and with
// w.ids their FileIDs (ids[i] is ents[i]'s; nil otherwise). They are
// allocated together, one array per directory rather than one object per
// file (the list refers to them in place). Each entry is stat'ed relative to the open directory
// (fstatat(2), as lstat(2) but without resolving the directory's path
// again) into a buffer on the stack, so that nothing else is allocated per
// file; the directory is closed before its subdirectories are read, so
// the walk holds no descriptor per level.
func (w *walker) read(dir, prefix string) (ents []Entry, ids []FileID) {
	var warnings, skipped []string
	var ioErr int32
	defer func() {
		if len(warnings) > 0 || len(skipped) > 0 || ioErr != 0 {
			w.mu.Lock()
			w.res.Warnings = append(w.res.Warnings, warnings...)
			w.res.Skipped = append(w.res.Skipped, skipped...)
			w.res.IOError |= ioErr
			w.mu.Unlock()
		}
	}()
	f, err := os.Open(dir) //nolint:gosec // G703: listing the configured source tree is the job
	var des []fs.DirEntry
	if err == nil {
		defer f.Close()
		des, err = f.ReadDir(-1) // unsorted, unlike os.ReadDir
	}
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
			warnings = append(warnings, fmt.Sprintf("opendir %s failed: %v", dir, err))
			if errors.Is(err, fs.ErrNotExist) {
				ioErr |= IOErrVanished
			} else {
				ioErr |= IOErrGeneral
			}
			return nil, nil
		}
		w.mu.Lock()
		if w.err == nil {
			w.err = fmt.Errorf("read directory %s: %w", dir, err)
		}
		w.mu.Unlock()
		return nil, nil
	}
	// The names share one string per directory, as the entries share one
	// array: one allocation of the bytes themselves, not one per name.
	size := len(des) * len(prefix)
	for _, de := range des {
		size += len(de.Name())
	}
	var b strings.Builder
	b.Grow(size)
	for _, de := range des {
		b.WriteString(prefix)
		b.WriteString(de.Name())
	}
	names := b.String()

	statter := newDirStatter(f, dir)
	var st fileStat
	var linked map[string]inode // -H: the files with more than one link, by name
	ents = make([]Entry, 0, len(des))
	if w.ids {
		ids = make([]FileID, 0, len(des))
	}
	for _, de := range des {
		base := de.Name()
		var name string
		name, names = names[:len(prefix)+len(base)], names[len(prefix)+len(base):]
		if w.skip != nil && w.skip(name, de.IsDir()) {
			continue
		}
		if err := statter.lstat(base, &st); err != nil {
			// Vanished between readdir and lstat: rsync warns and goes on.
			warnings = append(warnings, fmt.Sprintf("file has vanished: %s/%s", dir, base))
			ioErr |= IOErrVanished
			continue
		}
		if st.unsupported {
			warnings = append(warnings, fmt.Sprintf("skipping non-regular file %q (a junction or mount point)", name))
			continue
		}
		ents = append(ents, Entry{})
		ent := &ents[len(ents)-1]
		setStat(ent, name, &st)
		if w.ids {
			ids = append(ids, st.id())
		}
		if ent.IsDevice() && !w.opts.Devices {
			skipped = append(skipped, fmt.Sprintf("skipping device file %q: devices is false", name))
		} else if ent.IsSpecial() && !w.opts.Specials {
			skipped = append(skipped, fmt.Sprintf("skipping %s %q: specials is false", specialKind(ent), name))
		}
		if ent.IsSymlink() {
			if err := readLink(ent, dir+"/"+base); err != nil {
				warnings = append(warnings, err.Error())
				ioErr |= IOErrGeneral
				ents = ents[:len(ents)-1]
				if w.ids {
					ids = ids[:len(ids)-1]
				}
				continue
			}
		}
		if w.opts.HardLinks && !ent.IsDir() && st.nlink > 1 {
			if linked == nil {
				linked = map[string]inode{}
			}
			linked[name] = inode{st.dev, st.ino}
		}
	}
	// Entries left out (excluded, vanished, devices) left room unused:
	// when that is more than a quarter, the kept ones move to storage of
	// their own size.
	if len(ents) < cap(ents)-cap(ents)/4 {
		ents = repack(ents)
	}
	// Sorted here, a directory at a time, in place: the entries stay in
	// their one array.
	sort.Sort(entryOrder{ents: ents, ids: ids, prefix: len(prefix)})
	if len(linked) > 0 {
		w.mu.Lock()
		if w.links == nil {
			w.links = map[*Entry]inode{}
		}
		for i := range ents {
			if id, ok := linked[ents[i].Name]; ok {
				w.links[&ents[i]] = id
			}
		}
		w.mu.Unlock()
	}
	return ents, ids
}

// entryOrder sorts the entries of one directory in place in rsync's
// order. Every name is the directory's prefix and one component, so
// Compare comes down to: files before directories, then the names, a
// directory's as "name/" (a fifth of the walk's CPU went to the general
// Compare here).
type entryOrder struct {
	ents   []Entry
	ids    []FileID // moved with ents, when not nil
	prefix int      // the length of the names' common prefix
}

func (o entryOrder) Len() int { return len(o.ents) }
func (o entryOrder) Less(i, j int) bool {
	a, b := &o.ents[i], &o.ents[j]
	return CompareSiblings(a.Name[o.prefix:], a.IsDir(), b.Name[o.prefix:], b.IsDir()) < 0
}
func (o entryOrder) Swap(i, j int) {
	o.ents[i], o.ents[j] = o.ents[j], o.ents[i]
	if o.ids != nil {
		o.ids[i], o.ids[j] = o.ids[j], o.ids[i]
	}
}

// specialKind names a special file's kind for messages.
func specialKind(e *Entry) string {
	if e.Type() == SIFSOCK {
		return "socket"
	}
	return "fifo"
}

// repack copies ents, and their names, into storage of their own size.
func repack(ents []Entry) []Entry {
	packed := slices.Clone(ents)
	size := 0
	for i := range packed {
		size += len(packed[i].Name)
	}
	var b strings.Builder
	b.Grow(size)
	for i := range packed {
		b.WriteString(packed[i].Name)
	}
	names := b.String()
	for i := range packed {
		n := len(packed[i].Name)
		packed[i].Name, names = names[:n], names[n:]
	}
	return packed
}

// readLink sets a symlink entry's target, read from local; its size is
// the target's length, as lstat reports on Linux.
func readLink(ent *Entry, local string) error {
	target, err := ReadLink(local)
	if err != nil {
		return fmt.Errorf("readlink %s: %w", local, err)
	}
	ent.LinkTarget = target
	ent.Size = int64(len(target))
	return nil
}
