package csum

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/zeebo/xxh3"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// TestFileSumVectors: whole-file sums (unseeded, rsync byte order).
func TestFileSumVectors(t *testing.T) {
	tests := []struct {
		algo Algo
		in   string
		want string
	}{
		// NOTES.md §11, a-push-p32 c2s@0x141: the full byte-reverse of the
		// canonical XXH128 hex.
		{XXH128, "hello, rsync\n", "c71d15d454b48c8d6ce402d37fb78f17"},
		// Published empty-input vectors, little-endian as rsync sends them.
		{XXH128, "", "7f498d4624c30160d8984701d306aa99"}, // XXH128() = 99aa06d3014798d86001c324468d497f
		{XXH3, "", "c294d3380580062d"},                   // XXH3_64bits() = 2d06800538d394c2
		{XXH64, "", "99e9d85137db46ef"},                  // XXH64(seed 0) = ef46db3751d8e999
		{MD5, "", "d41d8cd98f00b204e9800998ecf8427e"},
		{MD5, "hello, rsync\n", hex.EncodeToString(md5sum([]byte("hello, rsync\n")))},
	}
	for _, tt := range tests {
		t.Run(tt.algo.Name()+"/"+tt.in, func(t *testing.T) {
			h := tt.algo.NewFile()
			h.Write([]byte(tt.in))
			got := h.Sum(nil)
			if want := mustHex(tt.want); !bytes.Equal(got, want) {
				t.Fatalf("%s(%q) = %x, want %x", tt.algo, tt.in, got, want)
			}
			if len(got) != tt.algo.Len() || h.Size() != tt.algo.Len() {
				t.Fatalf("digest %d bytes, Size %d, Len %d", len(got), h.Size(), tt.algo.Len())
			}
		})
	}
}

func md5sum(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}

// TestFileSumStreaming: writing in pieces, Reset and Sum's append behave
// like hash.Hash requires, for every algorithm.
func TestFileSumStreaming(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 100000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, a := range Offered {
		t.Run(a.Name(), func(t *testing.T) {
			one := a.NewFile()
			one.Write(data)
			want := one.Sum(nil)

			h := a.NewFile()
			h.Write([]byte("garbage before Reset"))
			h.Reset()
			for rest := data; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(5000))
				h.Write(rest[:n])
				rest = rest[n:]
			}
			got := h.Sum([]byte("prefix"))
			if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[6:], want) {
				t.Fatalf("streamed sum %x, want prefix+%x", got, want)
			}
			if h.BlockSize() <= 0 {
				t.Errorf("BlockSize = %d", h.BlockSize())
			}
			// The whole-file sum equals the block sum with seed 0: both are
			// the plain digest at protocol ≥ 30.
			if blk := a.Block(nil, data, 0, true); !bytes.Equal(blk, want) {
				t.Errorf("Block(seed 0) = %x, file sum %x", blk, want)
			}
			// And it is the library's plain digest in rsync's byte order.
			if ref := plainDigest(a, data); !bytes.Equal(ref, want) {
				t.Errorf("file sum %x, plain digest %x", want, ref)
			}
		})
	}
}

func plainDigest(a Algo, b []byte) []byte {
	switch a {
	case XXH128:
		v := xxh3.Hash128(b)
		return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, v.Lo), v.Hi)
	case XXH3:
		return binary.LittleEndian.AppendUint64(nil, xxh3.Hash(b))
	case XXH64:
		return binary.LittleEndian.AppendUint64(nil, xxhash.Sum64(b))
	case MD5:
		return md5sum(b)
	}
	panic("unknown algo")
}

