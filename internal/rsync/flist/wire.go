package flist

import (
	"fmt"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// XMIT_* bits of a file-list entry's flags (rsync.h).
const (
	xmitTopDir          = 1 << 0
	xmitSameMode        = 1 << 1
	xmitExtendedFlags   = 1 << 2
	xmitSameUID         = 1 << 3
	xmitSameGID         = 1 << 4
	xmitSameName        = 1 << 5
	xmitLongName        = 1 << 6
	xmitSameTime        = 1 << 7
	xmitSameRdevMajor   = 1 << 8 // devices
	xmitNoContentDir    = 1 << 8 // directories
	xmitHlinked         = 1 << 9
	xmitUserNameFollows = 1 << 10
	xmitGrpNameFollows  = 1 << 11
	xmitHlinkFirst      = 1 << 12
	xmitIOErrorEndlist  = 1 << 12 // with xmitExtendedFlags and no name
	xmitModNsec         = 1 << 13
	xmitSameAtime       = 1 << 14
	xmitCrtimeEqMtime   = 1 << 17

	// Protocols before 30 give some bits other meanings (rsync.h).
	xmitSameRdevPre28   = 1 << 2  // protocols < 28: no extended flags; rdev as before
	xmitSameDevPre30    = 1 << 10 // protocols 28–29, hard links (-H) only
	xmitRdevMinor8Pre30 = 1 << 11 // protocols 28–29: the rdev minor is one byte
)

// Limits on what a peer may describe, checked before allocation.
const (
	MaxPathLen = 4096    // MAXPATHLEN
	MaxEntries = 1 << 22 // entries in one list: bounds what a peer can make us hold (about 4M entries, well under 1 GiB)
	maxLinkLen = MaxPathLen
	maxIDName  = 255
)

// Codec holds what both sides agreed on for the list encoding.
type Codec struct {
	Protocol        int
	VarintFlags     bool // compat VARINT_FLIST_FLAGS
	PreserveUID     bool // -o
	PreserveGID     bool // -g
	PreserveLinks   bool // -l
	PreserveDevices bool // --devices (half of -D): block and character devices carry their rdev
	// PreserveSpecials is --specials (the other half of -D): at protocol 30
	// fifos and sockets carry a (zero) rdev.
	PreserveSpecials bool
	// PreserveHardLinks is -H: at protocol 30+ the first entry of a set of
	// hard links is marked, and each later one is its name and the index of
	// that first entry, nothing else (flist.c:send_file_entry).
	PreserveHardLinks bool
	ChecksumLen       int // with -c: bytes of each regular file's sum; 0 = no sums
	// IncRecurse is incremental recursion (CF_INC_RECURSE): no id lists
	// after the list; the name of each uid and gid follows the entry that
	// first uses it (XMIT_USER_NAME_FOLLOWS, flist.c:send_file_entry), and
	// lists come one directory at a time (Encoder.StartList).
	IncRecurse bool
}

// state is the "same as previous entry" compression state shared by the
// encoder and decoder (the statics of send_file_entry/recv_file_entry).
type state struct {
	mode      uint32
	modtime   int64
	uid, gid  uint32
	haveIDs   bool
	rdevMajor uint32
	rdevMinor uint32 // protocols < 28 keep the whole rdev
	name      string
}

// Encoder writes entries (flist.c:send_file_entry).
type Encoder struct {
	c  Codec
	w  *wire.Writer
	st state
	n  int32 // entries written: the index of the next one
	// hlinks maps a hard-link set (Entry.HlinkGroup) to the index its
	// first entry was sent at.
	hlinks map[uint32]int32
	// listStart is the index of the current list's first entry: a later
	// hard link whose first name went in an earlier list is sent whole
	// after that name's index (flist.c:send_file_entry "unabbrev").
	listStart int32
	// With IncRecurse: the uids and gids whose names went out already
	// (uidlist.c:add_uid), and how names are found.
	uidSeen, gidSeen map[uint32]bool
	names            NameLookup
}

// NewEncoder returns an encoder writing to w.
func NewEncoder(c Codec, w *wire.Writer) *Encoder { return &Encoder{c: c, w: w} }

// Encode writes one entry.
func (e *Encoder) Encode(ent *Entry) error {
	c, st := &e.c, &e.st
	var flags uint32
	if ent.IsDir() && ent.TopDir {
		flags |= xmitTopDir
	}
	if ent.IsDir() && ent.NoContent && c.Protocol >= 30 {
		// With XMIT_TOP_DIR this is rsync's implied directory
		// (flist.c:send_file_entry, FLAG_IMPLIED_DIR), otherwise its -d
		// directory: either way not a content directory.
		flags |= xmitNoContentDir
	}
	if ent.Mode == st.mode {
		flags |= xmitSameMode
	}
	if !c.PreserveUID || (st.haveIDs && ent.UID == st.uid) {
		flags |= xmitSameUID
	}
	if !c.PreserveGID || (st.haveIDs && ent.GID == st.gid) {
		flags |= xmitSameGID
	}
	var userName, groupName string
	if c.IncRecurse && c.Protocol >= 30 {
		if flags&xmitSameUID == 0 {
			if userName = newName(&e.uidSeen, ent.UID, e.userLookup()); userName != "" {
				flags |= xmitUserNameFollows
			}
		}
		if flags&xmitSameGID == 0 {
			if groupName = newName(&e.gidSeen, ent.GID, e.groupLookup()); groupName != "" {
				flags |= xmitGrpNameFollows
			}
		}
	}
	if ent.ModTime == st.modtime {
		flags |= xmitSameTime
	}
	if c.Protocol >= 31 && ent.ModNsec != 0 {
		flags |= xmitModNsec
	}
	isDev := c.PreserveDevices && ent.IsDevice()
	// Fifos and sockets need no rdev; below 31 one still travels for them
	// (a zero minor, the major of the previous device), made as short as
	// the protocol allows (flist.c:send_file_entry).
	special := !isDev && c.PreserveSpecials && ent.IsSpecial() && c.Protocol < 31
	switch {
	case c.Protocol < 28 && isDev:
		// Below 28 the whole previous rdev is kept, as the 32-bit dev_t
		// that travels.
		if linuxMakedev(ent.RdevMajor, ent.RdevMinor) == linuxMakedev(st.rdevMajor, st.rdevMinor) {
			flags |= xmitSameRdevPre28
		}
	case c.Protocol < 28 && special:
		flags |= xmitSameRdevPre28
	case isDev:
		if ent.RdevMajor == st.rdevMajor {
			flags |= xmitSameRdevMajor
		}
		if c.Protocol < 30 && ent.RdevMinor <= 0xff {
			flags |= xmitRdevMinor8Pre30
		}
	case special:
		flags |= xmitSameRdevMajor // protocols 28–30 send a zero minor for specials
		if c.Protocol < 30 {
			flags |= xmitRdevMinor8Pre30
		}
	}
	// A later name of a hard-linked inode is sent as its name and the
	// index of the first one: the receiver copies everything else.
	firstLink := int32(-1)
	// Below 30 hard links are a device and inode pair (XMIT_SAME_DEV_pre30),
	// which this encoder does not write: the session refuses -H there.
	if c.PreserveHardLinks && c.Protocol >= 30 && ent.HlinkGroup != 0 && !ent.IsDir() {
		flags |= xmitHlinked
		if first, ok := e.hlinks[ent.HlinkGroup]; ok {
			firstLink = first
		} else {
			flags |= xmitHlinkFirst
			if e.hlinks == nil {
				e.hlinks = map[uint32]int32{}
			}
			e.hlinks[ent.HlinkGroup] = e.n
		}
	}
	name := ent.Name
	l1 := 0
	for l1 < len(name) && l1 < len(st.name) && l1 < 255 && name[l1] == st.name[l1] {
		l1++
	}
	l2 := len(name) - l1
	if l1 > 0 {
		flags |= xmitSameName
	}
	if l2 > 255 {
		flags |= xmitLongName
	}

	switch {
	case c.VarintFlags:
		if flags == 0 {
			flags = xmitExtendedFlags // 0 would end the list
		}
		e.w.Varint(int32(flags))
	case c.Protocol < 28:
		// One byte, no extended flags: a zero byte ends the list, so an
		// entry without low bits borrows a meaningless one.
		if flags&0xff == 0 {
			if ent.IsDir() {
				flags |= xmitLongName
			} else {
				flags |= xmitTopDir
			}
		}
		e.w.Byte(byte(flags))
	default:
		if flags == 0 && !ent.IsDir() {
			flags |= xmitTopDir // filler bit: a zero byte would end the list
		}
		if flags&0xff00 != 0 || flags == 0 {
			flags |= xmitExtendedFlags
			e.w.Shortint(uint16(flags))
		} else {
			e.w.Byte(byte(flags))
		}
	}
	if flags&xmitSameName != 0 {
		e.w.Byte(byte(l1))
	}
	if flags&xmitLongName != 0 {
		e.w.Varint30(int32(l2), c.Protocol)
	} else {
		e.w.Byte(byte(l2))
	}
	e.w.Raw([]byte(name[l1:]))
	e.n++
	// The sender's "same as before" state moves on as if the whole entry
	// had been sent (send_file_entry updates its statics before writing).
	st.mode, st.modtime, st.name = ent.Mode, ent.ModTime, name
	st.uid, st.gid, st.haveIDs = ent.UID, ent.GID, true
	if firstLink >= 0 && firstLink < e.listStart {
		// The first name went in an earlier list, which the receiver may
		// have freed: the whole entry follows the index.
		e.w.Varint(firstLink)
		firstLink = -1
	}
	if firstLink >= 0 {
		// Except the rdev major: a receiver does not take it from the
		// first entry (recv_file_entry), so neither do we, or the next
		// device's XMIT_SAME_RDEV_MAJOR would mean different majors on
		// the two sides.
		e.w.Varint(firstLink)
		return e.w.Err()
	}
	switch {
	case isDev:
		st.rdevMajor, st.rdevMinor = ent.RdevMajor, ent.RdevMinor
	case c.Protocol < 28 && !special:
		// Below 28 any other entry resets the kept rdev, on both sides
		// (flist.c:send_file_entry, recv_file_entry "rdev = MAKEDEV(0, 0)").
		st.rdevMajor, st.rdevMinor = 0, 0
	}

	e.w.Varlong30(ent.Size, 3, c.Protocol)
	if flags&xmitSameTime == 0 {
		if c.Protocol < 30 {
			// 4 bytes, read back unsigned (flist.c:recv_file_entry
			// read_uint): 1970..2106; times outside it cannot be sent.
			e.w.Int32(int32(uint32(clampUint32(ent.ModTime))))
		} else {
			e.w.Varlong(ent.ModTime, 4)
		}
	}
	if flags&xmitModNsec != 0 {
		e.w.Varint(ent.ModNsec)
	}
	if flags&xmitSameMode == 0 {
		e.w.Int32(int32(ent.Mode))
	}
	if c.PreserveUID && flags&xmitSameUID == 0 {
		e.w.Varint30(int32(ent.UID), c.Protocol)
		if userName != "" { // not the flag: below 30 its bit means something else
			e.w.Byte(byte(len(userName)))
			e.w.Raw([]byte(userName))
		}
	}
	if c.PreserveGID && flags&xmitSameGID == 0 {
		e.w.Varint30(int32(ent.GID), c.Protocol)
		if groupName != "" { // XMIT_RDEV_MINOR_8_pre30 below 30
			e.w.Byte(byte(len(groupName)))
			e.w.Raw([]byte(groupName))
		}
	}
	if isDev || special {
		minor := ent.RdevMinor
		if special {
			minor = 0
		}
		switch {
		case c.Protocol < 28:
			if flags&xmitSameRdevPre28 == 0 {
				e.w.Int32(int32(linuxMakedev(ent.RdevMajor, minor)))
			}
		default:
			if flags&xmitSameRdevMajor == 0 {
				e.w.Varint30(int32(ent.RdevMajor), c.Protocol)
			}
			switch {
			case c.Protocol >= 30:
				e.w.Varint(int32(minor))
			case flags&xmitRdevMinor8Pre30 != 0:
				e.w.Byte(byte(minor))
			default:
				e.w.Int32(int32(minor))
			}
		}
	}
	if c.PreserveLinks && ent.IsSymlink() {
		e.w.Varint30(int32(len(ent.LinkTarget)), c.Protocol)
		e.w.Raw([]byte(ent.LinkTarget))
	}
	if c.ChecksumLen > 0 && (ent.IsRegular() || c.Protocol < 28) {
		sum := ent.Checksum
		if len(sum) != c.ChecksumLen || !ent.IsRegular() {
			// An unreadable file is all zeros, as rsync sends; below 28
			// every entry carries "a useless set of nulls".
			sum = make([]byte, c.ChecksumLen)
		}
		e.w.Raw(sum)
	}
	return e.w.Err()
}

// End writes the end-of-list marker with the sender's io_error bits
// (flist.c:write_end_of_flist).
//
// Below protocol 30 the end is one zero byte; the io_error bits follow the
// id lists as an int32 (flist.c:send_file_list), which the caller writes.
func (e *Encoder) End(ioError int32) error {
	if e.c.Protocol < 30 {
		e.w.Byte(0)
		return e.w.Err()
	}
	if e.c.VarintFlags {
		e.w.Varint(0)
		e.w.Varint(ioError)
	} else if ioError != 0 {
		e.w.Shortint(xmitExtendedFlags | xmitIOErrorEndlist)
		e.w.Varint(ioError)
	} else {
		e.w.Byte(0)
	}
	return e.w.Err()
}

// Decoder reads entries (flist.c:recv_file_entry).
type Decoder struct {
	c  Codec
	r  *wire.Reader
	st state
	// IOError holds the io_error bits sent with the end marker.
	IOError int32
	n       int
	// firsts holds, by received index, the entries the sender marked as
	// the first of a hard-link set: the later ones copy them. At most one
	// per entry received, so bounded by MaxEntries as the list is.
	firsts map[int32]*Entry
	// UIDNames and GIDNames are the names that came inline (Codec.IncRecurse),
	// one per id, in arrival order; at most one per entry received.
	UIDNames, GIDNames []IDName
	seenUID, seenGID   map[uint32]bool
}

// NewList starts the next list of an incremental transfer: the entry count
// (and its MaxEntries bound) and the hard-link references are per list;
// the "same as previous entry" state carries on, as rsync's statics do
// across lists (flist.c:recv_file_entry).
func (d *Decoder) NewList() {
	d.n = 0
	d.firsts = nil
}

// NewDecoder returns a decoder reading from r.
func NewDecoder(c Codec, r *wire.Reader) *Decoder { return &Decoder{c: c, r: r} }

// Next reads one entry; it returns nil, nil at the end of the list.
// Names are checked: no absolute paths, no ".." components, no empty
// components, no NUL bytes — the peer decides what we would write.
func (d *Decoder) Next() (*Entry, error) {
	c, st, r := &d.c, &d.st, d.r
	var flags uint32
	if c.VarintFlags {
		flags = uint32(r.Varint())
	} else {
		flags = uint32(r.Byte())
		// Below 28 bit 2 is SAME_RDEV, not a second flags byte.
		if c.Protocol >= 28 && flags&xmitExtendedFlags != 0 {
			flags |= uint32(r.Byte()) << 8
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("read flags of entry %d: %w", d.n, err)
	}
	if flags == 0 {
		if c.VarintFlags {
			d.IOError |= r.Varint()
		}
		return nil, r.Err()
	}
	if c.Protocol >= 30 && flags == xmitExtendedFlags|xmitIOErrorEndlist {
		d.IOError |= r.Varint()
		return nil, r.Err()
	}
	if d.n >= MaxEntries {
		return nil, fmt.Errorf("%w: file list has more than %d entries", wire.ErrMalformed, MaxEntries)
	}
	idx := d.n
	d.n++
	unasked := uint32(xmitUserNameFollows | xmitGrpNameFollows)
	if c.IncRecurse && c.Protocol >= 30 {
		unasked = 0
		if !c.PreserveUID {
			unasked |= xmitUserNameFollows
		}
		if !c.PreserveGID {
			unasked |= xmitGrpNameFollows
		}
	}
	if !c.PreserveHardLinks {
		unasked |= xmitHlinked
	}
	if c.Protocol < 30 {
		// Bit 10 is SAME_DEV and bit 9 HLINKED: hard links as device and
		// inode pairs, which we never ask for below 30 (the session refuses
		// -H there); bit 11 is RDEV_MINOR_8; nothing above bit 11 exists.
		unasked = xmitHlinked | xmitSameDevPre30 | ^uint32(0xfff)
	}
	if flags&unasked != 0 {
		return nil, fmt.Errorf("%w: entry %d has flags %#x for features we did not ask for", wire.ErrMalformed, idx, flags)
	}

	l1 := 0
	if flags&xmitSameName != 0 {
		l1 = int(r.Byte())
	}
	var l2 int
	if flags&xmitLongName != 0 {
		l2 = int(r.Varint30(c.Protocol))
	} else {
		l2 = int(r.Byte())
	}
	if r.Err() != nil {
		return nil, fmt.Errorf("read name of entry %d: %w", idx, r.Err())
	}
	if l1 > len(st.name) {
		return nil, fmt.Errorf("%w: entry %d reuses %d bytes of a %d-byte previous name", wire.ErrMalformed, idx, l1, len(st.name))
	}
	if l2 < 0 || l1+l2 > MaxPathLen {
		return nil, fmt.Errorf("%w: entry %d name length %d+%d exceeds %d", wire.ErrMalformed, idx, l1, l2, MaxPathLen)
	}
	suffix := r.Bytes(l2, MaxPathLen, "name")
	name := st.name[:l1] + string(suffix)

	if flags&xmitHlinked != 0 && flags&xmitHlinkFirst == 0 {
		return d.nextLink(idx, name)
	}
	ent := &Entry{Name: name}
	ent.Size = r.Varlong30(3, c.Protocol)
	switch {
	case flags&xmitSameTime != 0:
		ent.ModTime = st.modtime
	case c.Protocol < 30:
		ent.ModTime = int64(uint32(r.Int32())) // flist.c:recv_file_entry read_uint
	default:
		ent.ModTime = r.Varlong(4)
	}
	if flags&xmitModNsec != 0 {
		ent.ModNsec = r.Varint()
	}
	if flags&xmitSameMode != 0 {
		ent.Mode = st.mode
	} else {
		ent.Mode = uint32(r.Int32())
	}
	if c.PreserveUID && flags&xmitSameUID == 0 {
		ent.UID = uint32(r.Varint30(c.Protocol))
		if c.IncRecurse && flags&xmitUserNameFollows != 0 {
			d.UIDNames = d.inlineName(d.UIDNames, &d.seenUID, ent.UID)
		}
	} else {
		ent.UID = st.uid
	}
	if c.PreserveGID && flags&xmitSameGID == 0 {
		ent.GID = uint32(r.Varint30(c.Protocol))
		if c.IncRecurse && flags&xmitGrpNameFollows != 0 {
			d.GIDNames = d.inlineName(d.GIDNames, &d.seenGID, ent.GID)
		}
	} else {
		ent.GID = st.gid
	}
	switch {
	case (c.PreserveDevices && ent.IsDevice()) || (c.PreserveSpecials && ent.IsSpecial() && c.Protocol < 31):
		d.readRdev(ent, flags)
		if ent.IsSpecial() {
			ent.RdevMajor, ent.RdevMinor = 0, 0 // what travelled is filler
		}
	case c.Protocol < 28:
		// Below 28 any other entry resets the kept rdev
		// (flist.c:recv_file_entry "rdev = MAKEDEV(0, 0)").
		st.rdevMajor, st.rdevMinor = 0, 0
	}
	if c.PreserveLinks && ent.IsSymlink() {
		n := int(r.Varint30(c.Protocol))
		if r.Err() == nil && (n <= 0 || n > maxLinkLen) {
			return nil, fmt.Errorf("%w: entry %d (%q) symlink target length %d", wire.ErrMalformed, idx, name, n)
		}
		ent.LinkTarget = string(r.Bytes(n, maxLinkLen, "symlink target"))
	}
	if c.ChecksumLen > 0 && (ent.IsRegular() || c.Protocol < 28) {
		sum := r.Bytes(c.ChecksumLen, c.ChecksumLen, "checksum")
		if ent.IsRegular() { // below 28 the others carry zeros
			ent.Checksum = sum
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("read entry %d (%q): %w", idx, name, err)
	}
	if ent.Size < 0 {
		return nil, fmt.Errorf("%w: entry %d (%q) has negative size %d", wire.ErrMalformed, idx, name, ent.Size)
	}
	if ent.ModNsec < 0 || ent.ModNsec > 999999999 {
		return nil, fmt.Errorf("%w: entry %d (%q) has nanoseconds %d", wire.ErrMalformed, idx, name, ent.ModNsec)
	}
	if ent.IsDir() && flags&xmitTopDir != 0 {
		ent.TopDir = true
	}
	st.mode, st.modtime, st.name = ent.Mode, ent.ModTime, name
	st.uid, st.gid = ent.UID, ent.GID
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("entry %d: %w", idx, err)
	}
	if flags&xmitHlinked != 0 {
		// The first of a hard-link set (XMIT_HLINK_FIRST). A directory
		// cannot be one: no sender marks it, and a "link" to it would
		// make a later entry a directory that shares nothing.
		if ent.IsDir() {
			return nil, fmt.Errorf("%w: entry %d (%q) is a directory marked as hard-linked", wire.ErrMalformed, idx, name)
		}
		ent.HlinkGroup = uint32(idx) + 1
		if d.firsts == nil {
			d.firsts = map[int32]*Entry{}
		}
		d.firsts[int32(idx)] = ent
	}
	return ent, nil
}

// inlineName reads a name that follows its id (uidlist.c:recv_user_name,
// recv_group_name: a length byte, then the bytes) and keeps the first
// name each id gets; an empty one maps nothing.
func (d *Decoder) inlineName(names []IDName, seen *map[uint32]bool, id uint32) []IDName {
	r := d.r
	n := int(r.Byte())
	name := string(r.Bytes(n, maxIDName, "id name"))
	if r.Err() != nil || n == 0 || (*seen)[id] {
		return names
	}
	if *seen == nil {
		*seen = map[uint32]bool{}
	}
	(*seen)[id] = true
	return append(names, IDName{ID: id, Name: name})
}

// nextLink reads the rest of an entry that is a later name of a hard-linked
// inode: only the index of the set's first entry follows its name, and
// the entry is that one's copy under its own name (flist.c:recv_file_entry).
// The index must name an entry already received that was marked as the
// first of a set: anything else would let the sender make us link a name
// to what it never described as a link.
func (d *Decoder) nextLink(idx int, name string) (*Entry, error) {
	r, st := d.r, &d.st
	ref := r.Varint()
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("read hard-link index of entry %d (%q): %w", idx, name, err)
	}
	first, ok := d.firsts[ref]
	if !ok {
		return nil, fmt.Errorf("%w: entry %d (%q) is a hard link to entry %d, which is not the first of a hard-link set received before it", wire.ErrMalformed, idx, name, ref)
	}
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("entry %d: %w", idx, err)
	}
	ent := *first
	ent.Name, ent.TopDir = name, false
	// The receiver's "same as before" state takes the first entry's
	// values (recv_file_entry assigns its statics from it), except the
	// rdev major, which it leaves alone.
	st.mode, st.modtime, st.name = ent.Mode, ent.ModTime, name
	st.uid, st.gid = ent.UID, ent.GID
	return &ent, nil
}

