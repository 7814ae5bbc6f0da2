package flist

import (
	"fmt"
	"os/user"
	"slices"
	"strconv"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// IDName pairs a numeric uid or gid with its name.
type IDName struct {
	ID   uint32
	Name string
}

// WriteIDList writes a uid or gid list (uidlist.c:send_one_list): every
// non-zero id whose name is known, then 0, then — with ID0_NAMES — the name
// of id 0.
func WriteIDList(w *wire.Writer, ids []IDName, id0Names bool, id0Name string) error {
	return WriteIDListProto(w, ids, 30, id0Names, id0Name)
}

// WriteIDListProto is WriteIDList at a given protocol: ids are int32s
// below 30 (uidlist.c write_varint30), where there are no id-0 names.
func WriteIDListProto(w *wire.Writer, ids []IDName, protocol int, id0Names bool, id0Name string) error {
	for _, in := range ids {
		if in.ID == 0 || in.Name == "" || len(in.Name) > maxIDName {
			continue
		}
		w.Varint30(int32(in.ID), protocol)
		w.Byte(byte(len(in.Name)))
		w.Raw([]byte(in.Name))
	}
	w.Varint30(0, protocol)
	if id0Names {
		if len(id0Name) > maxIDName {
			id0Name = ""
		}
		w.Byte(byte(len(id0Name)))
		w.Raw([]byte(id0Name))
	}
	return w.Err()
}

// ReadIDList reads a uid or gid list (uidlist.c:recv_id_list), bounded to
// maxEntries entries.
func ReadIDList(r *wire.Reader, id0Names bool, maxEntries int) ([]IDName, error) {
	return ReadIDListProto(r, 30, id0Names, maxEntries)
}

// ReadIDListProto is ReadIDList at a given protocol (int32 ids below 30,
// uidlist.c read_varint30).
func ReadIDListProto(r *wire.Reader, protocol int, id0Names bool, maxEntries int) ([]IDName, error) {
	var out []IDName
	for {
		id := uint32(r.Varint30(protocol))
		if r.Err() != nil {
			return nil, fmt.Errorf("read id list: %w", r.Err())
		}
		if id == 0 {
			break
		}
		if len(out) >= maxEntries {
			return nil, fmt.Errorf("%w: id list longer than %d entries", wire.ErrMalformed, maxEntries)
		}
		n := int(r.Byte())
		name := r.Bytes(n, maxIDName, "id name")
		out = append(out, IDName{ID: id, Name: string(name)})
	}
	if id0Names {
		n := int(r.Byte())
		name := r.Bytes(n, maxIDName, "id 0 name")
		out = append(out, IDName{ID: 0, Name: string(name)})
	}
	return out, r.Err()
}

// IDNames collects the distinct uids and gids of entries with their local
// names, looked up once each.
func IDNames(entries []*Entry) (uids, gids []IDName) {
	seenU, seenG := map[uint32]bool{}, map[uint32]bool{}
	for _, e := range entries {
		if !seenU[e.UID] {
			seenU[e.UID] = true
			if e.UID != 0 {
				if u, err := user.LookupId(strconv.FormatUint(uint64(e.UID), 10)); err == nil {
					uids = append(uids, IDName{ID: e.UID, Name: u.Username})
				}
			}
		}
		if !seenG[e.GID] {
			seenG[e.GID] = true
			if e.GID != 0 {
				if g, err := user.LookupGroupId(strconv.FormatUint(uint64(e.GID), 10)); err == nil {
					gids = append(gids, IDName{ID: e.GID, Name: g.Name})
				}
			}
		}
	}
	slices.SortFunc(uids, func(a, b IDName) int { return int(a.ID) - int(b.ID) })
	slices.SortFunc(gids, func(a, b IDName) int { return int(a.ID) - int(b.ID) })
	return uids, gids
}

// ID0Names returns the local names of uid 0 and gid 0.
func ID0Names() (string, string) {
	u, g := "root", "root"
	if x, err := user.LookupId("0"); err == nil {
		u = x.Username
	}
	if x, err := user.LookupGroupId("0"); err == nil {
		g = x.Name
	}
	return u, g
}
