package tree

// Item is one manifest entry. Name is relative to the tree's root, which
// is ".".
//
// A manifest holds one Item per entry of the tree, hundreds of thousands
// of them (issue 15: per-file memory at or below rsync's, about 100 bytes
// a file), so an Item holds inline only what a plain file uses, 64 bytes
// on 64-bit platforms: its content digest lives in the item (every digest
// rsync negotiates is 8 or 16 bytes), not in a slice of its own, and what
// only symlinks, hard links and devices carry (and a digest longer than
// 16 bytes, which no listing makes) is behind one pointer, nil for plain
// files and directories. Read and set those through the methods; a copy
// of an Item is independent of the original (the setters never change
// what the pointer points to, they replace it).
type Item struct {
	// Fields are ordered largest first: padding between small fields
	// would cost 8 bytes an entry.
	Name    string
	Size    int64
	ModTime int64
	extra   *itemExtra
	digest  [inlineDigest]byte // Content mode, files only: digest[:digestLen]
	Perm    uint32             // permission bits (0 for symlinks)
	Kind    Kind
	// digestLen is how much of digest is the file's digest; a longer
	// digest is extra.digest.
	digestLen uint8
	// Unreadable marks what the lister could not read: a file it could
	// not checksum (rsync lists its checksum as zeros), compared by size,
	// time and permissions instead; or a directory it could not list
	// (MarkUnlisted), whose contents are unknown: not compared, not
	// deleted.
	Unreadable bool
	// Ignored marks a device or special file the options do not copy. It
	// is not hashed and never created or updated, but it is there: on the
	// source it keeps what stands at its name on the destination from
	// deletion, and on the destination one the source lacks is deleted by
	// delete = true (rsync deletes extraneous files of every kind).
	Ignored bool
}

// inlineDigest is the longest digest an Item holds inline: rsync's
// longest file checksum (md4, md5, xxh128; csum.Algo.Len).
const inlineDigest = 16

// itemExtra is what few entries have. It is never changed once an item
// points to it, so that copies of an item may share it.
type itemExtra struct {
	target string // symlinks
	// linkTo, with HardLinks, is the name of the first entry (in rsync
	// order) of the hard-link set this later entry belongs to; "" for
	// every other entry.
	linkTo string
	rdev   uint64 // devices: major << 32 | minor
	digest []byte // a digest longer than inlineDigest
}

// Digest is the file's content digest (Content mode, files only; nil when
// there is none). It is the item's own memory: do not change it.
func (it *Item) Digest() []byte {
	if it.extra != nil && it.extra.digest != nil {
		return it.extra.digest
	}
	if it.digestLen == 0 {
		return nil
	}
	return it.digest[:it.digestLen:it.digestLen]
}

// SetDigest sets the content digest to a copy of d (nil or empty: none).
func (it *Item) SetDigest(d []byte) {
	it.digest, it.digestLen = [inlineDigest]byte{}, 0
	if it.extra == nil && len(d) <= inlineDigest {
		// A file's digest, nothing else: no extra to copy or make.
		it.digestLen = uint8(copy(it.digest[:], d))
		return
	}
	x := it.extraCopy()
	x.digest = nil
	if len(d) > inlineDigest {
		x.digest = append([]byte(nil), d...)
	} else {
		it.digestLen = uint8(copy(it.digest[:], d))
	}
	it.setExtra(x)
}

// WithDigest returns a copy of the item with digest d: SetDigest for
// items written as literals.
func (it Item) WithDigest(d []byte) Item {
	it.SetDigest(d)
	return it
}

// Target is a symlink's target ("" for every other kind).
func (it *Item) Target() string {
	if it.extra == nil {
		return ""
	}
	return it.extra.target
}

// SetTarget sets a symlink's target.
func (it *Item) SetTarget(target string) {
	x := it.extraCopy()
	x.target = target
	it.setExtra(x)
}

// LinkTo is, with HardLinks, the name of the first entry (in rsync order)
// of the hard-link set this later entry belongs to; "" for every other
// entry.
func (it *Item) LinkTo() string {
	if it.extra == nil {
		return ""
	}
	return it.extra.linkTo
}

// SetLinkTo sets the name LinkTo returns.
func (it *Item) SetLinkTo(first string) {
	x := it.extraCopy()
	x.linkTo = first
	it.setExtra(x)
}

// Rdev is a device's number, major << 32 | minor (0 for other kinds).
func (it *Item) Rdev() uint64 {
	if it.extra == nil {
		return 0
	}
	return it.extra.rdev
}

// SetRdev sets a device's number.
func (it *Item) SetRdev(rdev uint64) {
	x := it.extraCopy()
	x.rdev = rdev
	it.setExtra(x)
}

// extraCopy is a copy of what extra points to, to change and set again.
func (it *Item) extraCopy() itemExtra {
	if it.extra == nil {
		return itemExtra{}
	}
	return *it.extra
}

// setExtra points the item at a new x, or at nothing when x is empty: an
// item has no extra unless it needs one, so that items made by different
// paths compare equal.
func (it *Item) setExtra(x itemExtra) {
	if x.target == "" && x.linkTo == "" && x.rdev == 0 && x.digest == nil {
		it.extra = nil
		return
	}
	// A new one only here: &x taken unconditionally would move x to the
	// heap on every call, empty or not (300,000 digests set allocated
	// 28 MB for nothing).
	p := new(itemExtra)
	*p = x
	it.extra = p
}
