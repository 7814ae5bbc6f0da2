package flist

import (
	"cmp"
	"slices"
	"strings"
)

// Compare orders two entries as rsync's f_name_cmp does at protocol ≥ 29
// (flist.c:f_name_cmp): paths are compared component by component; every
// directory component — including the entry's own name when it is a
// directory — compares as "name/"; where one side's component is a file and
// the other's a directory, the file sorts first; otherwise bytes compare
// unsigned, and a path that is a prefix of another sorts first. The
// transfer root "." is an empty file name and sorts before everything.
func Compare(a, b *Entry) int {
	an, bn := a.Name, b.Name
	if an == "." {
		an = ""
	}
	if bn == "." {
		bn = ""
	}
	aDir, bDir := a.IsDir() && an != "", b.IsDir() && bn != ""
	// The directories both names are in compare equal component by
	// component and go on, so they are skipped at once: a directory's
	// entries (a listing sorts each one's) share their whole path but the
	// last component, which the loop below would otherwise cut and
	// compare again for every pair.
	if i := strings.LastIndexByte(an[:commonPrefix(an, bn)], '/'); i >= 0 {
		an, bn = an[i+1:], bn[i+1:]
	}
	for {
		ac, arest, aMore := strings.Cut(an, "/")
		bc, brest, bMore := strings.Cut(bn, "/")
		aIsPath := aMore || aDir
		bIsPath := bMore || bDir
		if an == "" && bn == "" {
			return 0
		}
		if an == "" {
			return -1
		}
		if bn == "" {
			return 1
		}
		if aIsPath != bIsPath {
			if aIsPath {
				return 1
			}
			return -1
		}
		if ac != bc {
			// Compare "ac/" with "bc/" (or plain names for two files).
			if aIsPath {
				return compareDirNames(ac, bc)
			}
			return strings.Compare(ac, bc)
		}
		if !aMore && !bMore {
			return 0
		}
		if !aMore {
			return -1 // a directory sorts before its own contents
		}
		if !bMore {
			return 1
		}
		an, bn = arest, brest
	}
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// compareDirNames compares a+"/" with b+"/" without building either (a
// sort of 100,000 entries compares directory names millions of times):
// past a common prefix, the longer name's next byte meets the other's "/".
func compareDirNames(a, b string) int {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	switch {
	case len(a) > n:
		return cmp.Compare(a[n], '/')
	case len(b) > n:
		return cmp.Compare('/', b[n])
	}
	return 0
}

// CompareSiblings is Compare for two entries of one directory, given by
// their names within it and whether each is a directory: files before
// directories, then the names, a directory's as "name/". The transfer root
// "." (in the top directory's own list) sorts first. A listing arrives a
// directory at a time, so most of its comparisons are between siblings,
// and this skips Compare's walk over the shared path.
func CompareSiblings(a string, aDir bool, b string, bDir bool) int {
	switch {
	case a == "." || b == ".":
		return cmp.Compare(boolRank(a != "."), boolRank(b != "."))
	case aDir != bDir:
		return cmp.Compare(boolRank(aDir), boolRank(bDir))
	case aDir:
		return compareDirNames(a, b)
	}
	return strings.Compare(a, b)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Sort sorts entries stably in rsync's order (flist.c:fsort).
func Sort(entries []*Entry) {
	slices.SortStableFunc(entries, Compare)
}

// CompareProto is Compare at a given protocol. Before 29 f_name_cmp has no
// directory rule: every component is an item (t_path is t_ITEM), so two
// names compare as their full paths, bytes unsigned, "." included as the
// string "." (flist.c:f_name_cmp).
func CompareProto(a, b *Entry, protocol int) int {
	if protocol < 29 {
		return strings.Compare(a.Name, b.Name)
	}
	return Compare(a, b)
}

// SortProto sorts entries stably in the order of the given protocol.
func SortProto(entries []*Entry, protocol int) {
	if protocol < 29 {
		slices.SortStableFunc(entries, func(a, b *Entry) int { return strings.Compare(a.Name, b.Name) })
		return
	}
	Sort(entries)
}
