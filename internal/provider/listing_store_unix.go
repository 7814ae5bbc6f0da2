//go:build !windows

package provider

import "io/fs"

// ownerOnly says whether a directory's mode gives no access to group or
// others.
func ownerOnly(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o077 == 0 }
