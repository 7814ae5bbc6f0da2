package sftpsync

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// side is one end of a sync: its file system, and how to learn the
// content digests of its regular files (nil: it cannot).
type side struct {
	fs     fsys
	digest func(ctx context.Context, paths []string) (map[string][]byte, error)
}

// job is one sync from src to dst.
type job struct {
	src, dst side
	// srcPath is the source with rsync's trailing-slash rule already
	// read into prefix ("." copies the contents of srcPath).
	srcPath, prefix string
	dstDir          string
	opts            rsync.Options
	rules           *filter.List
	log             hclog.Logger
	res             *rsync.Result
	// touched are the directories (entry names) something was created
	// in, renamed into or removed from: their mtime moved, and is set
	// again at the end.
	touched map[string]bool
}

// touch records that the directory holding name changed.
func (j *job) touch(name string) {
	parent := "."
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		parent = name[:i]
	}
	j.touched[parent] = true
}

// SplitSource reads rsync's trailing-slash rule: "dir/" (or "dir/.", ".")
// copies the contents of dir and names its entries from "."; "dir" copies
// dir itself under its own name.
func SplitSource(source string) (root, prefix string) {
	switch {
	case source == "." || source == "./":
		return ".", "."
	case strings.HasSuffix(source, "/."):
		return strings.TrimSuffix(source, "/."), "."
	case strings.HasSuffix(source, "/"):
		r := strings.TrimRight(source, "/")
		if r == "" {
			r = "/"
		}
		return r, "."
	}
	return source, path.Base(source)
}

// at is where name lands below dir.
func at(dir, name string) string {
	if name == "." {
		return dir
	}
	return path.Join(dir, name)
}

func newJob(src, dst side, source, dstDir string, opts rsync.Options) (*job, error) {
	rules, err := filter.New(opts.Include, opts.Exclude)
	if err != nil {
		return nil, err
	}
	if err := rules.AddProtect(opts.Protect); err != nil {
		return nil, err
	}
	root, prefix := SplitSource(source)
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &job{src: src, dst: dst, srcPath: root, prefix: prefix, dstDir: dstDir, opts: opts,
		rules: rules, log: log, res: &rsync.Result{Compression: "none"}, touched: map[string]bool{}}, nil
}

// run does the sync: list both sides, delete what the source lacks (when
// asked), then create and update, directories' times last.
func (j *job) run(ctx context.Context) (*rsync.Result, error) {
	wo := walkOpts{rules: j.rules, devices: !j.opts.NoDevices, specials: !j.opts.NoSpecials}
	srcEntries, err := walk(j.src.fs, j.srcPath, j.prefix, wo)
	if err != nil {
		return nil, fmt.Errorf("list the source %s: %w", j.srcPath, err)
	}
	if j.opts.Chmod != "" {
		ch, err := rsync.ParseChmod(j.opts.Chmod)
		if err != nil {
			return nil, err
		}
		for _, e := range srcEntries {
			if !e.IsSymlink() {
				e.Mode = ch.Apply(e.Mode, e.IsDir())
			}
		}
	}
	j.res.Stats.FilesTotal = len(srcEntries)
	top := at(j.dstDir, j.prefix)
	dstEntries, err := walk(j.dst.fs, top, j.prefix, wo)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		dstEntries = nil
		if j.prefix != "." && !j.opts.DryRun {
			// rsync creates the destination directory itself (only its
			// last component) when it copies something into it.
			if _, serr := j.dst.fs.Lstat(j.dstDir); errors.Is(serr, fs.ErrNotExist) {
				if err := j.dst.fs.Mkdir(j.dstDir); err != nil {
					return nil, fmt.Errorf("create %s: %w", j.dstDir, err)
				}
			}
		}
	case err != nil:
		return nil, fmt.Errorf("list the destination %s: %w", top, err)
	}
	have := make(map[string]*flist.Entry, len(dstEntries))
	for _, e := range dstEntries {
		have[e.Name] = e
	}
	want := make(map[string]*flist.Entry, len(srcEntries))
	for _, e := range srcEntries {
		want[e.Name] = e
	}
	if err := j.cleanTemps(ctx, dstEntries, want, have); err != nil {
		return nil, err
	}
	if j.opts.Delete {
		if err := j.deleteExtraneous(ctx, dstEntries, want, have); err != nil {
			return nil, err
		}
	}
	if j.opts.Checksum {
		if err := j.digests(ctx, srcEntries, have); err != nil {
			return nil, err
		}
	}
	var skipped []string
	var dirs []*flist.Entry
	for _, e := range srcEntries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d := have[e.Name]
		if d != nil && d.Type() != e.Type() {
			if err := j.replaceKind(d); err != nil {
				return nil, err
			}
			delete(have, e.Name)
			d = nil
		}
		p := at(j.dstDir, e.Name)
		switch {
		case e.IsDir():
			if err := j.syncDir(e, d, p); err != nil {
				return nil, err
			}
			dirs = append(dirs, e)
		case e.IsRegular():
			if err := j.syncFile(ctx, e, d, p); err != nil {
				return nil, err
			}
		case e.IsSymlink():
			if err := j.syncLink(e, d, p); err != nil {
				return nil, err
			}
		default:
			skipped = append(skipped, e.Name)
		}
	}
	// Directory times last, deepest first: writing into a directory
	// moves its mtime.
	for _, e := range slices.Backward(dirs) {
		d := have[e.Name]
		if d != nil && d.ModTime == e.ModTime && !j.touched[e.Name] || j.opts.DryRun {
			continue
		}
		if err := j.dst.fs.Chtimes(at(j.dstDir, e.Name), time.Unix(e.ModTime, 0)); err != nil {
			return nil, fmt.Errorf("set the time of %s: %w", at(j.dstDir, e.Name), err)
		}
	}
	if len(skipped) > 0 {
		j.res.Warnings = append(j.res.Warnings, fmt.Sprintf(
			"SFTP cannot create device files, fifos or sockets; %d were skipped: %s", len(skipped), firstN(skipped, 10)))
	}
	return j.res, nil
}

