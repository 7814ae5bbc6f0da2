package rsync

// The receiving side of rsync -a's fidelity options: devices and specials
// (-D), hard links (-H), backups (--backup-dir); sparse files are in
// sparse.go.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// generateSpecial brings a device file, fifo or socket in line
// (generator.c:recv_generator): one of its kind (and, for a device, its
// rdev) already there keeps its inode and gets its attributes; anything
// else there is replaced. What the options leave out, or this system
// cannot make, is skipped, and nothing there is touched.
func (r *receiver) generateSpecial(e *flist.Entry, path string, fi fs.FileInfo, exists bool) error {
	switch {
	case e.IsDevice() && r.opts.NoDevices:
		r.s.log.Info("skipping device file: devices is false", "path", e.Name)
		return nil
	case e.IsSpecial() && r.opts.NoSpecials:
		r.s.log.Info("skipping special file: specials is false", "path", e.Name)
		return nil
	}
	if ok, why := canMakeDevices(); e.IsDevice() && !ok {
		r.warn(fmt.Sprintf("skipping device file %q: %s", e.Name, why))
		return nil
	}
	if exists && flist.UnixMode(fi.Mode())&flist.SIFMT == e.Type() && sameRdev(fi, e) {
		if af := attrFlags(fi, e, r.s.protocol); af != 0 {
			r.record(itemizedChange(e, af|itemLocalChange, false, nil))
			if !r.opts.DryRun {
				return setAttrs(path, e, r.uid(e), r.gid(e), r.chown)
			}
		}
		return nil
	}
	if exists {
		if err := r.removeForReplace(path, e, fi); err != nil {
			return err
		}
	}
	flags := uint16(itemLocalChange)
	if !exists {
		flags |= itemIsNew
	} else {
		flags |= itemReportChange
	}
	r.record(itemizedChange(e, flags, false, nil))
	if r.opts.DryRun {
		return nil
	}
	if err := makeSpecial(path, e); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			r.warn(fmt.Sprintf("skipping %s %q: this system cannot create it", kindOf(e), e.Name))
			return nil
		}
		return fmt.Errorf("create %s %s: %w", kindOf(e), path, err)
	}
	return setAttrs(path, e, r.uid(e), r.gid(e), r.chown)
}

// warn adds a warning to the transfer's result.
func (r *receiver) warn(msg string) {
	r.s.log.Warn(msg)
	r.mu.Lock()
	r.warnings = append(r.warnings, msg)
	r.mu.Unlock()
}

// prepareLinks finds the hard-link sets of the list: the first entry of
// each (in list order) is transferred as any file; the others are linked
// to it once the transfer is done (hlink.c: the leader, then
// finish_hard_link for its followers).
func (r *receiver) prepareLinks() {
	if !r.opts.HardLinks {
		return
	}
	first := map[uint32]int32{}
	for i, e := range r.entries {
		if e.HlinkGroup == 0 || e.IsDir() {
			continue
		}
		if f, ok := first[e.HlinkGroup]; ok {
			if r.linkTo == nil {
				r.linkTo = map[int32]int32{}
			}
			r.linkTo[int32(i)] = f
			continue
		}
		first[e.HlinkGroup] = int32(i)
	}
}

// isLink reports whether entry ndx is a later name of a hard-linked set:
// the generator leaves it to linkFollowers.
func (r *receiver) isLink(ndx int32) bool {
	_, ok := r.linkTo[ndx]
	return ok
}

