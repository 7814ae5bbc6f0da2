//go:build !unix

package tree

import "os"

// Without change times (Windows) an edit that keeps a file's size and
// modification time cannot be told: no digest is kept.
func lstatID(string) (fileID, bool) { return fileID{}, false }

func fstatID(*os.File) (fileID, bool) { return fileID{}, false }