func firstN(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// display is a change's path: directories end in "/".
func display(e *flist.Entry) string {
	if e.IsDir() && e.Name != "." {
		return e.Name + "/"
	}
	if e.Name == "." {
		return "./"
	}
	return e.Name
}

func (j *job) change(e *flist.Entry, kind rsync.ChangeKind, itemize string) {
	j.res.Changes = append(j.res.Changes, rsync.Change{Path: display(e), Kind: kind, Itemize: itemize})
}

// tempRe matches the temporary names this engine (and rsync) writes a
// file under before renaming it into place: ".NAME.XXXXXX".
var tempRe = regexp.MustCompile(`^\.(.+)\.[A-Za-z0-9]{6}$`)

// cleanTemps removes what an interrupted sync left: a temporary file
// ".NAME.XXXXXX" beside a NAME the source has, that the source does not
// have itself. It is never part of either tree, so it is not a deletion.
func (j *job) cleanTemps(ctx context.Context, dst []*flist.Entry, want, have map[string]*flist.Entry) error {
	for _, d := range dst {
		if !d.IsRegular() && !d.IsSymlink() || want[d.Name] != nil {
			continue
		}
		dir, base := path.Split(d.Name)
		m := tempRe.FindStringSubmatch(base)
		if m == nil || want[dir+m[1]] == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		delete(have, d.Name)
		j.touch(d.Name)
		if j.opts.DryRun {
			continue
		}
		j.log.Info("removing a temporary file an interrupted sync left", "path", d.Name)
		if err := j.dst.fs.Remove(at(j.dstDir, d.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the leftover temporary file %s: %w", d.Name, err)
		}
	}
	return nil
}

// deleteExtraneous removes what the destination has and the source does
// not, unless protected (rsync --delete; excluded names were never
// listed). Deepest first, so directories are empty when removed.
func (j *job) deleteExtraneous(ctx context.Context, dst []*flist.Entry, want, have map[string]*flist.Entry) error {
	for _, d := range slices.Backward(dst) {
		if want[d.Name] != nil || have[d.Name] == nil || j.rules.Protected(d.Name, d.IsDir()) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		j.change(d, rsync.ChangeDelete, "*deleting")
		j.res.Stats.Deleted++
		delete(have, d.Name)
		j.touch(d.Name)
		if j.opts.DryRun {
			continue
		}
		if err := j.dst.fs.Remove(at(j.dstDir, d.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			if d.IsDir() {
				// Something protected is still in it, as with rsync's
				// "cannot delete non-empty directory".
				j.res.Warnings = append(j.res.Warnings, fmt.Sprintf("cannot delete non-empty directory: %s", d.Name))
				continue
			}
			return fmt.Errorf("delete %s: %w", d.Name, err)
		}
	}
	return nil
}

// replaceKind removes what stands at a name as another kind of file than
// the source's (a directory where a file goes, say), whole.
func (j *job) replaceKind(d *flist.Entry) error {
	if j.opts.DryRun {
		return nil
	}
	j.touch(d.Name)
	p := at(j.dstDir, d.Name)
	if err := removeAll(j.dst.fs, p); err != nil {
		return fmt.Errorf("remove %s to replace it: %w", p, err)
	}
	return nil
}

// removeAll removes p and, when it is a directory, everything in it.
// Names inside are validated as any listing's.
func removeAll(f fsys, p string) error {
	fi, err := f.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		infos, err := f.ReadDir(p)
		if err != nil {
			return err
		}
		for _, c := range infos {
			if err := checkBase(c.Name()); err != nil {
				return fmt.Errorf("in %s: %w", p, err)
			}
			if err := removeAll(f, path.Join(p, c.Name())); err != nil {
				return err
			}
		}
	}
	if err := f.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (j *job) syncDir(e, d *flist.Entry, p string) error {
	if d == nil {
		j.touch(e.Name)
		j.change(e, rsync.ChangeCreate, "cd+++++++++")
		if j.opts.DryRun {
			return nil
		}
		if err := j.dst.fs.Mkdir(p); err != nil && (e.Name != "." || !errors.Is(err, fs.ErrExist)) {
			return fmt.Errorf("create directory %s: %w", p, err)
		}
		return j.chmod(p, e.Perm())
	}
	if d.Perm() != e.Perm() || d.ModTime != e.ModTime {
		j.change(e, rsync.ChangeAttrs, itemizeAttrs('d', d, e))
	}
	if d.Perm() != e.Perm() && !j.opts.DryRun {
		return j.chmod(p, e.Perm())
	}
	return nil
}

func (j *job) chmod(p string, perm uint32) error {
	if err := j.dst.fs.Chmod(p, perm); err != nil {
		return fmt.Errorf("set the permissions of %s: %w", p, err)
	}
	return nil
}

// itemizeAttrs is rsync's %i for an entry whose content stays: "." then
// the type, then t and p where the time and permissions differ.
func itemizeAttrs(kind byte, d, e *flist.Entry) string {
	b := []byte(".?.........")
	b[1] = kind
	if d.ModTime != e.ModTime {
		b[4] = 't'
	}
	if d.Perm() != e.Perm() && kind != 'L' {
		b[5] = 'p'
	}
	return string(b)
}

// sameContent is rsync's quick check (size and mtime), or with Checksum
// the digests when both sides have one.
func (j *job) sameContent(e, d *flist.Entry) bool {
	if e.Size != d.Size {
		return false
	}
	if j.opts.Checksum {
		return len(e.Checksum) > 0 && string(e.Checksum) == string(d.Checksum)
	}
	return e.ModTime == d.ModTime
}

func (j *job) syncFile(ctx context.Context, e, d *flist.Entry, p string) error {
	if d != nil && j.sameContent(e, d) {
		if d.Perm() == e.Perm() && d.ModTime == e.ModTime {
			return nil
		}
		j.change(e, rsync.ChangeAttrs, itemizeAttrs('f', d, e))
		if j.opts.DryRun {
			return nil
		}
		if d.Perm() != e.Perm() {
			if err := j.chmod(p, e.Perm()); err != nil {
				return err
			}
		}
		if d.ModTime != e.ModTime {
			if err := j.dst.fs.Chtimes(p, time.Unix(e.ModTime, 0)); err != nil {
				return fmt.Errorf("set the time of %s: %w", p, err)
			}
		}
		return nil
	}
	if d == nil {
		j.change(e, rsync.ChangeCreate, ">f+++++++++")
	} else {
		j.change(e, rsync.ChangeUpdate, ">f"+itemizeAttrs('f', d, e)[2:3]+"s"+itemizeAttrs('f', d, e)[4:])
	}
	j.res.Stats.FilesTransferred++
	j.res.Stats.LiteralBytes += e.Size
	j.touch(e.Name)
	if j.opts.DryRun {
		return nil
	}
	n, err := j.writeFile(ctx, e, p)
	j.res.Stats.BytesSent += n
	return err
}

// writeFile copies the source file to a temporary name beside p, gives
// it its permissions and time, then renames it over p: a reader sees the
// old file or the new one, and an interrupted copy leaves only the
// temporary file, which the next sync removes (cleanTemps).
func (j *job) writeFile(ctx context.Context, e *flist.Entry, p string) (int64, error) {
	in, err := j.src.fs.Open(j.srcAt(e.Name))
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", e.Name, err)
	}
	defer in.Close()
	tmp, w, err := j.createTemp(p)
	if err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if !done {
			_ = j.dst.fs.Remove(tmp)
		}
	}()
	n, err := io.Copy(w, &ctxReader{ctx: ctx, r: io.LimitReader(in, e.Size)})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("write %s: %w", tmp, err)
	}
	if n != e.Size {
		return n, fmt.Errorf("%s changed size while it was copied (%d bytes read, %d listed)", e.Name, n, e.Size)
	}
	if err := j.chmod(tmp, e.Perm()); err != nil {
		return n, err
	}
	if err := j.dst.fs.Chtimes(tmp, time.Unix(e.ModTime, 0)); err != nil {
		return n, fmt.Errorf("set the time of %s: %w", tmp, err)
	}
	if err := j.dst.fs.Replace(tmp, p); err != nil {
		return n, fmt.Errorf("rename %s to %s: %w", tmp, p, err)
	}
	done = true
	return n, nil
}

