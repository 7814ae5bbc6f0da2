package csum

import (
	"encoding/hex"
	"slices"
	"testing"

	"golang.org/x/crypto/md4" //nolint:staticcheck // the reference for protocols 27–29
)

func md4Hex(parts ...[]byte) string {
	h := md4.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestMD4OldProtocols pins the three md4 sums of protocols 27–29
// (checksum.c, CSUM_MD4_OLD): block sums append a non-zero seed, the
// whole-file sum after the tokens starts with the seed (even 0), the -c
// file-list sum has none. The interop tests prove them against rsync:
// every block matches and every file verifies at both ends.
func TestMD4OldProtocols(t *testing.T) {
	if got := hex.EncodeToString(MD4.NewFile().Sum(nil)); got != "31d6cfe0d16ae931b73c59d7e0c089c0" {
		t.Fatalf("md4 of nothing = %s (RFC 1320)", got)
	}
	h := MD4.NewFile()
	h.Write([]byte("abc"))
	if got := hex.EncodeToString(h.Sum(nil)); got != "a448017aaf21d8525fc10ae87aa6729d" {
		t.Fatalf("md4(abc) = %s (RFC 1320)", got)
	}
	if slices.Contains(Offered, MD4) {
		t.Fatal("md4 must never be offered: its seed position at 30+ depends on the server's OpenSSL")
	}
	// 64 bytes: the length whose tail protocols before 27 got wrong.
	block := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	seed := int32(-1985229329) // 0x89abcdef
	le := []byte{0xef, 0xcd, 0xab, 0x89}
	if got, want := hex.EncodeToString(MD4.Block(nil, block, seed, false)), md4Hex(block, le); got != want {
		t.Errorf("block sum = %s, want md4(block ‖ seed) %s", got, want)
	}
	if got, want := hex.EncodeToString(MD4.Block(nil, block, seed, true)), md4Hex(block, le); got != want {
		t.Errorf("block sum with CHKSUM_SEED_FIX = %s, want it ignored (%s)", got, want)
	}
	if got, want := hex.EncodeToString(MD4.Block(nil, block, 0, false)), md4Hex(block); got != want {
		t.Errorf("block sum with seed 0 = %s, want md4(block) %s", got, want)
	}
	for _, sd := range []int32{seed, 0} {
		w := MD4.NewTransfer(sd, 29)
		for range 2 { // Reset starts again from the seed
			w.Reset()
			w.Write(block[:10])
			w.Write(block[10:])
			var s [4]byte
			s[0], s[1], s[2], s[3] = byte(sd), byte(sd>>8), byte(sd>>16), byte(sd>>24)
			if got, want := hex.EncodeToString(w.Sum(nil)), md4Hex(s[:], block); got != want {
				t.Errorf("seed %d: whole-file sum = %s, want md4(seed ‖ data) %s", sd, got, want)
			}
		}
	}
	if got, want := hex.EncodeToString(MD4.NewTransfer(seed, 30).Sum(nil)), md4Hex(); got != want {
		t.Errorf("at 30 the whole-file sum is unseeded: %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(MD5.NewTransfer(seed, 29).Sum(nil)), hex.EncodeToString(MD5.NewFile().Sum(nil)); got != want {
		t.Errorf("only md4 is seeded: %s, want %s", got, want)
	}
}
