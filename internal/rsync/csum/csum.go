// Package csum implements the strong checksums rsync negotiates (xxh128,
// xxh3, xxh64, md5) with rsync's seeding rules and digest byte order
// (checksum.c:get_checksum2, file_checksum, sum_init/sum_update/sum_end).
package csum

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"hash"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/zeebo/xxh3"
	"golang.org/x/crypto/md4" //nolint:staticcheck,gosec // protocols 27–29 define their checksums as MD4; there is no choice to make
)

// Algo is a strong checksum algorithm.
type Algo int

// The algorithms we can speak, strongest/fastest first: this is also the
// order of the list we offer (NOTES §4: rsync's canonical order, so that
// servers of every version pick the same name we do). md4 is deliberately
// absent: its seed position depends on the server's OpenSSL build.
const (
	XXH128 Algo = iota + 1
	XXH3
	XXH64
	MD5
	// MD4 is the only strong checksum of protocols 27–29 (no negotiation
	// before 30: checksum.c:parse_csum_name, CSUM_MD4_OLD). It is never
	// offered at 30 and later.
	MD4
)

// Offered is our negotiation list, in rsync's canonical order.
var Offered = []Algo{XXH128, XXH3, XXH64, MD5}

// Name returns rsync's name for a.
func (a Algo) Name() string {
	switch a {
	case XXH128:
		return "xxh128"
	case XXH3:
		return "xxh3"
	case XXH64:
		return "xxh64"
	case MD5:
		return "md5"
	case MD4:
		return "md4"
	}
	return fmt.Sprintf("csum(%d)", int(a))
}

func (a Algo) String() string { return a.Name() }

// ByName maps an rsync checksum name (case-insensitive; "xxhash" is an
// alias of xxh64, as in checksum.c) to an Algo.
func ByName(name string) (Algo, bool) {
	switch strings.ToLower(name) {
	case "xxh128":
		return XXH128, true
	case "xxh3":
		return XXH3, true
	case "xxh64", "xxhash":
		return XXH64, true
	case "md5":
		return MD5, true
	case "md4":
		// Known so that a listing made at protocol 27–29 (md4 sums) can be
		// named and reproduced locally; never offered in a negotiation.
		return MD4, true
	}
	return 0, false
}

// Len is the digest length in bytes (checksum.c:csum_len_for_type).
func (a Algo) Len() int {
	switch a {
	case XXH3, XXH64:
		return 8
	default:
		return 16
	}
}

// Negotiate picks the checksum from the server's space-separated list:
// the first of ours the server also names (compat.c:negotiate_the_strings,
// client side). ours must be in canonical order.
func Negotiate(ours []Algo, serverList string) (Algo, error) {
	theirs := map[Algo]bool{}
	for _, name := range strings.Fields(serverList) {
		if a, ok := ByName(name); ok {
			theirs[a] = true
		}
	}
	for _, a := range ours {
		if theirs[a] {
			return a, nil
		}
	}
	return 0, fmt.Errorf("no checksum algorithm in common: the server offers %q, we support %q", serverList, OfferString(ours))
}

// OfferString renders a negotiation list.
func OfferString(algos []Algo) string {
	names := make([]string, len(algos))
	for i, a := range algos {
		names[i] = a.Name()
	}
	return strings.Join(names, " ")
}

// NewFile returns an unseeded streaming hash for whole-file and -c file
// list checksums (protocol ≥ 30: no seed). Sum appends rsync's byte order.
func (a Algo) NewFile() hash.Hash {
	switch a {
	case XXH128:
		return &xxh128Hash{h: xxh3.New128()}
	case XXH3:
		return &le64Hash{h: xxh3.New(), sum64: func(h hash.Hash) uint64 { return h.(*xxh3.Hasher).Sum64() }} //nolint:forcetypeassert // h is the xxh3.New() beside it
	case XXH64:
		return &le64Hash{h: xxhash.New(), sum64: func(h hash.Hash) uint64 { return h.(*xxhash.Digest).Sum64() }} //nolint:forcetypeassert // h is the xxhash.New() beside it
	case MD4:
		// checksum.c:file_checksum, CSUM_MD4_OLD: plain MD4 of the file.
		// Protocol 27 fixed the "busted" MD4 of older peers (the tail of a
		// multiple of 64 bytes and the 64-bit bit count, lib/mdfour.c), so
		// from 27 on it is standard MD4.
		return md4.New() //nolint:gosec // the protocol's checksum, not a security choice (see the import)
	default:
		return md5.New()
	}
}