// createTemp creates ".NAME.XXXXXX" beside p, as rsync names its
// temporary files, retrying on a name that exists.
func (j *job) createTemp(p string) (string, io.WriteCloser, error) {
	dir, base := path.Split(p)
	if len(base) > 200 {
		base = base[:200] // stay within NAME_MAX with the suffix
	}
	var lastErr error
	for range 10 {
		tmp := dir + "." + base + "." + randSuffix()
		w, err := j.dst.fs.CreateExcl(tmp)
		if err == nil {
			return tmp, w, nil
		}
		lastErr = err
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return "", nil, fmt.Errorf("create a temporary file beside %s: %w", p, lastErr)
}

func randSuffix() string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [6]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b[:])
}

func (j *job) syncLink(e, d *flist.Entry, p string) error {
	if d != nil && d.LinkTarget == e.LinkTarget {
		if d.ModTime == e.ModTime {
			return nil
		}
		j.change(e, rsync.ChangeAttrs, itemizeAttrs('L', d, e))
		if j.opts.DryRun {
			return nil
		}
		if err := j.dst.fs.Lchtimes(p, time.Unix(e.ModTime, 0)); err != nil && !errors.Is(err, errUnsupported) {
			return fmt.Errorf("set the time of symlink %s: %w", p, err)
		}
		return nil
	}
	j.touch(e.Name)
	if d == nil {
		j.change(e, rsync.ChangeCreate, "cL+++++++++")
	} else {
		j.change(e, rsync.ChangeUpdate, "cL.c.......")
	}
	if j.opts.DryRun {
		return nil
	}
	// A new link goes in under a temporary name and is renamed over the
	// old one, so the name never dangles or goes missing.
	dir, base := path.Split(p)
	var tmp string
	var err error
	for range 10 {
		tmp = dir + "." + base + "." + randSuffix()
		if err = j.dst.fs.Symlink(e.LinkTarget, tmp); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("create symlink %s: %w", p, err)
	}
	if err := j.dst.fs.Lchtimes(tmp, time.Unix(e.ModTime, 0)); err != nil && !errors.Is(err, errUnsupported) {
		_ = j.dst.fs.Remove(tmp)
		return fmt.Errorf("set the time of symlink %s: %w", p, err)
	}
	if err := j.dst.fs.Replace(tmp, p); err != nil {
		_ = j.dst.fs.Remove(tmp)
		return fmt.Errorf("rename symlink %s to %s: %w", tmp, p, err)
	}
	return nil
}

