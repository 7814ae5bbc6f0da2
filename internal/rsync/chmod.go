package rsync

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// chmodRule is one clause of an rsync --chmod string (chmod.c:parse_chmod):
// an optional D (directories only) or F (files only) prefix, then an octal
// mode or a symbolic [ugoa]*[+-=][rwxXst]* change.
type chmodRule struct {
	dirsOnly, filesOnly bool
	octal               bool
	value               uint32 // octal mode, or the permission bits to apply
	who                 uint32 // mask of the bits "who" selects
	op                  byte   // '+', '-', '='
	condExec            bool   // X: execute only for directories or files already executable
}

// Chmod is a parsed --chmod string.
type Chmod []chmodRule

// ParseChmod parses rsync's --chmod syntax, e.g. "D755,F644",
// "u+rwX,go-w", "Dg+s,Fo-rwx".
func ParseChmod(spec string) (Chmod, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("empty chmod string")
	}
	var out Chmod
	for _, clause := range strings.Split(spec, ",") {
		orig := clause
		var r chmodRule
		switch {
		case strings.HasPrefix(clause, "D"):
			r.dirsOnly, clause = true, clause[1:]
		case strings.HasPrefix(clause, "F"):
			r.filesOnly, clause = true, clause[1:]
		}
		if clause == "" {
			return nil, fmt.Errorf("chmod clause %q has no mode", orig)
		}
		if clause[0] >= '0' && clause[0] <= '7' {
			v, err := strconv.ParseUint(clause, 8, 32)
			if err != nil || v > 0o7777 {
				return nil, fmt.Errorf("chmod clause %q: %q is not an octal mode of at most 4 digits", orig, clause)
			}
			r.octal, r.value = true, uint32(v)
			out = append(out, r)
			continue
		}
		i := 0
		for ; i < len(clause) && strings.IndexByte("ugoa", clause[i]) >= 0; i++ {
			switch clause[i] {
			case 'u':
				r.who |= 0o4700
			case 'g':
				r.who |= 0o2070
			case 'o':
				r.who |= 0o1007
			case 'a':
				r.who |= 0o7777
			}
		}
		if r.who == 0 {
			r.who = 0o7777 // like chmod(1) without umask: "+x" means a+x
		}
		if i >= len(clause) || strings.IndexByte("+-=", clause[i]) < 0 {
			return nil, fmt.Errorf("chmod clause %q: expected [ugoa]*[+-=][rwxXst]* or an octal mode", orig)
		}
		r.op = clause[i]
		for _, c := range clause[i+1:] {
			switch c {
			case 'r':
				r.value |= 0o444
			case 'w':
				r.value |= 0o222
			case 'x':
				r.value |= 0o111
			case 'X':
				r.value |= 0o111
				r.condExec = true
			case 's':
				r.value |= 0o6000
			case 't':
				r.value |= 0o1000
			default:
				return nil, fmt.Errorf("chmod clause %q: unknown permission %q (use r, w, x, X, s, t)", orig, c)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// Apply returns mode (st_mode bits) with the rules applied, as rsync's
// tweak_mode does: directories and files only (never symlinks).
func (c Chmod) Apply(mode uint32, isDir bool) uint32 {
	perm := mode & 0o7777
	for _, r := range c {
		if (r.dirsOnly && !isDir) || (r.filesOnly && isDir) {
			continue
		}
		if r.octal {
			perm = r.value
			continue
		}
		bits := r.value & r.who
		if r.condExec && !isDir && perm&0o111 == 0 {
			bits &^= 0o111
		}
		switch r.op {
		case '+':
			perm |= bits
		case '-':
			perm &^= bits
		case '=':
			perm = perm&^r.who | bits
		}
	}
	return mode&^0o7777 | perm
}

// applyChmod applies a --chmod string to the permissions of a file list
// (flist.c:make_file / recv_file_entry call tweak_mode on everything but
// symlinks).
func applyChmod(entries []*flist.Entry, spec string) error {
	if spec == "" {
		return nil
	}
	c, err := ParseChmod(spec)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsSymlink() && e.Mode != 0 {
			e.Mode = c.Apply(e.Mode, e.IsDir())
		}
	}
	return nil
}
