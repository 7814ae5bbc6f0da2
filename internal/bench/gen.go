package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// WebRootSpec describes a synthetic web root. The same spec always yields
// the same tree, byte for byte, with the same modification times.
type WebRootSpec struct {
	Seed  uint64
	Files int   // regular files, the large binaries included
	Size  int64 // total bytes
	// BigSize is the one large random file (media/big.bin), the subject of
	// the 31-byte edit; 0 means Size/4.
	BigSize int64
}

// File is one generated regular file.
type File struct {
	Path  string // relative to the tree root, slash-separated
	Size  int64
	Ext   string
	Large bool // one of the large binaries (not edited by the 1% mutation)
}

// Tree is a generated tree on disk.
type Tree struct {
	Root  string
	Files []File
	Dirs  []string // relative, "" is the root
	Bytes int64
	Big   string // relative path of the big random file; "" if none
}

// entries is how many paths a push of the tree into an empty destination
// creates: its files and directories, the top one included (the
// provider's pending.create_count).
func (t *Tree) entries() int { return len(t.Files) + len(t.Dirs) }

// largeFiles are the web root's large binaries besides big.bin, with their
// share of the total size: 60 MB of a 400 MB tree.
var largeFiles = []struct {
	path  string
	share float64
}{
	{"media/intro.mp4", 0.0625},
	{"media/tour.webm", 0.0375},
	{"downloads/assets.zip", 0.03},
	{"downloads/manual.pdf", 0.02},
}

// epoch is the base of generated modification times (whole seconds).
var epoch = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

const bigPath = "media/big.bin"

// GenerateWebRoot writes the web root described by spec into root, which
// must not exist or be empty: mostly small text files (HTML, JS, CSS, JSON,
// SVG, Markdown) and small random ones (JPEG, PNG, WOFF2) in nested
// directories, sizes drawn from a log-normal law, plus a few large random
// binaries, one of them BigSize bytes.
func GenerateWebRoot(ctx context.Context, root string, spec WebRootSpec) (*Tree, error) {
	big := spec.BigSize
	if big == 0 {
		big = spec.Size / 4
	}
	nSmall := spec.Files - 1 - len(largeFiles)
	if nSmall < 1 {
		return nil, fmt.Errorf("web root: %d files is too few (at least %d)", spec.Files, len(largeFiles)+2)
	}
	budget := spec.Size - big
	files := []File{{Path: bigPath, Size: big, Ext: "bin", Large: true}}
	for _, l := range largeFiles {
		n := int64(l.share * float64(spec.Size))
		files = append(files, File{Path: l.path, Size: n, Ext: filepath.Ext(l.path)[1:], Large: true})
		budget -= n
	}
	if budget < int64(nSmall) {
		return nil, fmt.Errorf("web root: size %s leaves %d bytes for %d small files once the large binaries (%s) are placed",
			FormatBytes(spec.Size), budget, nSmall, FormatBytes(spec.Size-budget))
	}

	rng := rand.New(rand.NewPCG(spec.Seed, 0x776562726f6f74))
	dirs := randomDirs(rng, max(1, nSmall/25))
	weights := make([]float64, nSmall)
	kinds := make([]Kind, nSmall)
	var sum float64
	for i := range nSmall {
		kinds[i] = pickKind(rng)
		weights[i] = kinds[i].Weight * math.Exp(rng.NormFloat64())
		if rng.IntN(500) == 0 {
			weights[i] = 0 // a few empty files, as real trees have
		}
		sum += weights[i]
	}
	var placed int64
	small := make([]File, nSmall)
	for i := range small {
		size := int64(weights[i] / sum * float64(budget))
		placed += size
		dir := dirs[rng.IntN(len(dirs))]
		name := fmt.Sprintf("%s-%d.%s", dirWords[rng.IntN(len(dirWords))], i, kinds[i].Ext)
		small[i] = File{Path: joinRel(dir, name), Size: size, Ext: kinds[i].Ext}
	}
	small[0].Size += budget - placed // rounding: the total is exact
	files = append(files, small...)

	t := &Tree{Root: root, Files: files, Big: bigPath}
	w := newTreeWriter(root, spec.Seed)
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		kind := kindOf(f.Ext)
		mtime := epoch.Add(time.Duration(rng.Int64N(365*86400)) * time.Second)
		if err := w.write(f.Path, f.Size, kind, uint64(i), mtime); err != nil {
			return nil, err
		}
		t.Bytes += f.Size
	}
	t.Dirs = w.dirList()
	if err := w.finish(rng); err != nil {
		return nil, err
	}
	return t, nil
}

