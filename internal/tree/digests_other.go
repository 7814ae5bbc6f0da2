//go:build !unix

package tree

import (
	"github.com/rsyncprovider/terraform-provider-rsync/internal/localfile"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// Without change times (Windows) an edit that keeps a file's size and
// modification time cannot be told: no digest is kept.
func fstatID(*localfile.File) (fileID, bool) { return fileID{}, false }

func idOfWalk(*flist.Entry, flist.FileID) (fileID, bool) { return fileID{}, false }
