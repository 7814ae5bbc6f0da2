package tree

import "strings"

// nameArena copies the names of a manifest's items into shared blocks.
// An entry's name comes from the listing as a string of its own: a heap
// object rounded up to Go's next size class (an 11-byte name takes 16, a
// 33-byte one 48), and, below a prefix, the whole listed name kept alive
// for the part the item uses. Copied end to end into blocks, a name
// costs its length. The names of one manifest are held and dropped
// together, as its items are; a name kept beyond the manifest (a plan's
// list of changes) keeps its block, at most what the manifest's names
// took in all.
type nameArena struct {
	b strings.Builder
}

const (
	nameBlock = 64 << 10
	// Names longer than this keep an allocation of their own: a block
	// must not be left mostly empty for one.
	maxArenaName = 1 << 10
)

// intern returns s as the arena holds it.
func (a *nameArena) intern(s string) string {
	if len(s) > maxArenaName {
		return strings.Clone(s)
	}
	start := a.room(len(s))
	a.b.WriteString(s)
	return a.b.String()[start:]
}

// internBytes is intern of string(b), without making that string first.
func (a *nameArena) internBytes(b []byte) string {
	if len(b) > maxArenaName {
		return string(b)
	}
	start := a.room(len(b))
	a.b.Write(b)
	return a.b.String()[start:]
}

// room makes room for n more bytes in the block and returns where they
// will start.
func (a *nameArena) room(n int) int {
	if a.b.Cap()-a.b.Len() < n {
		// A new block: the strings already handed out keep the old one.
		a.b.Reset()
		a.b.Grow(nameBlock)
	}
	// A Builder's bytes are never written again once written, and it
	// does not move them while they fit its capacity: every string
	// handed out of a block stays as it was.
	return a.b.Len()
}
