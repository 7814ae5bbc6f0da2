package flist

import (
	"sync"
	"time"
)

// DirReadings shares directory readings among the Listers that list one
// source with the same skip rules and options (Lister.ShareReadings names
// them by a key): one source pushed to many hosts (for_each over a server
// list) had every push stat every file of it again, twenty pushes twenty
// times, which was a quarter of the apply's CPU in a fleet of twenty
// (issue 15). A reading is kept as it was read, before its caller changes
// anything (a sender applies chmod and adds checksums to the entries it
// is handed), and every Lister gets a copy of its own. A Lister that asks
// for a directory another one is reading waits for that reading instead
// of making its own.
//
// A reading is taken again only while its directory is as it was read —
// the same inode, modification and change times, which an entry added,
// removed or renamed in it moves (a build step that rewrites the source
// between two pushes) — and its subdirectories list as they did (their
// times move with their contents). A directory that changed within
// racyDirWindow before it was read is not kept, as its times might not
// move again for a change within the same clock tick. What this does not
// see is a file rewritten in place (its directory's times do not move):
// a later push lists its earlier size and times and sends its content as
// it is then, as the resources' re-plans, which share one walk of the
// source per provider walk (the provider's sourceWalks), plan it. The
// provider holds that nothing but its own resources writes a local source
// during a walk.
//
// Readings that warned (a vanished file, an unreadable directory) are
// not kept: the next Lister reads again and reports for itself; nor are
// readings of a directory whose path named another one after the read
// than before it, nor on a platform that gives directories no identity
// (Windows: there every push reads for itself). At most limit entries
// are kept in all, a directory counting one beside its entries; past
// that, Listers read for themselves.
// Safe for concurrent use.
type DirReadings struct {
	mu      sync.Mutex
	dirs    map[string]*sharedReading // by the Lister's key and the directory's local path
	reading map[string]chan struct{}  // directories being read, closed when done
	entries int
	limit   int
	// racy is racyDirWindow, or what a test sets.
	racy time.Duration
	// hits counts the directories handed out from a reading (tests).
	hits int
}

// racyDirWindow covers the coarse clocks of file systems (ext4 takes the
// kernel's tick; FAT 2 s), as the digest cache's window does.
const racyDirWindow = 3 * time.Second

// dirState is what tells a directory unchanged since it was read.
type dirState struct {
	id    FileID
	mtime int64 // nanoseconds since the epoch
}

// dirStateOf stats the directory at local (following a symlink, as the
// reading opens it); ok is false when it cannot be stat'ed.
func dirStateOf(local string) (dirState, bool) {
	var st fileStat
	if err := stat(local, &st); err != nil {
		return dirState{}, false
	}
	return dirState{id: st.id(), mtime: st.mtime*int64(time.Second) + int64(st.mtimeNsec)}, true
}

// sharedReading is one directory's entries as read, and the inodes of
// those with more than one link (-H), by index; state is the directory's
// as stat'ed before it was read.
type sharedReading struct {
	state dirState
	ents  []Entry
	links map[int]inode
}

// NewDirReadings returns an empty set that keeps up to limit entries.
func NewDirReadings(limit int) *DirReadings {
	return &DirReadings{dirs: map[string]*sharedReading{}, reading: map[string]chan struct{}{}, limit: limit, racy: racyDirWindow}
}

// SetRacyWindow replaces racyDirWindow: a directory that changed less
// than window before it was read is not kept. Tests that list trees they
// have just written set a negative window.
func (d *DirReadings) SetRacyWindow(window time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.racy = window
}

// Hits is how many directory readings were handed out again.
func (d *DirReadings) Hits() int {
	if d == nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hits
}

// take returns a copy of the reading under key, with its links keyed by
// the copies' addresses, when it was made of the directory in the state
// now and current says its entries are as they would be listed now.
// Otherwise, unless another Lister is reading it (take waits for that
// one), it returns ok false: the caller reads the directory and must
// then call done, whatever happens.
func (d *DirReadings) take(key string, now dirState, current func([]Entry) bool) (ents []Entry, links map[*Entry]inode, ok bool) {
	if d == nil {
		return nil, nil, false
	}
	for {
		d.mu.Lock()
		if r, kept := d.dirs[key]; kept && r.state == now {
			d.mu.Unlock()
			ents, links := r.copyOut()
			if current(ents) { // stats the subdirectories: not under the lock
				d.mu.Lock()
				d.hits++
				d.mu.Unlock()
				return ents, links, true
			}
			d.mu.Lock()
			if d.dirs[key] == r {
				delete(d.dirs, key)
				d.entries -= len(r.ents) + 1
			}
			d.mu.Unlock()
			continue
		}
		busy, isBusy := d.reading[key]
		if !isBusy {
			d.reading[key] = make(chan struct{})
			d.mu.Unlock()
			return nil, nil, false
		}
		d.mu.Unlock()
		// A reading of one directory: readdir and an lstat per entry,
		// which no context could cut short either.
		<-busy
	}
}

// done ends the reading of key that take handed to the caller. With keep
// set it keeps a copy of ents with its links (keyed by the addresses of
// ents' elements) in place of an older reading, when the directory, in
// state before it was read, had not changed just before and the limit
// allows.
func (d *DirReadings) done(key string, state dirState, ents []Entry, links map[*Entry]inode, keep bool) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, hadOld := d.dirs[key]; hadOld {
		delete(d.dirs, key)
		d.entries -= len(old.ents) + 1
	}
	settled := time.Now().Add(-d.racy).UnixNano()
	// A directory without an identity (Windows reports none) is not
	// kept: its modification time alone would take another directory
	// with the same time for it. The limit counts each reading as its
	// entries and one for the directory, so that empty directories do
	// not pile up past it.
	cost := len(ents) + 1
	if keep && state.id != (FileID{}) && state.id.Ctime < settled && state.mtime < settled && d.entries+cost <= d.limit {
		r := &sharedReading{state: state, ents: append([]Entry(nil), ents...)}
		for i := range ents {
			if id, ok := links[&ents[i]]; ok {
				if r.links == nil {
					r.links = map[int]inode{}
				}
				r.links[i] = id
			}
		}
		d.dirs[key] = r
		d.entries += cost
	}
	close(d.reading[key])
	delete(d.reading, key)
}

// copyOut is a copy of r's entries and their links.
func (r *sharedReading) copyOut() ([]Entry, map[*Entry]inode) {
	ents := append([]Entry(nil), r.ents...)
	var links map[*Entry]inode
	if len(r.links) > 0 {
		links = make(map[*Entry]inode, len(r.links))
		for i, id := range r.links {
			links[&ents[i]] = id
		}
	}
	return ents, links
}
