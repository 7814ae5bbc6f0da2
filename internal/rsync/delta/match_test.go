package delta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
)

// tokenStats is what a decoded token stream contains.
type tokenStats struct {
	MatchStats
	maxLiteral int
	literals   int
}

// decodeTokens parses an uncompressed token stream independently of Apply
// and checks its shape: literal runs of 1..32768 bytes, block indexes
// inside the basis, exactly one end token at the very end.
func decodeTokens(t *testing.T, tok []byte, head SumHead) tokenStats {
	t.Helper()
	var ts tokenStats
	for {
		if len(tok) < 4 {
			t.Fatalf("token stream ends without the end token (%d bytes left)", len(tok))
		}
		n := int32(binary.LittleEndian.Uint32(tok))
		tok = tok[4:]
		switch {
		case n == 0:
			if len(tok) != 0 {
				t.Fatalf("%d bytes after the end token", len(tok))
			}
			return ts
		case n > 0:
			if n > MaxLiteralRun {
				t.Fatalf("literal run of %d bytes exceeds %d", n, MaxLiteralRun)
			}
			if int(n) > len(tok) {
				t.Fatalf("literal of %d bytes has only %d", n, len(tok))
			}
			tok = tok[n:]
			ts.Literal += int64(n)
			ts.maxLiteral = max(ts.maxLiteral, int(n))
			ts.literals++
		default:
			i := -(n + 1)
			if i < 0 || i >= head.Count {
				t.Fatalf("match of block %d, basis has %d", i, head.Count)
			}
			ts.Matched += int64(head.BlockLenAt(i))
			ts.Blocks++
		}
	}
}

type matchRun struct {
	head   SumHead
	stats  MatchStats
	tokens tokenStats
}

// roundTrip builds the signature of basis, matches target against it,
// applies the tokens to basis and requires the target back, plus the
// whole-file sum of the target.
func roundTrip(t *testing.T, basis, target []byte, algo csum.Algo, seed int32, seedFirst, shortReads bool) matchRun {
	t.Helper()
	strong := func(dst, b []byte) []byte { return algo.Block(dst, b, seed, seedFirst) }
	head := NewSumHead(int64(len(basis)), algo.Len(), false)
	sig, err := MakeSignature(bytes.NewReader(basis), head, strong)
	if err != nil {
		t.Fatalf("MakeSignature: %v", err)
	}
	if len(sig.Sum1) != int(head.Count) || len(sig.Sum2) != int(head.Count)*int(head.S2Len) {
		t.Fatalf("signature has %d weak and %d strong bytes for %+v", len(sig.Sum1), len(sig.Sum2), head)
	}
	var src io.Reader = bytes.NewReader(target)
	if shortReads {
		src = iotest.HalfReader(src)
	}
	var tok bytes.Buffer
	tw := &TokenWriter{W: &tok}
	whole := algo.NewFile()
	st, err := Match(sig, strong, src, whole, blockCheckSink{t, tw, basis, head})
	if err != nil {
		t.Fatalf("Match: %v", err)
	}
	if err := tw.End(); err != nil {
		t.Fatal(err)
	}
	want := algo.NewFile()
	want.Write(target)
	if got, w := whole.Sum(nil), want.Sum(nil); !bytes.Equal(got, w) {
		t.Fatalf("whole-file %s written by Match = %x, sum of the target %x", algo, got, w)
	}
	if st.Literal+st.Matched != int64(len(target)) {
		t.Fatalf("stats %+v cover %d bytes of %d", st, st.Literal+st.Matched, len(target))
	}
	ts := decodeTokens(t, tok.Bytes(), head)
	if ts.MatchStats != st {
		t.Fatalf("tokens hold %+v, Match reported %+v", ts.MatchStats, st)
	}
	var out bytes.Buffer
	ast, err := Apply(bytes.NewReader(tok.Bytes()), bytes.NewReader(basis), head, &out)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if !bytes.Equal(out.Bytes(), target) {
		t.Fatalf("Apply rebuilt %d bytes that differ from the %d-byte target (first difference at %d)", out.Len(), len(target), firstDiff(out.Bytes(), target))
	}
	if ast != st {
		t.Fatalf("Apply stats %+v, Match stats %+v", ast, st)
	}
	return matchRun{head: head, stats: st, tokens: ts}
}

