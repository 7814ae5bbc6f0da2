package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Changes is what a sync would do, as paths relative to the tree root
// (directories end in "/", the root is "."): tree.Changes for our engine,
// the itemized lines of rsync -n -i for the CLI.
type Changes struct {
	Create []string `json:"create"`
	Update []string `json:"update"`
	Delete []string `json:"delete"`
}

func (c *Changes) sort() {
	slices.Sort(c.Create)
	slices.Sort(c.Update)
	slices.Sort(c.Delete)
}

// Equal reports whether both list the same paths in each category.
func (c *Changes) Equal(o *Changes) bool {
	if c == nil || o == nil {
		return c == o
	}
	return slices.Equal(c.Create, o.Create) && slices.Equal(c.Update, o.Update) && slices.Equal(c.Delete, o.Delete)
}

// Count is the number of paths in all categories.
func (c *Changes) Count() int {
	if c == nil {
		return 0
	}
	return len(c.Create) + len(c.Update) + len(c.Delete)
}

func (c *Changes) String() string {
	if c == nil {
		return "(none reported)"
	}
	if c.Count() == 0 {
		return "no differences"
	}
	return fmt.Sprintf("create %s; update %s; delete %s", listOrNone(c.Create), listOrNone(c.Update), listOrNone(c.Delete))
}

// Summary counts the categories: "1 to create, 4 to update, 4 to delete".
func (c *Changes) Summary() string {
	if c.Count() == 0 {
		return "no differences"
	}
	return fmt.Sprintf("%d to create, %d to update, %d to delete", len(c.Create), len(c.Update), len(c.Delete))
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	if len(l) > 8 {
		return strings.Join(l[:8], ", ") + fmt.Sprintf(" … (%d in all)", len(l))
	}
	return strings.Join(l, ", ")
}

// parseItemized reads rsync's -i output (--out-format "%i %n%L"): an
// 11-character change code, a space, the name. "*deleting" is a deletion,
// a code whose attribute flags are all "+" a creation, anything else an
// update. Lines that are not itemized changes (none are expected without
// -v) are an error, so that a format surprise cannot pass as agreement.
func parseItemized(out string) (*Changes, error) {
	c := &Changes{}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		if len(line) < 13 || line[11] != ' ' {
			return nil, fmt.Errorf("unexpected line in rsync -i output: %q", line)
		}
		code, name := line[:11], line[12:]
		switch {
		case strings.HasPrefix(code, "*deleting"):
			c.Delete = append(c.Delete, name)
		case strings.Trim(code[2:], "+") == "":
			c.Create = append(c.Create, name)
		case strings.ContainsRune("<>ch.", rune(code[0])) && strings.ContainsRune("fdLDS", rune(code[1])):
			c.Update = append(c.Update, name)
		default:
			return nil, fmt.Errorf("unexpected line in rsync -i output: %q", line)
		}
	}
	c.sort()
	return c, nil
}

// listOnlyLine is one line of rsync --list-only: permissions, size (with
// thousands separators), date, time, name.
var listOnlyLine = regexp.MustCompile(`^[-dlpscb][-rwxsStT]{9}\s+[0-9,]+\s+\S+\s+\S+\s(.+)$`)

// parseListOnly returns the names rsync --list-only printed.
func parseListOnly(out string) ([]string, error) {
	var names []string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		m := listOnlyLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("unexpected line in rsync --list-only output: %q", line)
		}
		name := m[1]
		if strings.HasPrefix(line, "l") {
			name, _, _ = strings.Cut(name, " -> ")
		}
		names = append(names, name)
	}
	return names, nil
}

// treeNames lists every entry under root as rsync names them ("." for the
// root, slash-separated relative paths).
func treeNames(root string) ([]string, error) {
	m, err := scanTree(root)
	if err != nil {
		return nil, err
	}
	return sortedKeys(m), nil
}

// DriftSpec says how the drifted copy of the web root differs from it.
type DriftSpec struct {
	Seed         uint64
	ContentEdits int // files whose bytes change, size and mtime kept
}

// Drifted is a copy of the web root as a destination looks after people
// changed it behind Terraform's back, and the changes a content
// comparison of the web root (source) against it must report.
type Drifted struct {
	Root   string
	Expect Changes
}

