package rsync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ParentMode is the permission of a parent directory created for
// --mkpath: 0755 (mkdir under the usual umask 022) with the directory
// rules of a --chmod spec applied, as rsync applies them to the
// directories it copies. ok is false when there is no spec, and the
// directory keeps what mkdir gave it.
func ParentMode(chmod string) (mode uint32, ok bool, err error) {
	if chmod == "" {
		return 0, false, nil
	}
	c, err := ParseChmod(chmod)
	if err != nil {
		return 0, false, err
	}
	return c.Apply(0o755, true) & 0o7777, true, nil
}

// Ancestors lists the directories above dir, outermost first, that a
// --mkpath would create when missing: "/srv/a/b" gives "/srv", "/srv/a";
// "a/b/c" gives "a", "a/b". The root, "." and a leading "~" are never
// listed. sep is the path separator of dir ('/' for a remote path).
func Ancestors(dir string, sep byte) []string {
	s := string(sep)
	dir = strings.TrimRight(dir, s)
	var out []string
	for {
		i := strings.LastIndexByte(dir, sep)
		if i < 0 {
			break
		}
		dir = strings.TrimRight(dir[:i], s)
		if dir == "" || dir == "." || dir == "~" || dir == ".." || strings.HasSuffix(dir, ":") {
			break // the root, the current or login directory, a Windows drive
		}
		out = append(out, dir)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// MkdirParents creates the missing directories above the local directory
// dir (rsync --mkpath; dir itself is created by the transfer), each with
// ParentMode(opts.Chmod) when there is a spec, and given to opts.Owner and
// opts.Group when they are set and this process may (like --chown, a
// change it may not make is left undone). It returns what it created.
func MkdirParents(dir string, opts Options) ([]string, error) {
	mode, chmod, err := ParentMode(opts.Chmod)
	if err != nil {
		return nil, err
	}
	uid, gid := -1, -1
	if opts.Owner != "" {
		if uid, err = localID(opts.Owner, lookupUser); err != nil {
			return nil, fmt.Errorf("owner %q: %w", opts.Owner, err)
		}
	}
	if opts.Group != "" {
		if gid, err = localID(opts.Group, lookupGroup); err != nil {
			return nil, fmt.Errorf("group %q: %w", opts.Group, err)
		}
	}
	var created []string
	for _, p := range Ancestors(filepath.Clean(dir), filepath.Separator) {
		if len(p) <= len(filepath.VolumeName(p)) {
			continue // a drive or UNC share, never created
		}
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return created, fmt.Errorf("%s exists and is not a directory", p)
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return created, err
		}
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return created, fmt.Errorf("create directory %s: %w", p, err)
		}
		created = append(created, p)
		if chmod {
			if err := os.Chmod(p, fs.FileMode(mode&0o777)|modeBits(mode)); err != nil {
				return created, fmt.Errorf("chmod %s: %w", p, err)
			}
		}
		if uid >= 0 || gid >= 0 {
			_ = lchown(p, uid, gid) // not permitted: left as is, as rsync --chown does
		}
	}
	return created, nil
}

// modeBits maps setuid, setgid and sticky to fs.FileMode.
func modeBits(m uint32) fs.FileMode {
	var f fs.FileMode
	if m&0o4000 != 0 {
		f |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		f |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		f |= fs.ModeSticky
	}
	return f
}

// localID resolves a user or group name, or takes a numeric id.
func localID(name string, lookup func(string) (int, bool)) (int, error) {
	if id, ok := lookup(name); ok {
		return id, nil
	}
	if id, err := strconv.Atoi(name); err == nil && id >= 0 {
		return id, nil
	}
	return 0, errors.New("no such local name")
}
