//go:build unix

package testtree

import (
	"fmt"
	"io/fs"
	"strconv"
	"syscall"
)

// inode is fi's inode number: a file replaced by a rename onto its name
// keeps name, size, mode and even mtime, but not its inode.
func inode(p string, fi fs.FileInfo) (string, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("%s: no stat data", p)
	}
	return strconv.FormatUint(uint64(st.Ino), 10), nil //nolint:unconvert // Ino is uint32 on some platforms
}
