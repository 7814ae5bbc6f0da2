package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// entryMeta is what rsync -a preserves and CompareTrees checks.
type entryMeta struct {
	mode  fs.FileMode
	size  int64
	mtime int64 // seconds
}

// CompareTrees checks that dst mirrors src as `rsync -a --delete src/ dst/`
// leaves it: the same entries with the same type, permissions, size (files)
// and modification time to the second, and the same bytes for the files
// listed in content (relative paths). It names up to five differences.
func CompareTrees(src, dst string, content []string) error {
	return compareTrees(src, dst, content, true)
}

// CompareContent checks what a file provisioner leaves: the same
// directories and files as src with the same sizes, and the same bytes
// for the files listed in content. Terraform's scp sends neither
// permissions nor times (every file arrives 0644, stamped now), and it
// never deletes, so those are not compared.
func CompareContent(src, dst string, content []string) error {
	return compareTrees(src, dst, content, false)
}

// compareTrees is CompareTrees (mirror) or CompareContent (!mirror).
func compareTrees(src, dst string, content []string, mirror bool) error {
	a, err := scanTree(src)
	if err != nil {
		return err
	}
	b, err := scanTree(dst)
	if err != nil {
		return err
	}
	var diffs []string
	add := func(format string, args ...any) {
		if len(diffs) < 5 {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	for _, rel := range sortedKeys(a) {
		ea := a[rel]
		eb, ok := b[rel]
		switch {
		case !ok:
			add("%s: missing", rel)
		case mirror && ea.mode != eb.mode:
			add("%s: mode %v, want %v", rel, eb.mode, ea.mode)
		case ea.mode.Type() != eb.mode.Type():
			add("%s: type %v, want %v", rel, eb.mode.Type(), ea.mode.Type())
		case ea.mode.IsRegular() && ea.size != eb.size:
			add("%s: size %d, want %d", rel, eb.size, ea.size)
		case mirror && ea.mtime != eb.mtime:
			add("%s: mtime %d, want %d", rel, eb.mtime, ea.mtime)
		}
	}
	if mirror {
		for rel := range b {
			if _, ok := a[rel]; !ok {
				add("%s: extraneous", rel)
			}
		}
	}
	for _, rel := range content {
		same, err := sameContent(filepath.Join(src, filepath.FromSlash(rel)), filepath.Join(dst, filepath.FromSlash(rel)))
		if err != nil {
			add("%s: %v", rel, err)
		} else if !same {
			add("%s: content differs", rel)
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	if mirror {
		return fmt.Errorf("%s does not mirror %s: %s", dst, src, strings.Join(diffs, "; "))
	}
	return fmt.Errorf("%s lacks what %s holds: %s", dst, src, strings.Join(diffs, "; "))
}

func scanTree(root string) (map[string]entryMeta, error) {
	m := map[string]entryMeta{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		m[filepath.ToSlash(rel)] = entryMeta{mode: fi.Mode(), size: fi.Size(), mtime: fi.ModTime().Unix()}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	return m, nil
}

func sortedKeys(m map[string]entryMeta) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		aEOF := errors.Is(ea, io.EOF) || errors.Is(ea, io.ErrUnexpectedEOF)
		bEOF := errors.Is(eb, io.EOF) || errors.Is(eb, io.ErrUnexpectedEOF)
		switch {
		case aEOF && bEOF:
			return true, nil
		case ea != nil && !aEOF:
			return false, ea
		case eb != nil && !bEOF:
			return false, eb
		case aEOF != bEOF:
			return false, nil
		}
	}
}
