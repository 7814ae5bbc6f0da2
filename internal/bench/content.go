package bench

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
)

// Kind is a class of generated file: its extension, how large it tends to
// be relative to the others, and whether its content is text (compressible,
// like markup and code) or random (already-compressed media).
type Kind struct {
	Ext    string
	Share  float64 // share of the small files, by count
	Weight float64 // relative mean size
	Text   bool
	syntax []string
}

// smallKinds are the small files of a web root.
var smallKinds = []Kind{
	{Ext: "html", Share: 0.35, Weight: 1.0, Text: true, syntax: []string{
		"<div", "</div>", "class=\"", "\">", "<p>", "</p>", "<a href=\"/", "</a>", "<span>", "</span>",
		"<li>", "</li>", "<ul>", "</ul>", "<img src=\"/assets/img/", "alt=\"", "<h2>", "</h2>", "<section>", "</section>",
	}},
	{Ext: "js", Share: 0.15, Weight: 3.0, Text: true, syntax: []string{
		"function", "const", "let", "return", "this.", "=>", "{", "}", "(", ");", "if (", "else", "await", "export",
		"import", "from", "null", "undefined", "true", "false", "===", ".then(", "new", "async",
	}},
	{Ext: "css", Share: 0.08, Weight: 1.5, Text: true, syntax: []string{
		"{", "}", "margin:", "padding:", "display: flex;", "color: #", "px;", "font-size:", ".", "#", "@media",
		"border:", "rem;", "width:", "height:", "0;", "auto;", "solid", "!important;",
	}},
	{Ext: "json", Share: 0.05, Weight: 0.5, Text: true, syntax: []string{
		"{", "}", "\"id\":", "\"name\":", "\"url\":", "[", "]", ",", "true", "false", "null", "\"tags\":", "\"title\":",
	}},
	{Ext: "svg", Share: 0.05, Weight: 0.8, Text: true, syntax: []string{
		"<path d=\"M", "L", "C", "Z\"/>", "<g>", "</g>", "fill=\"#", "stroke=\"#", "<circle", "cx=\"", "cy=\"", "r=\"",
	}},
	{Ext: "md", Share: 0.05, Weight: 0.5, Text: true, syntax: []string{"#", "##", "-", "*", "[", "](", ")", "`"}},
	{Ext: "jpg", Share: 0.17, Weight: 2.0},
	{Ext: "png", Share: 0.07, Weight: 1.2},
	{Ext: "woff2", Share: 0.03, Weight: 1.0},
}

// textSource produces text with the redundancy of markup and code: words
// from a shared vocabulary drawn with a Zipf law, kind-specific syntax
// tokens, a sprinkling of numbers and hex ids, and indented lines. gzip
// compresses it about 3-4x, like real HTML, CSS and JavaScript.
type textSource struct {
	words []string
	zipf  []uint16 // precomputed Zipf draws over words: O(1) sampling
}

const (
	vocabSize   = 5000
	zipfSamples = 1 << 16
)

func newTextSource(seed uint64) *textSource {
	rng := rand.New(rand.NewPCG(seed, 0x746578747372630a))
	syllables := []string{"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "el", "an", "or", "is", "ux", "ber", "con", "dat", "fil", "gen", "hol", "jun", "mer"}
	t := &textSource{words: make([]string, vocabSize), zipf: make([]uint16, zipfSamples)}
	for i := range t.words {
		n := 1 + rng.IntN(4)
		var w []byte
		for range n {
			w = append(w, syllables[rng.IntN(len(syllables))]...)
		}
		t.words[i] = string(w)
	}
	z := rand.NewZipf(rng, 1.15, 2, vocabSize-1)
	for i := range t.zipf {
		t.zipf[i] = uint16(z.Uint64())
	}
	return t
}

// fill writes len(buf) bytes of text of kind k into buf.
func (t *textSource) fill(buf []byte, k Kind, rng *rand.Rand) {
	// Capacity capped at len(buf): a token that runs past the end makes
	// append reallocate instead of writing beyond buf.
	out := buf[:0:len(buf)]
	lineTokens := 0
	for len(out) < len(buf) {
		r := rng.Uint32N(100)
		switch {
		case r < 30 && len(k.syntax) > 0:
			out = append(out, k.syntax[rng.IntN(len(k.syntax))]...)
		case r < 34:
			out = strconv.AppendUint(out, uint64(rng.Uint32N(100000)), 10)
		case r < 36:
			out = strconv.AppendUint(out, rng.Uint64()&0xffffffffff, 16)
		default:
			out = append(out, t.words[t.zipf[rng.Uint32N(zipfSamples)]]...)
		}
		lineTokens++
		if lineTokens >= 6+int(rng.Uint32N(10)) {
			out = append(out, '\n')
			for range rng.IntN(5) {
				out = append(out, ' ', ' ')
			}
			lineTokens = 0
		} else {
			out = append(out, ' ')
		}
	}
	if len(out) > len(buf) { // reallocated: copy back what fits
		copy(buf, out)
	}
}

// randomStream returns an incompressible, seeded byte stream for one file.
func randomStream(seed uint64, file uint64) *rand.ChaCha8 {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], seed)
	binary.LittleEndian.PutUint64(key[8:], file)
	copy(key[16:], "rsync-bench-rand")
	return rand.NewChaCha8(key)
}
