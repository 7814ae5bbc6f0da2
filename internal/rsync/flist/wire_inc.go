package flist

// The encoder's part in incremental recursion (flist.c:send_file_entry
// under inc_recurse): lists that go out one directory at a time, with
// indexes that go on from list to list, and uid/gid names inline.

import (
	"os/user"
	"strconv"
)

// NameLookup finds the local user and group names of ids; "" when an id
// has none. The zero value uses the system's user database.
type NameLookup struct {
	User, Group func(id uint32) string
}

// SetNames replaces how an incremental-recursion encoder finds names.
func (e *Encoder) SetNames(n NameLookup) { e.names = n }

// StartList begins a list whose first entry has index start
// (flist.c:flist_new ndx_start): indexes go on from there, and the
// "same as before" state carries over from the previous list, as rsync's
// statics do.
func (e *Encoder) StartList(start int32) { e.n, e.listStart = start, start }

// Next is the index the next entry will have.
func (e *Encoder) Next() int32 { return e.n }

// newName reports whether id is seen for the first time and then its
// name, for XMIT_USER_NAME_FOLLOWS / XMIT_GROUP_NAME_FOLLOWS.
func newName(seen *map[uint32]bool, id uint32, lookup func(uint32) string) string {
	if *seen == nil {
		*seen = map[uint32]bool{}
	}
	if (*seen)[id] {
		return ""
	}
	(*seen)[id] = true
	name := lookup(id)
	if len(name) > maxIDName {
		return "" // not sendable in a byte-counted field; the id alone goes
	}
	return name
}

func (e *Encoder) userLookup() func(uint32) string {
	if e.names.User != nil {
		return e.names.User
	}
	return func(id uint32) string {
		if u, err := user.LookupId(strconv.FormatUint(uint64(id), 10)); err == nil {
			return u.Username
		}
		return ""
	}
}

func (e *Encoder) groupLookup() func(uint32) string {
	if e.names.Group != nil {
		return e.names.Group
	}
	return func(id uint32) string {
		if g, err := user.LookupGroupId(strconv.FormatUint(uint64(id), 10)); err == nil {
			return g.Name
		}
		return ""
	}
}