// readRdev reads a device's (or, before 31, a special file's) rdev in the
// protocol's encoding (flist.c:recv_file_entry), keeping the "same as
// before" state as rsync does.
func (d *Decoder) readRdev(ent *Entry, flags uint32) {
	c, st, r := &d.c, &d.st, d.r
	if c.Protocol < 28 {
		if flags&xmitSameRdevPre28 == 0 {
			st.rdevMajor, st.rdevMinor = linuxSplitdev(uint32(r.Int32()))
		}
		ent.RdevMajor, ent.RdevMinor = st.rdevMajor, st.rdevMinor
		return
	}
	if flags&xmitSameRdevMajor == 0 {
		st.rdevMajor = uint32(r.Varint30(c.Protocol))
	}
	ent.RdevMajor = st.rdevMajor
	switch {
	case c.Protocol >= 30:
		ent.RdevMinor = uint32(r.Varint())
	case flags&xmitRdevMinor8Pre30 != 0:
		ent.RdevMinor = uint32(r.Byte())
	default:
		ent.RdevMinor = uint32(r.Int32())
	}
}

// linuxMakedev and linuxSplitdev are glibc's 32-bit dev_t layout, which a
// protocol < 28 peer sends as its raw rdev (an int32).
func linuxMakedev(major, minor uint32) uint32 {
	return (minor & 0xff) | (major&0xfff)<<8 | (minor&^0xff)<<12
}

func linuxSplitdev(dev uint32) (major, minor uint32) {
	return (dev >> 8) & 0xfff, (dev & 0xff) | (dev>>12)&0xfff00
}

func clampUint32(v int64) int64 {
	return min(max(v, 0), 0xffffffff)
}

// CheckName rejects names a receiver must never act on: absolute paths,
// ".." components, empty components and NUL bytes (flist.c:recv_file_entry
// "ABORTING due to unsafe pathname"; CVE-2022-29154 style escapes).
func CheckName(name string) error {
	if name == "." {
		return nil
	}
	if name == "" {
		return fmt.Errorf("%w: empty file name", wire.ErrMalformed)
	}
	if strings.HasPrefix(name, "/") {
		return fmt.Errorf("%w: unsafe absolute file name %q", wire.ErrMalformed, name)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("%w: file name %q contains a NUL byte", wire.ErrMalformed, name)
	}
	for _, comp := range strings.Split(name, "/") {
		if comp == ".." || comp == "" || comp == "." {
			return fmt.Errorf("%w: unsafe file name %q (component %q)", wire.ErrMalformed, name, comp)
		}
	}
	return nil
}
