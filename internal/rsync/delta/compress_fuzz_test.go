package delta

import (
	"github.com/rsyncprovider/terraform-provider-rsync/internal/fuzzseed"

	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzApplyCompressedTokens feeds arbitrary -z token streams (zstd, zlibx,
// zlib) to CompressedTokenReader.Apply against a small basis: it must not
// panic, hang or deadlock its decompressor goroutine, must read only
// whole blocks of the basis, and its stats must describe what it wrote.

var fuzzCompressions = []Compression{CompressZstd, CompressZlibx, CompressZlib}

// compressedSel packs a compression and a basis size into the fuzz
// target's selector byte.
func compressedSel(algo Compression, basisLen int) byte {
	for ai, a := range fuzzCompressions {
		for bi, n := range applyBases {
			if a == algo && n == basisLen {
				return byte(bi*len(fuzzCompressions) + ai)
			}
		}
	}
	panic("no selector")
}

func compressedTokenSeeds() []fuzzseed.Seed {
	basis, head := applyBasis(compressedSel(CompressZstd, 2500) / byte(len(fuzzCompressions)))
	block := func(i int32) []byte {
		off := int(i) * int(head.BlockLen)
		return basis[off : off+int(head.BlockLenAt(i))]
	}
	var out []fuzzseed.Seed
	for _, algo := range fuzzCompressions {
		var buf bytes.Buffer
		w, err := NewCompressedTokenWriter(&buf, algo, 0)
		if err != nil {
			panic(err)
		}
		w.StartFile()
		steps := []error{
			w.Literal(bytes.Repeat([]byte("new data "), 40)),
			w.Match(0, block(0)),
			w.Match(1, block(1)),
			w.Literal([]byte("between\x80\xff")),
			w.Match(3, block(3)),
			w.Match(0, block(0)),
			w.End(),
		}
		if err := errors.Join(steps...); err != nil {
			panic(err)
		}
		out = append(out, fuzzseed.Seed{Name: "file-" + algo.Name(), Args: []any{buf.Bytes(), compressedSel(algo, 2500)}})
	}
	return out
}

// basisGuard records any read that is not exactly one block of the basis
// (it may be called from the decompressor's goroutine, so it cannot fail
// the test itself).
type basisGuard struct {
	b    []byte
	head SumHead
	bad  error
}

func (g *basisGuard) ReadAt(p []byte, off int64) (int, error) {
	bl := int64(g.head.BlockLen)
	if bl == 0 || off < 0 || off%bl != 0 || off+int64(len(p)) > int64(len(g.b)) ||
		off/bl >= int64(g.head.Count) || int32(len(p)) != g.head.BlockLenAt(int32(off/bl)) {
		if g.bad == nil {
			g.bad = fmt.Errorf("read of %d bytes at %d (%+v, basis %d bytes)", len(p), off, g.head, len(g.b))
		}
		return 0, errors.New("bad read")
	}
	return copy(p, g.b[off:]), nil
}

// cappedWriter counts output and stops a decompression bomb from eating
// the fuzzer's memory (an error here is a legitimate way for Apply to end).
type cappedWriter struct{ n int64 }

var errTooMuch = errors.New("output cap reached")

func (c *cappedWriter) Write(p []byte) (int, error) {
	if c.n+int64(len(p)) > 8<<20 {
		return 0, errTooMuch
	}
	c.n += int64(len(p))
	return len(p), nil
}

func FuzzApplyCompressedTokens(f *testing.F) {
	for _, s := range compressedTokenSeeds() {
		f.Add(s.Args[0].([]byte), s.Args[1].(byte))
	}
	f.Add([]byte{}, compressedSel(CompressZlib, 700))
	f.Add([]byte{0x40, 0x05, 1, 2, 3, 4, 5, 0x00}, compressedSel(CompressZstd, 700)) // garbage data
	f.Add([]byte{0x81, 0xc2, 0xff, 0xff, 0x00}, compressedSel(CompressZlib, 5000))   // huge run
	f.Add([]byte{0x20, 0xff, 0xff, 0xff, 0x7f, 0x00}, compressedSel(CompressZlibx, 2500))
	f.Fuzz(func(t *testing.T, tok []byte, sel byte) {
		algo := fuzzCompressions[int(sel)%len(fuzzCompressions)]
		basis, head := applyBasis(sel / byte(len(fuzzCompressions)))
		guard := &basisGuard{b: basis, head: head}
		r := NewCompressedTokenReader(algo)
		var out cappedWriter
		var st MatchStats
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			st, err = r.Apply(bytes.NewReader(tok), guard, head, &out)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Apply did not return within 10s", algo.Name())
		}
		closed := make(chan struct{})
		go func() { r.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Close did not return within 10s", algo.Name())
		}
		if guard.bad != nil {
			t.Fatalf("%s: %v", algo.Name(), guard.bad)
		}
		if err == nil && st.Literal+st.Matched != out.n {
			t.Fatalf("%s: stats %+v but %d bytes written", algo.Name(), st, out.n)
		}
	})
}

func TestCompressedSeedCorpus(t *testing.T) {
	fuzzseed.Check(t, "FuzzApplyCompressedTokens", compressedTokenSeeds(), false)
	// The seeds are valid streams that rebuild the expected file, both as
	// generated now and as checked in.
	seeds := compressedTokenSeeds()
	for _, s := range seeds {
		if b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzApplyCompressedTokens", s.Name)); err == nil {
			if data, ok := parseSeedBytes(b); ok {
				seeds = append(seeds, fuzzseed.Seed{Name: s.Name + " (checked in)", Args: []any{data, s.Args[1]}})
			} else {
				t.Errorf("%s: cannot parse the checked-in seed", s.Name)
			}
		}
	}
	for _, s := range seeds {
		sel := s.Args[1].(byte)
		algo := fuzzCompressions[int(sel)%len(fuzzCompressions)]
		basis, head := applyBasis(sel / byte(len(fuzzCompressions)))
		r := NewCompressedTokenReader(algo)
		var out bytes.Buffer
		st, err := r.Apply(bytes.NewReader(s.Args[0].([]byte)), bytes.NewReader(basis), head, &out)
		r.Close()
		want := splice(bytes.Repeat([]byte("new data "), 40), basis[:1400], []byte("between\x80\xff"), basis[2100:], basis[:700])
		if err != nil || !bytes.Equal(out.Bytes(), want) || st.Matched != 700*3+400 {
			t.Errorf("%s: %d bytes, stats %+v, err %v", s.Name, out.Len(), st, err)
		}
	}
}

// parseSeedBytes reads the []byte argument of a corpus file written by
// marshalSeed.
func parseSeedBytes(file []byte) ([]byte, bool) {
	lines := strings.Split(string(file), "\n")
	if len(lines) < 2 || lines[0] != "go test fuzz v1" {
		return nil, false
	}
	q, ok := strings.CutPrefix(lines[1], "[]byte(")
	if !ok {
		return nil, false
	}
	s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
	return []byte(s), err == nil
}
