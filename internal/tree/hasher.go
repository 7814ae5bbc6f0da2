package tree

import (
	"encoding/binary"
	"encoding/hex"
	"hash"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
)

// Hasher makes a manifest's hash (Manifest.Hash) an item at a time, from
// items handed over in the manifest's order: a tree walked as a stream
// (DigestCache.Each) is hashed without a manifest of it ever being held.
type Hasher struct {
	mode Mode
	algo csum.Algo
	h    hash.Hash
	b    []byte
}

// NewHasher starts the hash of a manifest of mode whose digests are algo's.
func NewHasher(mode Mode, algo csum.Algo) *Hasher {
	return &Hasher{mode: mode, algo: algo, h: csum.XXH128.NewFile()}
}

// Add hashes the next item.
func (h *Hasher) Add(it *Item) {
	if it.Ignored {
		return
	}
	b := h.b[:0]
	b = append(b, byte(it.Kind))
	b = binary.LittleEndian.AppendUint32(b, it.Perm)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(it.Name)))
	b = append(b, it.Name...)
	switch {
	case it.Kind == Symlink:
		target := it.Target()
		b = binary.LittleEndian.AppendUint32(b, uint32(len(target)))
		b = append(b, target...)
	case it.Kind == File && (h.mode == Metadata || it.Unreadable):
		if it.Unreadable {
			b = append(b, 'u')
		}
		b = binary.LittleEndian.AppendUint64(b, uint64(it.Size))
		b = binary.LittleEndian.AppendUint64(b, uint64(it.ModTime))
	case it.Unreadable:
		b = append(b, 'u')
	case it.Kind == File:
		digest := it.Digest()
		b = binary.LittleEndian.AppendUint32(b, uint32(len(digest)))
		b = append(b, digest...)
	case it.Kind == CharDevice || it.Kind == BlockDevice:
		b = binary.LittleEndian.AppendUint64(b, it.Rdev())
	}
	// Only a later hard link adds bytes, so a tree without links
	// hashes as it always did.
	if linkTo := it.LinkTo(); linkTo != "" {
		b = append(b, '=')
		b = binary.LittleEndian.AppendUint32(b, uint32(len(linkTo)))
		b = append(b, linkTo...)
	}
	h.h.Write(b)
	h.b = b
}

// Sum is the hash of the items added, as Manifest.Hash writes it.
func (h *Hasher) Sum() string { return h.SumAs(h.algo) }

// SumAs is Sum for items whose digests turned out to be algo's (a
// listing's algorithm is known once it is done).
func (h *Hasher) SumAs(algo csum.Algo) string {
	prefix := "meta"
	if h.mode == Content {
		prefix = algo.Name()
	}
	return prefix + ":" + hex.EncodeToString(h.h.Sum(nil))
}