// blockCheckSink passes tokens on and checks that the data handed along
// with each match is exactly the basis block.
type blockCheckSink struct {
	t     *testing.T
	next  Sink
	basis []byte
	head  SumHead
}

func (s blockCheckSink) Literal(p []byte) error { return s.next.Literal(p) }

func (s blockCheckSink) Match(i int32, data []byte) error {
	off := int64(i) * int64(s.head.BlockLen)
	if want := s.basis[off : off+int64(s.head.BlockLenAt(i))]; !bytes.Equal(data, want) {
		s.t.Errorf("Match(%d) carries %d bytes that are not the basis block (%d bytes)", i, len(data), len(want))
	}
	return s.next.Match(i, data)
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func splice(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// scenario makes a basis and a target; small says the edit is small enough
// that at most two blocks of literal data may be sent.
type scenario struct {
	name  string
	make  func(rng *rand.Rand) (basis, target []byte)
	small bool
}

func scenarios() []scenario {
	largeSize := func(rng *rand.Rand) int { return 256<<10 + rng.IntN(768<<10) }
	return []scenario{
		{"identical", func(rng *rand.Rand) ([]byte, []byte) {
			b := randBytes(rng, 1+rng.IntN(100000))
			return b, bytes.Clone(b)
		}, true},
		{"insert", func(rng *rand.Rand) ([]byte, []byte) {
			b := randBytes(rng, largeSize(rng))
			p := rng.IntN(len(b) + 1)
			return b, splice(b[:p], randBytes(rng, 1+rng.IntN(64)), b[p:])
		}, true},
		{"delete", func(rng *rand.Rand) ([]byte, []byte) {
			b := randBytes(rng, largeSize(rng))
			p := rng.IntN(len(b) - 64)
			return b, splice(b[:p], b[p+1+rng.IntN(64):])
		}, true},
		{"overwrite", func(rng *rand.Rand) ([]byte, []byte) {
			b := randBytes(rng, largeSize(rng))
			tg := bytes.Clone(b)
			p := rng.IntN(len(b) - 64)
			copy(tg[p:], randBytes(rng, 1+rng.IntN(64)))
			return b, tg
		}, true},
		{"single byte in 1 MB", func(rng *rand.Rand) ([]byte, []byte) {
			b := randBytes(rng, 1<<20)
			tg := bytes.Clone(b)
			tg[rng.IntN(len(tg))] ^= byte(1 + rng.IntN(255))
			return b, tg
		}, true},
		{"append", func(rng *rand.Rand) ([]byte, []byte) {
			b := randBytes(rng, rng.IntN(100000))
			return b, splice(b, randBytes(rng, 1+rng.IntN(5000)))
		}, false},
		{"prepend", func(rng *rand.Rand) ([]byte, []byte) {
			b := randBytes(rng, rng.IntN(100000))
			return b, splice(randBytes(rng, 1+rng.IntN(5000)), b)
		}, false},
		{"move a block", func(rng *rand.Rand) ([]byte, []byte) {
			b := randBytes(rng, 50000+rng.IntN(150000))
			n := 1000 + rng.IntN(20000)
			from := rng.IntN(len(b) - n)
			rest := splice(b[:from], b[from+n:])
			to := rng.IntN(len(rest) + 1)
			return b, splice(rest[:to], b[from:from+n], rest[to:])
		}, false},
		{"empty target", func(rng *rand.Rand) ([]byte, []byte) {
			return randBytes(rng, 1+rng.IntN(10000)), nil
		}, true},
		{"empty basis", func(rng *rand.Rand) ([]byte, []byte) {
			return nil, randBytes(rng, rng.IntN(100000))
		}, false},
		{"both empty", func(rng *rand.Rand) ([]byte, []byte) { return nil, nil }, true},
		{"shorter than a block", func(rng *rand.Rand) ([]byte, []byte) {
			b := randBytes(rng, 1+rng.IntN(MinBlockSize-1))
			switch rng.IntN(3) {
			case 0:
				return b, bytes.Clone(b)
			case 1:
				return b, splice(randBytes(rng, 1+rng.IntN(100)), b)
			default:
				return b, splice(b, b)
			}
		}, false},
		{"exact multiple of the block size", func(rng *rand.Rand) ([]byte, []byte) {
			b := randBytes(rng, MinBlockSize*(1+rng.IntN(100)))
			tg := bytes.Clone(b)
			if rng.IntN(2) == 0 {
				tg[rng.IntN(len(tg))]++
			}
			return b, tg
		}, true},
		{"unrelated basis", func(rng *rand.Rand) ([]byte, []byte) {
			return randBytes(rng, rng.IntN(100000)), randBytes(rng, rng.IntN(100000))
		}, false},
		{"long new run between matches", func(rng *rand.Rand) ([]byte, []byte) {
			b := randBytes(rng, 100000)
			p := rng.IntN(len(b))
			return b, splice(b[:p], randBytes(rng, 100000+rng.IntN(10000)), b[p:])
		}, false},
		{"repetitive basis", func(rng *rand.Rand) ([]byte, []byte) {
			b := bytes.Repeat([]byte{0x80 | byte(rng.Uint32())}, 50000+rng.IntN(10000))
			tg := bytes.Clone(b)
			tg[rng.IntN(len(tg))]++
			return b, splice(tg, b[:rng.IntN(3000)])
		}, false},
		{"target is the basis twice", func(rng *rand.Rand) ([]byte, []byte) {
			b := randBytes(rng, 1+rng.IntN(50000))
			return b, splice(b, b)
		}, false},
	}
}

// TestMatchApplyRoundTrip: for every scenario, algorithm and seed
// placement, the tokens Match emits rebuild the target from the basis.
func TestMatchApplyRoundTrip(t *testing.T) {
	seeds := []int32{0, 1, -1, math.MinInt32, math.MaxInt32}
	for si, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(si), 0xde17a))
			run := 0
			for _, algo := range csum.Offered {
				for _, seedFirst := range []bool{true, false} {
					seed := seeds[run%len(seeds)]
					if run%3 == 2 {
						seed = int32(rng.Uint32()) // random, either sign
					}
					basis, target := sc.make(rng)
					name := fmt.Sprintf("%s/seed%d/seedFirst=%v/basis%d/target%d", algo, seed, seedFirst, len(basis), len(target))
					t.Run(name, func(t *testing.T) {
						r := roundTrip(t, basis, target, algo, seed, seedFirst, run%2 == 1)
						if sc.small && r.stats.Literal > 2*int64(r.head.BlockLen) {
							t.Errorf("small edit sent %d literal bytes; want at most two blocks (%d)", r.stats.Literal, 2*r.head.BlockLen)
						}
						if sc.name == "identical" && (r.stats.Literal != 0 || r.stats.Blocks != int64(r.head.Count)) {
							t.Errorf("identical file: %+v, want every one of %d blocks matched", r.stats, r.head.Count)
						}
						if sc.name == "long new run between matches" && r.tokens.maxLiteral != MaxLiteralRun {
							t.Errorf("longest literal run %d, want runs split at exactly %d", r.tokens.maxLiteral, MaxLiteralRun)
						}
					})
					run++
				}
			}
		})
	}
}

