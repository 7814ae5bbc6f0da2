package rsync

import (
	"context"
	"errors"
)

// Push sends the local tree named by source to destPath on the remote side
// (rsync -a source host:destPath). source follows rsync's trailing-slash
// rule: "dir/" sends the contents of dir, "dir" sends dir itself (it lands
// as destPath/dir), and a regular file is sent as that file.
func Push(ctx context.Context, t Transport, source, destPath string, opts Options) (*Result, error) {
	return nil, errors.New("rsync: Push not implemented yet")
}
