package tree

import "sort"

// Pairing pairs the items of two manifests by name, made once for the
// several comparisons a plan makes of the same two trees (Pair).
type Pairing struct {
	Src, Dst *Manifest
	// partner[i] is the index in Dst of Src's item i's namesake, or -1;
	// taken[j] says whether some item of Src has Dst's item j's name.
	partner []int32
	taken   []bool
}

// Pair pairs src's items with dst's by name.
//
// Both manifests are normally in rsync's order, so the names pair up in
// one pass over both, as a merge: a plan compares trees of a million
// entries, and indexing one of them by name cost more time than the
// comparison and a map's worth of memory at the plan's peak. A manifest
// out of that order, or holding a name twice (a file and a directory of
// one name, which only a hostile listing has), is paired through a map
// instead, as before: the last item of dst with a name is its namesake.
func Pair(src, dst *Manifest) *Pairing {
	partner, taken, ok := pairInOrder(src.Items, dst.Items)
	if !ok {
		partner, taken = pairByName(src.Items, dst.Items)
	}
	return &Pairing{Src: src, Dst: dst, partner: partner, taken: taken}
}

// Each calls f for every item of Src with the item of Dst of the same
// name (nil when Dst has none), in Src's order, then f(nil, d) for every
// item of Dst whose name Src does not have, in Dst's order.
func (p *Pairing) Each(f func(s, d *Item)) {
	for i := range p.Src.Items {
		var d *Item
		if j := p.partner[i]; j >= 0 {
			d = &p.Dst.Items[j]
		}
		f(&p.Src.Items[i], d)
	}
	for j := range p.Dst.Items {
		if !p.taken[j] {
			f(nil, &p.Dst.Items[j])
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
	looseSrc, looseDst := 0, 0
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
			looseSrc++
			i++
		case c > 0:
			looseDst++
			j++
		default:
			partner[i], taken[j] = int32(j), true
			i++
			j++
		}
	}
	// A file on one side and a directory on the other under one name
	// sort apart (a directory compares as "name/"): pair what the merge
	// left by name, when it left something on both sides (a plan that
	// only creates or only deletes needs no index).
	if looseSrc == 0 || looseDst == 0 {
		return partner, taken, true
	}
	byName := make(map[string]int, looseDst)
	for j := range dst {
		if !taken[j] {
			byName[dst[j].Name] = j
		}
	}
	for i := range src {
		if partner[i] >= 0 {
			continue
		}
		if j, found := byName[src[i].Name]; found {
			partner[i], taken[j] = int32(j), true
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

// pairByName pairs through an index of dst by name: the last item of dst
// with a name is its namesake, and every item of dst whose name src has
// is taken.
func pairByName(src, dst []Item) (partner []int32, taken []bool) {
	last := make(map[string]int32, len(dst))
	for j := range dst {
		last[dst[j].Name] = int32(j)
	}
	names := make(map[string]bool, len(src))
	partner = make([]int32, len(src))
	for i := range src {
		names[src[i].Name] = true
		partner[i] = -1
		if j, ok := last[src[i].Name]; ok {
			partner[i] = j
		}
	}
	taken = make([]bool, len(dst))
	for j := range dst {
		taken[j] = names[dst[j].Name]
	}
	return partner, taken
}
