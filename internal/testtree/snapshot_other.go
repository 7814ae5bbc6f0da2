//go:build !unix

package testtree

import "io/fs"

// inode is not available from os.FileInfo here: snapshots compare the
// other fields only.
func inode(string, fs.FileInfo) (string, error) { return "n/a", nil }