// GenerateTinyTree writes n small text files (0-1023 bytes) into root,
// 100 per directory, two directory levels deep: a tree whose sync cost is
// metadata, not data.
func GenerateTinyTree(ctx context.Context, root string, seed uint64, n int) (*Tree, error) {
	if n < 1 {
		return nil, errors.New("tiny tree: need at least one file")
	}
	rng := rand.New(rand.NewPCG(seed, 0x74696e79))
	t := &Tree{Root: root}
	w := newTreeWriter(root, seed)
	for i := range n {
		if i%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		leaf := i / 100
		f := File{Path: fmt.Sprintf("t%03d/l%03d/f%06d.txt", leaf/100, leaf%100, i), Size: int64(rng.IntN(1024)), Ext: "txt"}
		mtime := epoch.Add(time.Duration(rng.Int64N(365*86400)) * time.Second)
		if err := w.write(f.Path, f.Size, smallKinds[0], uint64(i), mtime); err != nil {
			return nil, err
		}
		t.Files = append(t.Files, f)
		t.Bytes += f.Size
	}
	t.Dirs = w.dirList()
	if err := w.finish(rng); err != nil {
		return nil, err
	}
	return t, nil
}

// dirWords name directories and prefix file names.
var dirWords = []string{
	"about", "blog", "docs", "guides", "api", "products", "team", "news", "press", "careers",
	"assets", "static", "img", "js", "css", "fonts", "icons", "legal", "help", "support",
	"pricing", "features", "events", "archive", "tags", "authors", "posts", "pages", "shop", "cart",
}

// randomDirs makes n directories as a random recursive tree: each new
// directory hangs under a random earlier one, so depth grows like ln n.
func randomDirs(rng *rand.Rand, n int) []string {
	dirs := []string{""}
	seen := map[string]bool{"": true}
	for i := 1; i < n; i++ {
		parent := dirs[rng.IntN(len(dirs))]
		name := joinRel(parent, fmt.Sprintf("%s%d", dirWords[rng.IntN(len(dirWords))], i))
		if !seen[name] {
			seen[name] = true
			dirs = append(dirs, name)
		}
	}
	return dirs
}

func pickKind(rng *rand.Rand) Kind {
	r := rng.Float64()
	for _, k := range smallKinds {
		if r < k.Share {
			return k
		}
		r -= k.Share
	}
	return smallKinds[0]
}

func kindOf(ext string) Kind {
	for _, k := range smallKinds {
		if k.Ext == ext {
			return k
		}
	}
	return Kind{Ext: ext} // large binaries: random
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// treeWriter writes files and remembers the directories it made, so that
// their modification times can be set once everything is written.
type treeWriter struct {
	root string
	seed uint64
	text *textSource
	dirs map[string]bool
	buf  []byte
}

func newTreeWriter(root string, seed uint64) *treeWriter {
	return &treeWriter{root: root, seed: seed, text: newTextSource(seed), dirs: map[string]bool{"": true}, buf: make([]byte, 1<<20)}
}

func (w *treeWriter) mkdirs(rel string) error {
	if w.dirs[rel] {
		return nil
	}
	if err := w.mkdirs(parentRel(rel)); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(w.root, filepath.FromSlash(rel)), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("generate: %w", err)
	}
	w.dirs[rel] = true
	return nil
}

func parentRel(rel string) string {
	d := filepath.ToSlash(filepath.Dir(filepath.FromSlash(rel)))
	if d == "." {
		return ""
	}
	return d
}

// write creates one file of size bytes: text of kind k, or a random
// stream; the content depends only on the seed and index.
func (w *treeWriter) write(rel string, size int64, k Kind, index uint64, mtime time.Time) (err error) {
	if err := os.MkdirAll(w.root, 0o755); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if err := w.mkdirs(parentRel(rel)); err != nil {
		return err
	}
	path := filepath.Join(w.root, filepath.FromSlash(rel))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("generate: %w", cerr)
		}
	}()
	if k.Text {
		rng := rand.New(rand.NewPCG(w.seed, index))
		if int64(cap(w.buf)) < size {
			w.buf = make([]byte, size)
		}
		b := w.buf[:size]
		w.text.fill(b, k, rng)
		if _, err := f.Write(b); err != nil {
			return fmt.Errorf("generate %s: %w", rel, err)
		}
	} else if _, err := io.CopyBuffer(f, io.LimitReader(randomStream(w.seed, index), size), w.buf); err != nil {
		return fmt.Errorf("generate %s: %w", rel, err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // whatever the umask
		return fmt.Errorf("generate: %w", err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	return nil
}

func (w *treeWriter) dirList() []string {
	list := make([]string, 0, len(w.dirs))
	for d := range w.dirs {
		list = append(list, d)
	}
	sort.Strings(list)
	return list
}

// finish gives every directory its mode and a deterministic modification
// time (after all its entries exist, so nothing disturbs it again).
func (w *treeWriter) finish(rng *rand.Rand) error {
	for _, d := range w.dirList() {
		p := filepath.Join(w.root, filepath.FromSlash(d))
		if err := os.Chmod(p, 0o755); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		mtime := epoch.Add(time.Duration(rng.Int64N(365*86400)) * time.Second)
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
	}
	return nil
}