// linkFollowers makes every later name of a hard-link set a link to the
// set's first entry, unless it already is one. The link is made beside
// the name and renamed over it, so the name holds its old or its new
// version, never nothing. A set whose first entry did not land (skipped,
// failed) is left alone.
func (r *receiver) linkFollowers() error {
	for i := range r.entries {
		ndx := int32(i)
		f, ok := r.linkTo[ndx]
		if !ok {
			continue
		}
		e, first := r.entries[ndx], r.entries[f]
		if r.failedNdx[f] {
			continue
		}
		path, err := r.localPath(e)
		if err != nil {
			return err
		}
		firstPath, err := r.localPath(first)
		if err != nil {
			return err
		}
		ffi, ferr := os.Lstat(firstPath)
		fi, statErr := os.Lstat(path)
		exists := statErr == nil
		if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", path, statErr)
		}
		if ferr == nil && exists && os.SameFile(ffi, fi) {
			continue
		}
		flags := uint16(itemLocalChange | itemXnameFollows)
		if !exists {
			flags |= itemIsNew
		}
		c := itemizedChange(e, flags, false, nil)
		c.Itemize = "h" + c.Itemize[1:]
		if r.opts.DryRun {
			r.record(c)
			continue
		}
		if ferr != nil || flist.UnixMode(ffi.Mode())&flist.SIFMT != e.Type() {
			// The first name did not land as what the list says (its
			// kind was skipped, or it failed): nothing to link to.
			continue
		}
		r.record(c)
		if exists && fi.IsDir() {
			if err := r.removeForReplace(path, e, fi); err != nil {
				return err
			}
		} else if exists {
			if err := r.backup(e.Name, path); err != nil {
				return err
			}
		}
		base := filepath.Base(path)
		if len(base) > 200 {
			base = base[:200] // room for the affixes within NAME_MAX, as tempFile
		}
		tmp := filepath.Join(filepath.Dir(path), "."+base+".hlink")
		_ = os.Remove(tmp)
		if err := os.Link(firstPath, tmp); err != nil {
			return fmt.Errorf("hard-link %s to %s: %w", path, firstPath, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("hard-link %s to %s: %w", path, firstPath, err)
		}
	}
	return nil
}

// prepareBackup resolves the backup directory: relative to the
// destination when relative.
func (r *receiver) prepareBackup() {
	if r.opts.BackupDir == "" || r.opts.DryRun {
		return
	}
	dir := r.opts.BackupDir
	if !filepath.IsAbs(dir) {
		base := r.dest.root
		if r.single != "" {
			base = filepath.Dir(r.single)
		}
		dir = filepath.Join(base, dir)
	}
	r.backupRoot = dir
}

// backup keeps the non-directory at path (list name rel) under the backup
// directory before it is replaced or deleted (backup.c:make_backup with
// --backup-dir): linked there when it can be, so that the replacement that
// follows is still one atomic rename, else moved. A backup of the same
// name from an earlier run is replaced.
func (r *receiver) backup(rel, path string) error {
	if r.backupRoot == "" {
		return nil
	}
	target, err := r.backupPath(rel)
	if err != nil {
		return err
	}
	_ = os.Remove(target)
	if err := os.Link(path, target); err == nil {
		return nil
	}
	if err := os.Rename(path, target); err != nil {
		return fmt.Errorf("back up %s to %s: %w", rel, target, err)
	}
	return nil
}

// backupTree backs up every non-directory below the directory path (list
// name rel), before the directory is deleted: rsync deletes a directory's
// contents one by one, backing each up.
func (r *receiver) backupTree(rel, path string) error {
	if r.backupRoot == "" {
		return nil
	}
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		sub, err := filepath.Rel(path, p)
		if err != nil {
			return err
		}
		return r.backup(rel+"/"+filepath.ToSlash(sub), p)
	})
}

// backupPath is where the list name rel is kept in the backup directory,
// whose missing parents it creates. The name was checked when the list
// was read (no "..", no absolute path); a parent in the backup directory
// that is a symlink is refused, so a backup never lands outside it.
func (r *receiver) backupPath(rel string) (string, error) {
	if err := flist.CheckName(rel); err != nil {
		return "", err
	}
	if err := os.MkdirAll(r.backupRoot, 0o755); err != nil {
		return "", fmt.Errorf("create backup directory: %w", err)
	}
	comps := strings.Split(rel, "/")
	p := r.backupRoot
	for _, c := range comps[:len(comps)-1] {
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(p, 0o755); err != nil {
				return "", fmt.Errorf("create backup directory %s: %w", p, err)
			}
			continue
		}
		if err != nil {
			return "", fmt.Errorf("backup directory %s: %w", p, err)
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("%w: backup of %s: %s is not a directory", errUnsafePath, rel, p)
		}
	}
	return filepath.Join(p, comps[len(comps)-1]), nil
}

// backupDeleted backs up what a deletion removes: the non-directory at
// path, or every non-directory below the directory at path.
func (r *receiver) backupDeleted(rel, path string, isDir bool) error {
	if isDir {
		return r.backupTree(rel, path)
	}
	return r.backup(rel, path)
}
