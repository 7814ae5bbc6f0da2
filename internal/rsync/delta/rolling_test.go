package delta

import (
	"math/rand/v2"
	"testing"
)

// refSum1 is checksum.c:get_checksum1 written out from NOTES.md §11:
// signed bytes, s1 = Σx, s2 = Σ(k−i)·x, sum = (s1 & 0xffff) | s2<<16.
func refSum1(block []byte) uint32 {
	var s1, s2 int64
	k := int64(len(block))
	for i, b := range block {
		x := int64(int8(b))
		s1 += x
		s2 += (k - int64(i)) * x
	}
	return uint32(s1)&0xffff | uint32(s2)<<16
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestSum1Vectors(t *testing.T) {
	tests := []struct {
		name  string
		block []byte
		want  uint32
	}{
		{"empty", nil, 0},
		{"one ascii byte", []byte{'a'}, 0x00610061},
		// 0x80 is −128 as a signed char: s1 = s2 = −128. Unsigned bytes
		// would give 0x00800080.
		{"0x80 is negative", []byte{0x80}, 0xff80ff80},
		{"0xff is -1", []byte{0xff}, 0xffffffff},
		{"two bytes", []byte{1, 2}, 0x00040003},         // s1 = 3, s2 = 2·1 + 1·2 = 4
		{"mixed signs", []byte{0x7f, 0x80}, 0x007effff}, // s1 = −1, s2 = 2·127 − 128 = 126
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sum1(tt.block); got != tt.want {
				t.Errorf("Sum1(% x) = %#08x, want %#08x", tt.block, got, tt.want)
			}
			if got := refSum1(tt.block); got != tt.want {
				t.Errorf("reference sum of % x = %#08x, want %#08x (bad table)", tt.block, got, tt.want)
			}
		})
	}
}

func TestSum1MatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 2, 3, 7, 64, 700, 701, 4096, 70000, 131072} {
		b := randBytes(rng, n)
		if got, want := Sum1(b), refSum1(b); got != want {
			t.Errorf("Sum1 of %d random bytes = %#08x, reference %#08x", n, got, want)
		}
	}
}

// TestRollingRoll: rolling the window one byte at a time must always equal
// recomputing the sum of the new window, with plenty of bytes ≥ 0x80.
func TestRollingRoll(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	data := randBytes(rng, 20000)
	// Bias some runs towards the extremes, where signedness matters most.
	for i := 5000; i < 6000; i++ {
		data[i] = 0x80 | data[i]
	}
	for i := 6000; i < 7000; i++ {
		data[i] = 0xff
	}
	for _, k := range []int{1, 2, 16, 700, 1024, 8000} {
		var r Rolling
		r.Init(data[:k])
		for p := 0; p+k < len(data); p++ {
			r.Roll(data[p], data[p+k])
			if got, want := r.Sum(), Sum1(data[p+1:p+1+k]); got != want {
				t.Fatalf("window %d at %d: rolled sum %#08x, recomputed %#08x", k, p+1, got, want)
			}
		}
	}
}

// TestRollingShrink: dropping the front byte (the end of the file) must
// equal recomputing over the shorter window, down to one byte.
func TestRollingShrink(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range []int{1, 2, 700, 3000} {
		data := randBytes(rng, k)
		var r Rolling
		r.Init(data)
		for p := 0; p < k-1; p++ {
			r.Shrink(data[p])
			if got, want := r.Sum(), Sum1(data[p+1:]); got != want {
				t.Fatalf("window %d shrunk to %d: %#08x, recomputed %#08x", k, k-p-1, got, want)
			}
		}
	}
	// Rolling then shrinking (what the matcher does near the end).
	data := randBytes(rng, 3000)
	var r Rolling
	r.Init(data[:700])
	for p := 0; p < 2300; p++ {
		r.Roll(data[p], data[p+700])
	}
	for p := 2300; p < 2999; p++ {
		r.Shrink(data[p])
		if got, want := r.Sum(), Sum1(data[p+1:]); got != want {
			t.Fatalf("after rolling, shrunk at %d: %#08x, recomputed %#08x", p, got, want)
		}
	}
}