// TestMatchPrefersNextBlock: with identical blocks in the basis the
// matcher picks the block after the previous match (match.c want_i), so
// an unchanged repetitive file is sent as blocks 0, 1, 2, ….
func TestMatchPrefersNextBlock(t *testing.T) {
	basis := bytes.Repeat([]byte("0123456789"), 700) // 10 identical 700-byte blocks
	head := NewSumHead(int64(len(basis)), 16, false)
	strong := func(dst, b []byte) []byte { return csum.MD5.Block(dst, b, 0, true) }
	sig, err := MakeSignature(bytes.NewReader(basis), head, strong)
	if err != nil {
		t.Fatal(err)
	}
	var rec recordSink
	if _, err := Match(sig, strong, bytes.NewReader(basis), nil, &rec); err != nil {
		t.Fatal(err)
	}
	want := "m0 m1 m2 m3 m4 m5 m6 m7 m8 m9"
	if got := rec.String(); got != want {
		t.Fatalf("tokens %q, want %q", got, want)
	}
}

type recordSink struct{ ev []string }

func (r *recordSink) Literal(p []byte) error {
	r.ev = append(r.ev, fmt.Sprintf("l%d", len(p)))
	return nil
}

func (r *recordSink) Match(i int32, _ []byte) error {
	r.ev = append(r.ev, fmt.Sprintf("m%d", i))
	return nil
}