func TestBlockSeeds(t *testing.T) {
	block := []byte("a block of basis data \x80\xff\x00")
	le := func(seed int32) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(seed)) }
	cat := func(a, b []byte) []byte { return append(append([]byte{}, a...), b...) }

	t.Run("md5 seed 0 is plain md5", func(t *testing.T) {
		for _, seedFirst := range []bool{true, false} {
			if got := MD5.Block(nil, block, 0, seedFirst); !bytes.Equal(got, md5sum(block)) {
				t.Errorf("seedFirst=%v: %x, want %x", seedFirst, got, md5sum(block))
			}
		}
	})
	for _, seed := range []int32{1, -1, 0x12345678, -0x80000000} {
		t.Run(fmt.Sprint("md5 seed placement ", seed), func(t *testing.T) {
			first := MD5.Block(nil, block, seed, true)
			last := MD5.Block(nil, block, seed, false)
			if want := md5sum(cat(le(seed), block)); !bytes.Equal(first, want) {
				t.Errorf("seed %d, seedFirst: %x, want md5(seed‖block) %x", seed, first, want)
			}
			if want := md5sum(cat(block, le(seed))); !bytes.Equal(last, want) {
				t.Errorf("seed %d, appended: %x, want md5(block‖seed) %x", seed, last, want)
			}
			if bytes.Equal(first, last) {
				t.Errorf("seed %d: seedFirst and appended agree", seed)
			}
		})
	}
	t.Run("xxh seeds are sign-extended", func(t *testing.T) {
		for _, seed := range []int32{-1, -2, 0x7fffffff, -0x80000000, 5} {
			ext := uint64(int64(seed))
			zext := uint64(uint32(seed))
			v128 := xxh3.Hash128Seed(block, ext)
			want := map[Algo][]byte{
				XXH128: binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, v128.Lo), v128.Hi),
				XXH3:   binary.LittleEndian.AppendUint64(nil, xxh3.HashSeed(block, ext)),
				XXH64:  binary.LittleEndian.AppendUint64(nil, xxhashSeed(block, ext)),
			}
			for a, w := range want {
				for _, seedFirst := range []bool{true, false} {
					if got := a.Block(nil, block, seed, seedFirst); !bytes.Equal(got, w) {
						t.Errorf("%s seed %d seedFirst=%v: %x, want %x", a, seed, seedFirst, got, w)
					}
				}
			}
			if seed < 0 {
				// Zero extension would give a different digest: the test can
				// tell the two apart.
				if got := XXH3.Block(nil, block, seed, true); bytes.Equal(got, binary.LittleEndian.AppendUint64(nil, xxh3.HashSeed(block, zext))) {
					t.Errorf("xxh3 seed %d: zero-extended seed gives the same digest", seed)
				}
			}
		}
		// The case in the brief, spelled out.
		if got, want := XXH3.Block(nil, block, -1, true), binary.LittleEndian.AppendUint64(nil, xxh3.HashSeed(block, 0xffffffffffffffff)); !bytes.Equal(got, want) {
			t.Errorf("xxh3 seed -1 = %x, want HashSeed(b, 0xffffffffffffffff) = %x", got, want)
		}
	})
	t.Run("Block appends to dst", func(t *testing.T) {
		for _, a := range Offered {
			dst := []byte{0xaa, 0xbb}
			got := a.Block(dst, block, 7, true)
			if len(got) != 2+a.Len() || got[0] != 0xaa || got[1] != 0xbb {
				t.Errorf("%s: Block(dst) = %x", a, got)
			}
			if !bytes.Equal(got[2:], a.Block(nil, block, 7, true)) {
				t.Errorf("%s: appended digest differs", a)
			}
		}
	})
	t.Run("different seeds differ", func(t *testing.T) {
		for _, a := range Offered {
			if bytes.Equal(a.Block(nil, block, 1, true), a.Block(nil, block, 2, true)) {
				t.Errorf("%s: seeds 1 and 2 give the same digest", a)
			}
		}
	})
}

func xxhashSeed(b []byte, seed uint64) uint64 {
	d := xxhash.NewWithSeed(seed)
	_, _ = d.Write(b) // a hash's Write never fails
	return d.Sum64()
}

func TestNamesAndLengths(t *testing.T) {
	tests := []struct {
		algo Algo
		name string
		len  int
	}{
		{XXH128, "xxh128", 16},
		{XXH3, "xxh3", 8},
		{XXH64, "xxh64", 8},
		{MD5, "md5", 16},
		{MD4, "md4", 16},
	}
	for _, tt := range tests {
		if tt.algo.Name() != tt.name || tt.algo.String() != tt.name || tt.algo.Len() != tt.len {
			t.Errorf("%d: name %q, len %d; want %q, %d", int(tt.algo), tt.algo.Name(), tt.algo.Len(), tt.name, tt.len)
		}
		if a, ok := ByName(strings.ToUpper(tt.name)); !ok || a != tt.algo {
			t.Errorf("ByName(%q) = %v, %v", strings.ToUpper(tt.name), a, ok)
		}
	}
	if got := Algo(99).Name(); got != "csum(99)" {
		t.Errorf("unknown algo name %q", got)
	}
	for _, bad := range []string{"sha1", "none", "", "xxh", "md5 "} {
		if a, ok := ByName(bad); ok {
			t.Errorf("ByName(%q) = %v, want not found", bad, a)
		}
	}
	if got := OfferString(Offered); got != "xxh128 xxh3 xxh64 md5" {
		t.Errorf("OfferString(Offered) = %q", got)
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name   string
		ours   []Algo
		theirs string
		want   Algo
	}{
		{"stock 3.2 server", Offered, "xxh128 xxh3 xxh64 md5 md4 sha1 none", XXH128},
		{"first of ours wins over their order", Offered, "md5 xxh64 xxh3", XXH3},
		{"case-insensitive", Offered, "MD5 XXH64", XXH64},
		{"xxhash is xxh64", Offered, "xxhash md5", XXH64},
		{"only md5", Offered, "md4 md5", MD5},
		{"extra whitespace", Offered, "  md4\t\tmd5\n", MD5},
		{"our order restricted", []Algo{MD5, XXH64}, "xxh128 xxh64 md5", MD5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Negotiate(tt.ours, tt.theirs)
			if err != nil || got != tt.want {
				t.Fatalf("Negotiate(%v, %q) = %v, %v; want %v", tt.ours, tt.theirs, got, err, tt.want)
			}
		})
	}
	for _, theirs := range []string{"", "md4 sha1 none", "xxh"} {
		t.Run("nothing common: "+theirs, func(t *testing.T) {
			_, err := Negotiate(Offered, theirs)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, must := range []string{"no checksum", `"` + theirs + `"`, "xxh128 xxh3 xxh64 md5"} {
				if !strings.Contains(msg, must) {
					t.Errorf("error %q does not mention %q", msg, must)
				}
			}
		})
	}
}
