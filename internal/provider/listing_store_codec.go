package provider

// The items of a listing file in format 3: each chunk one gob []byte of
// items packed by hand.
//
// Why not gob's own encoding of the items, as format 2 did: gob encodes
// and decodes a struct field by field through reflection, and a fleet's
// refresh writes one listing per destination and its apply walk reads
// each back (issue 15): 20 listings of 5,000 entries cost the plan walk
// 0.13 s of CPU to write and the apply walk 0.16 s to read, as much as
// listing them. Packed, a chunk is a few loops over bytes, and names share
// their prefix with the name before them (a manifest is sorted, so most
// of a path repeats).

import (
	"encoding/binary"
	"errors"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// Item flags in a packed item.
const (
	packedUnreadable = 1 << iota
	packedIgnored
	packedDigest
	packedTarget
	packedLinkTo
	packedRdev
	packedKnown = packedRdev<<1 - 1
)

// packItems appends items to out: per item the length of the prefix its
// name shares with the previous item's (the first: with ""), the rest of
// the name, kind, permissions, size, time and flags, then what the flags
// say it has.
func packItems(out []byte, items []tree.Item) []byte {
	prev := ""
	for i := range items {
		it := &items[i]
		p := commonPrefix(prev, it.Name)
		out = binary.AppendUvarint(out, uint64(p))
		out = appendBytes(out, it.Name[p:])
		out = append(out, byte(it.Kind))
		out = binary.AppendUvarint(out, uint64(it.Perm))
		out = binary.AppendVarint(out, it.Size)
		out = binary.AppendVarint(out, it.ModTime)
		digest, target, linkTo, rdev := it.Digest(), it.Target(), it.LinkTo(), it.Rdev()
		var flags byte
		for _, f := range []struct {
			on  bool
			bit byte
		}{{it.Unreadable, packedUnreadable}, {it.Ignored, packedIgnored}, {digest != nil, packedDigest},
			{target != "", packedTarget}, {linkTo != "", packedLinkTo}, {rdev != 0, packedRdev}} {
			if f.on {
				flags |= f.bit
			}
		}
		out = append(out, flags)
		if digest != nil {
			out = appendBytes(out, string(digest))
		}
		if target != "" {
			out = appendBytes(out, target)
		}
		if linkTo != "" {
			out = appendBytes(out, linkTo)
		}
		if rdev != 0 {
			out = binary.AppendUvarint(out, rdev)
		}
		prev = it.Name
	}
	return out
}

func appendBytes(out []byte, s string) []byte {
	out = binary.AppendUvarint(out, uint64(len(s)))
	return append(out, s...)
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// unpackItems appends the items packItems wrote in b to items. Every
// length and count is checked against what is left: the file's digest is
// only checked once all of it was read.
func unpackItems(items []tree.Item, b []byte) ([]tree.Item, error) {
	d := unpacker{b: b}
	var name []byte
	for len(d.b) > 0 {
		p := d.uvarint()
		if d.err == nil && p > uint64(len(name)) {
			d.err = errors.New("name prefix longer than the name before it")
		}
		if d.err != nil {
			return nil, d.err
		}
		name = append(name[:p], d.bytes()...)
		it := tree.Item{Name: string(name), Kind: tree.Kind(d.byte())}
		perm := d.uvarint()
		if perm > 1<<32-1 {
			d.fail()
		}
		it.Perm = uint32(perm)
		it.Size = d.varint()
		it.ModTime = d.varint()
		flags := d.byte()
		if flags&^packedKnown != 0 {
			d.fail()
		}
		it.Unreadable, it.Ignored = flags&packedUnreadable != 0, flags&packedIgnored != 0
		if flags&packedDigest != 0 {
			it.SetDigest(d.bytes())
		}
		if flags&packedTarget != 0 {
			it.SetTarget(string(d.bytes()))
		}
		if flags&packedLinkTo != 0 {
			it.SetLinkTo(string(d.bytes()))
		}
		if flags&packedRdev != 0 {
			it.SetRdev(d.uvarint())
		}
		if d.err != nil {
			return nil, d.err
		}
		items = append(items, it)
	}
	return items, nil
}

// unpacker reads packItems' fields from b; the first failure sticks.
type unpacker struct {
	b   []byte
	err error
}

func (d *unpacker) fail() {
	if d.err == nil {
		d.err = errors.New("a packed item is cut short or damaged")
	}
	d.b = nil
}

func (d *unpacker) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *unpacker) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *unpacker) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// bytes is a length-prefixed run of d's bytes (not a copy).
func (d *unpacker) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}