func (r *recordSink) String() string {
	var b bytes.Buffer
	for i, e := range r.ev {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e)
	}
	return b.String()
}

// TestMatchLastShortBlock: the short last block of the basis matches only
// at the end of the target, with its own length.
func TestMatchLastShortBlock(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	basis := randBytes(rng, 2*MinBlockSize+123)
	strong := func(dst, b []byte) []byte { return csum.XXH128.Block(dst, b, 77, true) }
	head := NewSumHead(int64(len(basis)), 16, false)
	sig, err := MakeSignature(bytes.NewReader(basis), head, strong)
	if err != nil {
		t.Fatal(err)
	}
	target := splice([]byte("new"), basis[2*MinBlockSize:], basis[:MinBlockSize])
	var rec recordSink
	if _, err := Match(sig, strong, bytes.NewReader(target), nil, &rec); err != nil {
		t.Fatal(err)
	}
	// The 123-byte tail of the basis is not at the end of the target, so
	// it cannot match there; block 0 does.
	if got, want := rec.String(), "l126 m0"; got != want {
		t.Fatalf("tokens %q, want %q", got, want)
	}
	rec = recordSink{}
	target = splice(basis[:MinBlockSize], []byte("x"), basis[2*MinBlockSize:])
	if _, err := Match(sig, strong, bytes.NewReader(target), nil, &rec); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.String(), "m0 l1 m2"; got != want {
		t.Fatalf("tokens %q, want %q", got, want)
	}
}

func TestMatchErrors(t *testing.T) {
	strong := func(dst, b []byte) []byte { return csum.MD5.Block(dst, b, 0, true) }
	basis := bytes.Repeat([]byte{1}, 2000)
	head := NewSumHead(2000, 16, false)
	sig, err := MakeSignature(bytes.NewReader(basis), head, strong)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("signature arrays disagree with the head", func(t *testing.T) {
		bad := *sig
		bad.Sum1 = bad.Sum1[:1]
		if _, err := Match(&bad, strong, bytes.NewReader(basis), nil, &recordSink{}); err == nil {
			t.Fatal("no error")
		}
	})
	boom := errors.New("sink full")
	t.Run("sink error on a match", func(t *testing.T) {
		if _, err := Match(sig, strong, bytes.NewReader(basis), nil, failSink{boom}); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the sink's", err)
		}
	})
	t.Run("sink error on a literal", func(t *testing.T) {
		if _, err := Match(sig, strong, bytes.NewReader([]byte("abc")), nil, failSink{boom}); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the sink's", err)
		}
		if _, err := Match(nil, strong, bytes.NewReader([]byte("abc")), nil, failSink{boom}); !errors.Is(err, boom) {
			t.Fatalf("literal-only: err = %v, want the sink's", err)
		}
	})
	t.Run("source error", func(t *testing.T) {
		src := io.MultiReader(bytes.NewReader(basis[:900]), iotest.ErrReader(boom))
		if _, err := Match(sig, strong, src, nil, &recordSink{}); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the reader's", err)
		}
		if _, err := Match(nil, strong, iotest.ErrReader(boom), nil, &recordSink{}); !errors.Is(err, boom) {
			t.Fatalf("literal-only: err = %v, want the reader's", err)
		}
	})
	t.Run("short basis", func(t *testing.T) {
		if _, err := MakeSignature(bytes.NewReader(basis[:1999]), head, strong); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("MakeSignature of a short basis: %v", err)
		}
	})
}