// Drift makes root a copy of base (hard links, as Mutate's) that differs
// in a few places, each of a kind a drift check must see:
//   - ContentEdits small files with bytes overwritten but size and mtime
//     kept (only a content comparison sees these);
//   - one file with other permissions (0600);
//   - one file missing (the sync would create it);
//   - one extra file, and one extra directory holding two files (the sync
//     would delete them).
//
// Changed files are new files, never writes through a link into base.
// Directory times are base's, so no directory shows as changed.
func Drift(ctx context.Context, base *Tree, root string, spec DriftSpec) (*Drifted, error) {
	if err := linkTree(ctx, base.Root, root); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(spec.Seed, 0x6472696674))
	var candidates []string
	for _, f := range base.Files {
		if !f.Large && f.Size > 0 {
			candidates = append(candidates, f.Path)
		}
	}
	need := spec.ContentEdits + 2
	if len(candidates) < need {
		return nil, fmt.Errorf("drift: %d non-empty small files, need %d", len(candidates), need)
	}
	picks := rng.Perm(len(candidates))[:need]
	d := &Drifted{Root: root}
	for _, i := range picks[:spec.ContentEdits] {
		rel := candidates[i]
		if err := driftContent(root, rel, rng); err != nil {
			return nil, err
		}
		d.Expect.Update = append(d.Expect.Update, rel)
	}
	permRel := candidates[picks[spec.ContentEdits]]
	if err := driftPerm(root, permRel); err != nil {
		return nil, err
	}
	d.Expect.Update = append(d.Expect.Update, permRel)
	goneRel := candidates[picks[spec.ContentEdits+1]]
	if err := os.Remove(filepath.Join(root, filepath.FromSlash(goneRel))); err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	d.Expect.Create = append(d.Expect.Create, goneRel)

	extraDir := filepath.Dir(filepath.FromSlash(candidates[picks[0]]))
	extra := filepath.ToSlash(filepath.Join(extraDir, "drift-extra.txt"))
	if err := writeAt(filepath.Join(root, filepath.FromSlash(extra)), "left behind by hand\n"); err != nil {
		return nil, err
	}
	d.Expect.Delete = append(d.Expect.Delete, extra)
	dir := "drift-extra-dir"
	for _, name := range []string{"a.txt", "b.txt"} {
		if err := writeAt(filepath.Join(root, dir, name), "stray "+name+"\n"); err != nil {
			return nil, err
		}
		d.Expect.Delete = append(d.Expect.Delete, dir+"/"+name)
	}
	d.Expect.Delete = append(d.Expect.Delete, dir+"/")
	if err := copyDirTimes(base.Root, root); err != nil {
		return nil, err
	}
	d.Expect.sort()
	return d, nil
}

// driftContent overwrites 1-16 bytes of a file in a new copy with the
// same size, permissions and modification time.
func driftContent(root, rel string, rng *rand.Rand) error {
	path := filepath.Join(root, filepath.FromSlash(rel))
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	n := min(len(data), 1+rng.IntN(16))
	off := rng.IntN(len(data) - n + 1)
	for j := off; j < off+n; j++ {
		data[j] ^= byte(1 + rng.IntN(255))
	}
	return replaceFileAt(path, fi, fi.Mode().Perm(), data)
}

// driftPerm gives a file permissions 0600 (in a new copy: the file is a
// hard link into base).
func driftPerm(root, rel string) error {
	path := filepath.Join(root, filepath.FromSlash(rel))
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	if fi.Mode().Perm() == 0o600 {
		return fmt.Errorf("drift: %s already has mode 0600", rel)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	return replaceFileAt(path, fi, 0o600, data)
}

// replaceFileAt writes data as a new file with permissions perm and fi's
// modification time, and renames it over path.
func replaceFileAt(path string, fi os.FileInfo, perm os.FileMode, data []byte) error {
	tmp := path + ".drift-tmp"
	err := os.WriteFile(tmp, data, perm)
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Chtimes(tmp, fi.ModTime(), fi.ModTime())
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("drift %s: %w", path, err)
	}
	return nil
}

func writeAt(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	return os.Chtimes(path, epoch, epoch)
}
