package flist

import "sync"

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
// Readings that warned (a vanished file, an unreadable directory) are
// not kept: the next Lister reads again and reports for itself. At most
// limit entries are kept in all; past that, Listers read for themselves.
// Safe for concurrent use.
type DirReadings struct {
	mu      sync.Mutex
	dirs    map[string]sharedReading // by the Lister's key and the directory's local path
	reading map[string]chan struct{} // directories being read, closed when done
	entries int
	limit   int
	// hits counts the directories handed out from a reading (tests).
	hits int
}

// sharedReading is one directory's entries as read, and the inodes of
// those with more than one link (-H), by index.
type sharedReading struct {
	ents  []Entry
	links map[int]inode
}

// NewDirReadings returns an empty set that keeps up to limit entries.
func NewDirReadings(limit int) *DirReadings {
	return &DirReadings{dirs: map[string]sharedReading{}, reading: map[string]chan struct{}{}, limit: limit}
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
// the copies' addresses. When there is none, and no other Lister is
// reading it (take waits for one that is), it returns ok false: the
// caller reads the directory and must then call done, whatever happens.
func (d *DirReadings) take(key string) (ents []Entry, links map[*Entry]inode, ok bool) {
	if d == nil {
		return nil, nil, false
	}
	for {
		d.mu.Lock()
		if r, kept := d.dirs[key]; kept {
			d.hits++
			d.mu.Unlock()
			return r.copyOut()
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

// done ends the reading of key that take handed to the caller, keeping
// a copy of ents with its links (keyed by the addresses of ents'
// elements) when keep is set and the limit allows.
func (d *DirReadings) done(key string, ents []Entry, links map[*Entry]inode, keep bool) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if keep && d.entries+len(ents) <= d.limit {
		r := sharedReading{ents: append([]Entry(nil), ents...)}
		for i := range ents {
			if id, ok := links[&ents[i]]; ok {
				if r.links == nil {
					r.links = map[int]inode{}
				}
				r.links[i] = id
			}
		}
		d.dirs[key] = r
		d.entries += len(ents)
	}
	close(d.reading[key])
	delete(d.reading, key)
}

// copyOut is a copy of r's entries and their links.
func (r sharedReading) copyOut() ([]Entry, map[*Entry]inode, bool) {
	ents := append([]Entry(nil), r.ents...)
	var links map[*Entry]inode
	if len(r.links) > 0 {
		links = make(map[*Entry]inode, len(r.links))
		for i, id := range r.links {
			links[&ents[i]] = id
		}
	}
	return ents, links, true
}
