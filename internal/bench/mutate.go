package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// MutationSpec says how to derive an edited tree from a base tree.
type MutationSpec struct {
	Seed     uint64
	Fraction float64 // share of the small files edited (0.01: 1%)
	BigEdit  int     // bytes overwritten in the middle of the big file; 0: none
}

// Mutation is what Mutate changed.
type Mutation struct {
	Root      string
	Edited    []string // relative paths of edited small files, sorted
	BigOffset int64    // where the big file was overwritten
	BigLen    int
}

// mtimeBump is added to the modification time of every edited file.
const mtimeBump = 24 * time.Hour

// Mutate makes root a copy of base in which a Fraction of the small files
// carry a small in-place edit (1-64 bytes overwritten, size unchanged) and
// the big file has BigEdit bytes overwritten at its middle; every edited
// file's modification time moves a day later. Unedited files are hard
// links to base's (neither tool writes to its source), edited ones are new
// files, so base is never modified. Directory times are base's.
func Mutate(ctx context.Context, base *Tree, root string, spec MutationSpec) (*Mutation, error) {
	if err := linkTree(ctx, base.Root, root); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(spec.Seed, 0x6d7574617465))
	var candidates []string
	for _, f := range base.Files {
		if !f.Large {
			candidates = append(candidates, f.Path)
		}
	}
	n := int(math.Round(spec.Fraction * float64(len(candidates))))
	if spec.Fraction > 0 && n == 0 && len(candidates) > 0 {
		n = 1
	}
	m := &Mutation{Root: root}
	for _, i := range rng.Perm(len(candidates))[:n] {
		m.Edited = append(m.Edited, candidates[i])
	}
	sort.Strings(m.Edited)
	for _, rel := range m.Edited {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := editSmall(root, rel, rng); err != nil {
			return nil, err
		}
	}
	if spec.BigEdit > 0 && base.Big != "" {
		off, err := editBig(ctx, root, base.Big, spec.BigEdit, rng)
		if err != nil {
			return nil, err
		}
		m.BigOffset, m.BigLen = off, spec.BigEdit
	}
	if err := copyDirTimes(base.Root, root); err != nil {
		return nil, err
	}
	return m, nil
}

// linkTree recreates src's directories under dst and hard-links its files.
func linkTree(ctx context.Context, src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("mutate: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return fmt.Errorf("mutate: %w", err)
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("mutate: %w", err)
			}
		case d.Type().IsRegular():
			if err := os.Link(p, target); err != nil {
				return fmt.Errorf("mutate: %w", err)
			}
		default:
			return fmt.Errorf("mutate: %s is neither a file nor a directory", p)
		}
		return nil
	})
}

// editSmall overwrites 1-64 bytes of a small file with different letters
// (an empty file gets a line), as a new file replacing the link.
func editSmall(root, rel string, rng *rand.Rand) error {
	path := filepath.Join(root, filepath.FromSlash(rel))
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("mutate: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("mutate: %w", err)
	}
	if len(data) == 0 {
		data = []byte("edited\n")
	} else {
		n := min(len(data), 1+rng.IntN(64))
		off := rng.IntN(len(data) - n + 1)
		for j := off; j < off+n; j++ {
			b := byte('a' + rng.IntN(26))
			if b == data[j] {
				b = '#'
			}
			data[j] = b
		}
	}
	return replaceFile(path, fi, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// editBig overwrites n bytes at the middle of the big file; every byte
// changes (XOR with a non-zero value).
func editBig(ctx context.Context, root, rel string, n int, rng *rand.Rand) (int64, error) {
	path := filepath.Join(root, filepath.FromSlash(rel))
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("mutate: %w", err)
	}
	if fi.Size() < int64(n) {
		return 0, fmt.Errorf("mutate: %s is %d bytes, shorter than the %d-byte edit", rel, fi.Size(), n)
	}
	off := fi.Size()/2 - int64(n)/2
	src, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("mutate: %w", err)
	}
	defer src.Close()
	err = replaceFile(path, fi, func(w io.Writer) error {
		if _, err := io.Copy(w, io.NewSectionReader(src, 0, off)); err != nil {
			return err
		}
		patch := make([]byte, n)
		if _, err := src.ReadAt(patch, off); err != nil {
			return err
		}
		for i := range patch {
			patch[i] ^= byte(1 + rng.IntN(255))
		}
		if _, err := w.Write(patch); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := io.Copy(w, io.NewSectionReader(src, off+int64(n), fi.Size()-off-int64(n)))
		return err
	})
	return off, err
}

// replaceFile writes a new file with fill and renames it over path, with
// path's mode and its modification time plus mtimeBump.
func replaceFile(path string, fi fs.FileInfo, fill func(io.Writer) error) error {
	tmp := path + ".mutate-tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return fmt.Errorf("mutate: %w", err)
	}
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, fi.Mode().Perm())
	}
	if err == nil {
		mtime := fi.ModTime().Add(mtimeBump)
		err = os.Chtimes(tmp, mtime, mtime)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mutate %s: %w", path, err)
	}
	return nil
}

// copyDirTimes gives every directory under dst the mode and times of the
// same directory under src.
func copyDirTimes(src, dst string) error {
	var dirs []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mutate: %w", err)
	}
	for _, p := range dirs {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("mutate: %w", err)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return fmt.Errorf("mutate: %w", err)
		}
		target := filepath.Join(dst, rel)
		if err := os.Chmod(target, fi.Mode().Perm()); err != nil {
			return fmt.Errorf("mutate: %w", err)
		}
		if err := os.Chtimes(target, fi.ModTime(), fi.ModTime()); err != nil {
			return fmt.Errorf("mutate: %w", err)
		}
	}
	if len(dirs) == 0 {
		return errors.New("mutate: source tree has no directories")
	}
	return nil
}
