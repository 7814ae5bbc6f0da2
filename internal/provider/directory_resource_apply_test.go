package provider

import (
	"context"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
)

// TestSyncSummary: the apply's last log line says what changed.
func TestSyncSummary(t *testing.T) {
	ends, _, err := parseEnds("site/", "web1:/srv/www/")
	if err != nil {
		t.Fatal(err)
	}
	res := &rsync.Result{Stats: rsync.Stats{FilesTransferred: 2, LiteralBytes: 1200, MatchedBytes: 800}}
	tally := newChangeTally(context.Background(), false)
	tally.add(rsync.Change{Path: "new.html", Kind: rsync.ChangeCreate})
	tally.addAll([]rsync.Change{
		{Path: "index.html", Kind: rsync.ChangeUpdate}, {Path: "css/", Kind: rsync.ChangeAttrs}, {Path: "old.html", Kind: rsync.ChangeDelete},
	})
	want := "synced site/ to web1:/srv/www/: 1 created, 2 updated, 1 deleted; 2 files sent (1200 bytes of file data, 800 matched), in 1.5s"
	if got := syncSummary(syncConfig{Ends: ends}, res, tally, 1500*time.Millisecond); got != want {
		t.Errorf("syncSummary = %q, want %q", got, want)
	}
	if tally.total() != 4 || len(tally.firstDeleted) != 1 || tally.firstDeleted[0] != "old.html" {
		t.Errorf("tally = %+v", tally)
	}
}