// digests fills in Checksum on both sides' regular files whose sizes
// match (only those can be equal), for a Checksum sync. A side that
// cannot digest leaves them empty: they are then sent.
func (j *job) digests(ctx context.Context, src []*flist.Entry, have map[string]*flist.Entry) error {
	var s, d []*flist.Entry
	for _, e := range src {
		if o := have[e.Name]; e.IsRegular() && o != nil && o.IsRegular() && o.Size == e.Size {
			s, d = append(s, e), append(d, o)
		}
	}
	if len(s) == 0 || j.src.digest == nil || j.dst.digest == nil {
		return nil
	}
	for _, x := range []struct {
		entries []*flist.Entry
		side    side
		at      func(string) string
	}{{s, j.src, j.srcAt}, {d, j.dst, func(n string) string { return at(j.dstDir, n) }}} {
		paths := make([]string, len(x.entries))
		for i, e := range x.entries {
			paths[i] = x.at(e.Name)
		}
		sums, err := x.side.digest(ctx, paths)
		if err != nil {
			return err
		}
		for i, e := range x.entries {
			e.Checksum = sums[paths[i]]
		}
	}
	return nil
}

// srcAt is where the source entry name is on the source side.
func (j *job) srcAt(name string) string {
	switch {
	case j.prefix == ".":
		return at(j.srcPath, name)
	case name == j.prefix:
		return j.srcPath
	}
	return j.srcPath + "/" + strings.TrimPrefix(name, j.prefix+"/")
}

// ctxReader ends a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
