package rsync

import "github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"

// sentEntry is what the incremental sender keeps of an entry it has sent,
// until the generator is done with its list: what a request for it needs,
// in 56 bytes where a flist.Entry takes 104 and the walker's entries come
// in one array per directory. The lists in flight hold up to
// MAX_FILECNT_LOOKAHEAD entries (push_inc.go), which made them most of a
// push's live heap (100,000 tiny files: 1.5 of 2 MB). rsync keeps about
// as little per file (flist.c's file_struct and its extras).
//
// An entry with a field a plain file or directory does not use (a link
// target, a device number, a hard-link group, the top-directory flag) is
// kept whole in full; a -c checksum goes in the list's sums.
type sentEntry struct {
	name     string
	size     int64
	modTime  int64
	mode     uint32
	modNsec  int32
	uid, gid uint32
	full     *flist.Entry
}

// packEntries makes the sent form of a list's entries: their own copies,
// so that the directory's entry array can go. sums holds the checksums
// when any entry has one (-c), else nil.
func packEntries(entries []*flist.Entry) (packed []sentEntry, sums [][]byte) {
	packed = make([]sentEntry, len(entries))
	for i, e := range entries {
		if len(e.Checksum) > 0 && sums == nil {
			sums = make([][]byte, len(entries))
		}
		if sums != nil {
			sums[i] = e.Checksum
		}
		if e.LinkTarget != "" || e.RdevMajor != 0 || e.RdevMinor != 0 || e.HlinkGroup != 0 || e.TopDir {
			c := *e
			packed[i] = sentEntry{name: e.Name, full: &c}
			continue
		}
		packed[i] = sentEntry{
			name: e.Name, size: e.Size, modTime: e.ModTime, mode: e.Mode, modNsec: e.ModNsec,
			uid: e.UID, gid: e.GID,
		}
	}
	return packed, sums
}

// entry is entry i of l as a flist.Entry: a new one but for those kept
// whole (each request for a file gets its own, which the request's
// handling may keep).
func (l *sentList) entry(i int) *flist.Entry {
	p := &l.entries[i]
	if p.full != nil {
		return p.full
	}
	e := &flist.Entry{
		Name: p.name, Size: p.size, ModTime: p.modTime, Mode: p.mode, ModNsec: p.modNsec,
		UID: p.uid, GID: p.gid,
	}
	if l.sums != nil {
		e.Checksum = l.sums[i]
	}
	return e
}
