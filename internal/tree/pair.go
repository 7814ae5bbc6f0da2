package tree

import "sort"

// EachPair calls f for every item of src with the item of dst of the same
// name (nil when dst has none), in src's order, then f(nil, d) for every
// item of dst whose name src does not have, in dst's order.
//
// Both manifests are normally in rsync's order, so the names pair up in
// one pass over both, as a merge: a plan compares trees of a million
// entries, and indexing one of them by name cost more time than the
// comparison and a map's worth of memory at the plan's peak. A manifest
// out of that order, or holding a name twice (a file and a directory of
// one name, which only a hostile listing has), is paired through a map
// instead, as before: the last item of dst with a name is its namesake.
func EachPair(src, dst *Manifest, f func(s, d *Item)) {
	partner, taken, ok := pairInOrder(src.Items, dst.Items)
	if !ok {
		eachPairByMap(src, dst, f)
		return
	}
	for i := range src.Items {
		var d *Item
		if j := partner[i]; j >= 0 {
			d = &dst.Items[j]
		}
		f(&src.Items[i], d)
	}
	for j := range dst.Items {
		if !taken[j] {
			f(nil, &dst.Items[j])
		}
	}
}

// pairInOrder pairs the items of two manifests by name in one merge:
// partner[i] is the index in dst of src[i]'s namesake or -1, taken[j]
// whether dst[j] has one. ok is false when either side is not strictly in
// rsync's order or holds a name twice.
func pairInOrder(src, dst []Item) (partner []int32, taken []bool, ok bool) {
	if !strictlyOrdered(src) || !strictlyOrdered(dst) || hasTwins(src) || hasTwins(dst) {
		return nil, nil, false
	}
	partner = make([]int32, len(src))
	taken = make([]bool, len(dst))
	var looseSrc, looseDst []int
	i, j := 0, 0
	for i < len(src) || j < len(dst) {
		c := 0
		switch {
		case i == len(src):
			c = 1
		case j == len(dst):
			c = -1
		default:
			c = compareItems(&src[i], &dst[j])
		}
		switch {
		case c < 0:
			partner[i] = -1
			looseSrc = append(looseSrc, i)
			i++
		case c > 0:
			looseDst = append(looseDst, j)
			j++
		default:
			partner[i], taken[j] = int32(j), true
			i++
			j++
		}
	}
	// A file on one side and a directory on the other under one name
	// sort apart (a directory compares as "name/"): pair what the merge
	// left by name.
	if len(looseSrc) > 0 && len(looseDst) > 0 {
		byName := make(map[string]int, len(looseDst))
		for _, j := range looseDst {
			byName[dst[j].Name] = j
		}
		for _, i := range looseSrc {
			if j, found := byName[src[i].Name]; found {
				partner[i], taken[j] = int32(j), true
			}
		}
	}
	return partner, taken, true
}

// strictlyOrdered reports whether items are in rsync's order without a
// name twice in a row.
func strictlyOrdered(items []Item) bool {
	for i := 1; i < len(items); i++ {
		if compareItems(&items[i-1], &items[i]) >= 0 {
			return false
		}
	}
	return true
}

// hasTwins reports whether ordered items hold a directory and another
// entry of the same name: they sort apart (files before directories), so
// each directory looks for a file of its name (directories are few).
func hasTwins(items []Item) bool {
	for k := range items {
		d := &items[k]
		if d.Kind != Dir || d.Name == "." {
			continue
		}
		probe := Item{Name: d.Name, Kind: File}
		i := sort.Search(len(items), func(i int) bool { return compareItems(&items[i], &probe) >= 0 })
		if i < len(items) && i != k && items[i].Name == d.Name {
			return true
		}
	}
	return false
}

// eachPairByMap is EachPair through an index of dst by name.
func eachPairByMap(src, dst *Manifest, f func(s, d *Item)) {
	have := make(map[string]*Item, len(dst.Items))
	for i := range dst.Items {
		have[dst.Items[i].Name] = &dst.Items[i]
	}
	seen := make(map[string]bool, len(src.Items))
	for i := range src.Items {
		s := &src.Items[i]
		seen[s.Name] = true
		f(s, have[s.Name])
	}
	for i := range dst.Items {
		if d := &dst.Items[i]; !seen[d.Name] {
			f(nil, d)
		}
	}
}
