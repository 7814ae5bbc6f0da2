package provider

// What an apply tells of the changes a sync made: counts, the first
// deletions, and a log line per change when Terraform keeps it.

import (
	"context"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
)

// changeTally counts a sync's changes as the engine reports them
// (rsync.Options.OnChange), so that an apply holds no record per changed
// file: an initial push of 300,000 files reports 300,000 creations. A
// transfer that does not stream its changes (a pull, a local copy, SFTP)
// returns them in Result.Changes, which addAll counts the same way.
type changeTally struct {
	ctx                       context.Context
	log                       bool // a line per change (Terraform keeps info lines)
	created, updated, deleted int
	firstDeleted              []string // for the max_delete error
}

// maxDeletedNamed is how many deleted paths the max_delete error names.
const maxDeletedNamed = 10

func newChangeTally(ctx context.Context, log bool) *changeTally {
	return &changeTally{ctx: ctx, log: log}
}

// add counts one change; it is the engine's OnChange, called on the
// transfer's goroutine, one change at a time.
func (t *changeTally) add(ch rsync.Change) {
	switch ch.Kind {
	case rsync.ChangeCreate:
		t.created++
	case rsync.ChangeUpdate, rsync.ChangeAttrs:
		t.updated++
	case rsync.ChangeDelete:
		t.deleted++
		if len(t.firstDeleted) < maxDeletedNamed {
			t.firstDeleted = append(t.firstDeleted, ch.Path)
		}
	}
	if t.log {
		tflog.Info(t.ctx, "rsync change", map[string]interface{}{"path": ch.Path, "kind": string(ch.Kind), "itemize": ch.Itemize})
	}
}

// addAll counts the changes a transfer returned instead of streaming.
func (t *changeTally) addAll(changes []rsync.Change) {
	for _, ch := range changes {
		t.add(ch)
	}
}

// total is every change counted.
func (t *changeTally) total() int { return t.created + t.updated + t.deleted }
