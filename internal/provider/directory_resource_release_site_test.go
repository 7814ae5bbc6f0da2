//go:build unix

package provider

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
)

// TestRemoteSite runs the remote app root's operations through a local
// /bin/sh, as a login shell would run them, and the stock rsync for the
// link, on an app root whose name holds quotes, $(...), backticks, ';' and
// a newline, beside release-directory names that must not pose as
// releases: every operation does what it says, nothing named runs, and
// only valid names count.
func TestRemoteSite(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	root := filepath.Join(base, "it's $(touch PWNED) `touch PWNED2` a;b\nc")
	s := &remoteSite{t: rsync.ExecTransport{}, root: root, dir: "releases", link: "current", rsyncPath: "rsync",
		opts: rsync.Options{}, mode: 0o750, chmodOK: true}
	st, err := s.inspect(ctx)
	if err != nil || st.Exists {
		t.Fatalf("inspect of a missing root: %+v, %v", st, err)
	}
	if err := s.prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, "releases")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("releases directory: %v, %v", fi, err)
	}
	for _, decoy := range []string{"x\nrel fake", ".partial-old", "bad name", "-rf"} {
		if err := os.Mkdir(filepath.Join(root, "releases", decoy), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if st, err = s.inspect(ctx); err != nil || !st.Exists || len(st.Present) != 0 || st.LinkIsLink {
		t.Fatalf("inspect with decoys: %+v, %v", st, err)
	}
	shared := []sharedLink{{Path: "uploads", Dir: true}, {Path: "config/.env"}}
	if err := s.linkShared(ctx, "releases/.partial-r1", 2, shared); err != nil {
		t.Fatal(err)
	}
	if err := s.finish(ctx, ".partial-r1", "r1"); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(filepath.Join(root, "releases", "r1", "config", ".env")); err != nil || got != "../../../shared/config/.env" {
		t.Fatalf("shared link: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(root, "releases", "r1", "uploads")); err != nil {
		t.Fatalf("the uploads link does not lead to shared/uploads: %v", err)
	}
	if err := s.switchTo(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	st, err = s.inspect(ctx)
	if err != nil || st.LinkTarget != "releases/r1" || !reflect.DeepEqual(st.Present, []string{"r1"}) || st.current("releases", root) != "r1" {
		t.Fatalf("inspect after the switch: %+v, %v", st, err)
	}
	if err := os.Mkdir(filepath.Join(root, "releases", "r2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.switchTo(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	// r1, r1/uploads (a link, not followed), r1/config, r1/config/.env.
	if n, err := s.count(ctx, []string{"r1"}); err != nil || n != 4 {
		t.Errorf("count(r1) = %d, %v; want 4", n, err)
	}
	if err := s.prune(ctx, []string{"r2"}, []string{"r1"}); err != nil {
		t.Fatal(err)
	}
	st, err = s.inspect(ctx)
	if err != nil || !reflect.DeepEqual(st.Present, []string{"r2"}) || !reflect.DeepEqual(st.History, []string{"r2"}) || st.current("releases", root) != "r2" {
		t.Fatalf("inspect after pruning: %+v, %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(root, "releases", ".partial-old")); !os.IsNotExist(err) {
		t.Errorf("a leftover partial build survived pruning: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "releases", "x\nrel fake")); err != nil {
		t.Errorf("pruning removed a directory that is not a release: %v", err)
	}
	if err := s.destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mustNotExist(filepath.Join(root, "current"), filepath.Join(root, "releases")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(root, "shared", "uploads")); err != nil {
		t.Errorf("destroy removed shared/: %v", err)
	}
	wd, _ := os.Getwd()
	if err := mustNotExist(filepath.Join(base, "PWNED"), filepath.Join(base, "PWNED2"), filepath.Join(wd, "PWNED"), filepath.Join(wd, "PWNED2")); err != nil {
		t.Errorf("a name ran as a command: %v", err)
	}
}