type failSink struct{ err error }

func (f failSink) Literal([]byte) error      { return f.err }
func (f failSink) Match(int32, []byte) error { return f.err }

func TestTokenWriter(t *testing.T) {
	var buf bytes.Buffer
	tw := &TokenWriter{W: &buf}
	if err := tw.Literal(nil); err != nil || buf.Len() != 0 {
		t.Fatalf("empty literal wrote %d bytes (err %v)", buf.Len(), err)
	}
	if err := tw.Literal(make([]byte, MaxLiteralRun+1)); err == nil {
		t.Fatal("a literal over 32 KiB was accepted")
	}
	if err := errors.Join(tw.Literal([]byte("abc")), tw.Match(0, nil), tw.Match(142, nil), tw.End()); err != nil {
		t.Fatal(err)
	}
	want := []byte{3, 0, 0, 0, 'a', 'b', 'c', 0xff, 0xff, 0xff, 0xff, 0x71, 0xff, 0xff, 0xff, 0, 0, 0, 0}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("tokens % x, want % x", buf.Bytes(), want)
	}
}

func TestApplyRejects(t *testing.T) {
	basis := make([]byte, 2500) // blocks of 700, 700, 700, 400
	head := NewSumHead(2500, 16, false)
	tok := func(vals ...int32) []byte {
		var b []byte
		for _, v := range vals {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
		return b
	}
	tests := []struct {
		name   string
		tokens []byte
		head   SumHead
	}{
		{"block past the end", tok(-5, 0), head},
		{"min int32 token", tok(math.MinInt32, 0), head},
		{"match with no blocks", tok(-1, 0), SumHead{}},
		{"literal too long", tok(MaxLiteralRun*4 + 1), head},
		{"truncated literal", append(tok(10), "abc"...), head},
		{"missing end token", tok(-1), head},
		{"truncated token", []byte{1, 0}, head},
		{"basis shorter than the head says", tok(-4, 0), SumHead{Count: 5, BlockLen: 700, S2Len: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if _, err := Apply(bytes.NewReader(tt.tokens), bytes.NewReader(basis), tt.head, &out); err == nil {
				t.Fatalf("no error; wrote %d bytes", out.Len())
			}
		})
	}
	t.Run("last block has the remainder's length", func(t *testing.T) {
		b := randBytes(rand.New(rand.NewPCG(1, 1)), 2500)
		var out bytes.Buffer
		st, err := Apply(bytes.NewReader(tok(-4, -1, 0)), bytes.NewReader(b), head, &out)
		if err != nil {
			t.Fatal(err)
		}
		if want := splice(b[2100:], b[:700]); !bytes.Equal(out.Bytes(), want) || st.Matched != 1100 || st.Blocks != 2 {
			t.Fatalf("rebuilt %d bytes, stats %+v", out.Len(), st)
		}
	})
	t.Run("long literal from an old sender", func(t *testing.T) {
		lit := bytes.Repeat([]byte{0x80}, MaxLiteralRun*4)
		in := splice(tok(MaxLiteralRun*4), lit, tok(0))
		var out bytes.Buffer
		if st, err := Apply(bytes.NewReader(in), bytes.NewReader(basis), head, &out); err != nil || !bytes.Equal(out.Bytes(), lit) || st.Literal != int64(len(lit)) {
			t.Fatalf("err %v, %d bytes, stats %+v", err, out.Len(), st)
		}
	})
}