// NewTransfer returns the streaming hash of the whole-file checksum that
// follows a file's tokens (checksum.c:sum_init). From protocol 30 it is
// the unseeded file hash; below 30 (md4) it is MD4 of the seed, as 4
// little-endian bytes even when it is 0, then the data.
func (a Algo) NewTransfer(seed int32, protocol int) hash.Hash {
	h := a.NewFile()
	if a == MD4 && protocol < 30 {
		return &seededHash{h: h, seed: seed}
	}
	return h
}

// seededHash is a hash whose state starts with the 4-byte seed, again after
// every Reset.
type seededHash struct {
	h    hash.Hash
	seed int32
	init bool
}

func (x *seededHash) start() {
	if !x.init {
		var s [4]byte
		binary.LittleEndian.PutUint32(s[:], uint32(x.seed))
		x.h.Write(s[:])
		x.init = true
	}
}

func (x *seededHash) Write(p []byte) (int, error) { x.start(); return x.h.Write(p) }
func (x *seededHash) Reset()                      { x.h.Reset(); x.init = false }
func (x *seededHash) Size() int                   { return x.h.Size() }
func (x *seededHash) BlockSize() int              { return x.h.BlockSize() }
func (x *seededHash) Sum(b []byte) []byte         { x.start(); return x.h.Sum(b) }

// Block computes the strong sum of one block with the session seed and
// appends the full digest to dst (checksum.c:get_checksum2). seedFirst is
// CHKSUM_SEED_FIX: md5 puts the seed before the data. The xxh family is
// seeded with the int32 seed sign-extended to 64 bits.
func (a Algo) Block(dst, block []byte, seed int32, seedFirst bool) []byte {
	switch a {
	case XXH128:
		v := xxh3.Hash128Seed(block, uint64(int64(seed)))
		dst = binary.LittleEndian.AppendUint64(dst, v.Lo)
		return binary.LittleEndian.AppendUint64(dst, v.Hi)
	case XXH3:
		return binary.LittleEndian.AppendUint64(dst, xxh3.HashSeed(block, uint64(int64(seed))))
	case XXH64:
		d := xxhash.NewWithSeed(uint64(int64(seed)))
		_, _ = d.Write(block)
		return binary.LittleEndian.AppendUint64(dst, d.Sum64())
	case MD4:
		// checksum.c:get_checksum2, CSUM_MD4_OLD: rsync's built-in MD4
		// (the implied md4 of protocols < 30 never goes through OpenSSL),
		// which appends the seed after the block, and only a non-zero one.
		h := md4.New() //nolint:gosec // the protocol's checksum, not a security choice (see the import)
		h.Write(block)
		if seed != 0 {
			var s [4]byte
			binary.LittleEndian.PutUint32(s[:], uint32(seed))
			h.Write(s[:])
		}
		return h.Sum(dst)
	default:
		h := md5.New()
		var s [4]byte
		binary.LittleEndian.PutUint32(s[:], uint32(seed))
		if seed != 0 && seedFirst {
			h.Write(s[:])
		}
		h.Write(block)
		if seed != 0 && !seedFirst {
			h.Write(s[:])
		}
		return h.Sum(dst)
	}
}

// xxh128Hash emits XXH3-128 as rsync does: low 64 bits LE, then high 64 LE.
type xxh128Hash struct{ h *xxh3.Hasher128 }

func (x *xxh128Hash) Write(p []byte) (int, error) { return x.h.Write(p) }
func (x *xxh128Hash) Reset()                      { x.h.Reset() }
func (x *xxh128Hash) Size() int                   { return 16 }
func (x *xxh128Hash) BlockSize() int              { return x.h.BlockSize() }
func (x *xxh128Hash) Sum(b []byte) []byte {
	v := x.h.Sum128()
	b = binary.LittleEndian.AppendUint64(b, v.Lo)
	return binary.LittleEndian.AppendUint64(b, v.Hi)
}

// le64Hash emits a 64-bit hash little-endian (SIVAL64 in checksum.c).
type le64Hash struct {
	h     hash.Hash
	sum64 func(hash.Hash) uint64
}

func (x *le64Hash) Write(p []byte) (int, error) { return x.h.Write(p) }
func (x *le64Hash) Reset()                      { x.h.Reset() }
func (x *le64Hash) Size() int                   { return 8 }
func (x *le64Hash) BlockSize() int              { return x.h.BlockSize() }
func (x *le64Hash) Sum(b []byte) []byte         { return binary.LittleEndian.AppendUint64(b, x.sum64(x.h)) }
