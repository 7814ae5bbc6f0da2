//go:build unix

package flist

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// listAll lists the tree below l's top directory a directory at a time, as
// an incremental sender does, and returns every entry with its hard-link
// label turned into the name of the set's first entry met (labels are
// each Lister's own). Then it changes the entries it was handed, as a
// sender does (chmod, checksums).
func listAll(t *testing.T, l *Lister, top string) []Entry {
	t.Helper()
	var out []Entry
	first := map[uint32]string{}
	queue := []string{top}
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		ents, err := l.ReadDir(dir)
		if err != nil {
			t.Error(err) // called from several goroutines
			return nil
		}
		for _, e := range ents {
			x := *e
			if x.HlinkGroup != 0 {
				if _, ok := first[x.HlinkGroup]; !ok {
					first[x.HlinkGroup] = x.Name
				}
				x.HlinkGroup, x.LinkTarget = 0, x.LinkTarget+"|set:"+first[e.HlinkGroup]
			}
			out = append(out, x)
			if e.IsDir() {
				queue = append(queue, e.Name)
			}
			e.Mode, e.Checksum = 0o777, []byte("changed")
		}
	}
	return out
}

// sharedTree makes a tree with files, a symlink, hard links across
// directories and a fifo.
func sharedTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"a", "a/b", "c"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"top.txt", "a/one", "a/b/two", "c/three"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(root, "a/one"), filepath.Join(root, "c/one-again")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../top.txt", filepath.Join(root, "a/link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "c/pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestDirReadingsShared: a second Lister of the same source under the same
// key lists from the first one's readings what the first listed (hard-link
// sets included), without the caller's changes to the first one's
// entries; under another key it reads for itself.
func TestDirReadingsShared(t *testing.T) {
	root := sharedTree(t)
	opts := WalkOptions{Devices: true, Specials: true, HardLinks: true}
	d := settledReadings(1000)
	lister := func(d *DirReadings, key string) (*Lister, string) {
		l, top, err := NewLister(root+"/", nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		if d != nil {
			l.ShareReadings(d, key)
		}
		return l, top.Name
	}
	l0, top := lister(nil, "")
	want := listAll(t, l0, top)
	l1, top := lister(d, "k")
	if got := listAll(t, l1, top); !reflect.DeepEqual(got, want) {
		t.Errorf("first shared listing differs:\n got %+v\nwant %+v", got, want)
	}
	if hits := d.Hits(); hits != 0 {
		t.Errorf("the first listing took %d readings", hits)
	}
	var got []Entry
	for i := 0; i < 2; i++ { // the second time after the first one's changes
		l2, top := lister(d, "k")
		if got = listAll(t, l2, top); !reflect.DeepEqual(got, want) {
			t.Errorf("listing %d from shared readings differs:\n got %+v\nwant %+v", i, got, want)
		}
	}
	if hits := d.Hits(); hits != 8 {
		t.Errorf("%d readings shared, want the 4 directories twice", hits)
	}
	var sets int
	for _, e := range got {
		if strings.Contains(e.LinkTarget, "|set:") {
			sets++
		}
	}
	if sets != 2 {
		t.Errorf("%d entries in hard-link sets, want 2: %+v", sets, got)
	}
	l3, top := lister(d, "other")
	listAll(t, l3, top)
	if hits := d.Hits(); hits != 8 {
		t.Errorf("another key took %d readings", hits-8)
	}
}

// TestDirReadingsNotKept: a reading that told the caller something (a
// skipped fifo) is not kept, so that every Lister tells it; and nothing
// is kept past the limit.
func TestDirReadingsNotKept(t *testing.T) {
	root := sharedTree(t)
	opts := WalkOptions{Devices: true, Specials: false}
	d := settledReadings(1000)
	for i := 0; i < 2; i++ {
		l, top, err := NewLister(root+"/", nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		l.ShareReadings(d, "k")
		listAll(t, l, top.Name)
		if _, skipped, _ := l.Problems(); len(skipped) != 1 || !strings.Contains(skipped[0], "c/pipe") {
			t.Errorf("lister %d: skipped %q, want the fifo", i, skipped)
		}
	}
	if hits := d.Hits(); hits != 3 {
		t.Errorf("%d readings shared, want 3 (not c, which skipped the fifo)", hits)
	}

	// The top holds 3 entries, a 3, a/b 1, c 3; each reading counts its
	// entries and one for the directory: the top (4) and a/b (2) fit in 6.
	small := settledReadings(6)
	for i := 0; i < 2; i++ {
		l, top, err := NewLister(root+"/", nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		l.ShareReadings(small, "k")
		listAll(t, l, top.Name)
	}
	if hits := small.Hits(); hits != 2 {
		t.Errorf("%d readings shared under a limit of 6, want 2 (the top and a/b)", hits)
	}
}

// TestDirReadingsConcurrent: Listers listing at once each read a
// directory only when no other one has or is: every directory is read
// once, and every Lister lists what a Lister alone lists.
func TestDirReadingsConcurrent(t *testing.T) {
	root := sharedTree(t)
	opts := WalkOptions{Devices: true, Specials: true, HardLinks: true}
	newLister := func() (*Lister, string) {
		l, top, err := NewLister(root+"/", nil, opts)
		if err != nil {
			t.Error(err)
		}
		return l, top.Name
	}
	l0, top := newLister()
	want := listAll(t, l0, top)
	d := settledReadings(1000)
	const listers = 8
	got := make([][]Entry, listers)
	var wg sync.WaitGroup
	for i := range listers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, top := newLister()
			l.ShareReadings(d, "k")
			got[i] = listAll(t, l, top)
		}()
	}
	wg.Wait()
	for i, g := range got {
		if !reflect.DeepEqual(g, want) {
			t.Errorf("lister %d differs:\n got %+v\nwant %+v", i, g, want)
		}
	}
	if hits := d.Hits(); hits != (listers-1)*4 {
		t.Errorf("%d readings shared, want %d: each of the 4 directories read once", hits, (listers-1)*4)
	}
}

// settledReadings is NewDirReadings for directories a test has just
// made: it keeps them although they changed within racyDirWindow.
func settledReadings(limit int) *DirReadings {
	d := NewDirReadings(limit)
	d.SetRacyWindow(-time.Hour)
	return d
}

// TestDirReadingsChangedDirectory: a directory an entry was added to,
// removed from or renamed in since it was read is read again, and its
// new reading replaces the old; unchanged ones are still shared. A
// directory that changed just before it was read is not kept.
func TestDirReadingsChangedDirectory(t *testing.T) {
	root := sharedTree(t)
	old := time.Now().Add(-time.Hour)
	for _, d := range []string{".", "a", "a/b", "c"} {
		if err := os.Chtimes(filepath.Join(root, d), old, old); err != nil {
			t.Fatal(err)
		}
	}
	opts := WalkOptions{Devices: true, Specials: true, HardLinks: true}
	list := func(d *DirReadings) []Entry {
		l, top, err := NewLister(root+"/", nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		if d != nil {
			l.ShareReadings(d, "k")
		}
		return listAll(t, l, top.Name)
	}
	d := settledReadings(1000)
	list(d)
	if err := os.WriteFile(filepath.Join(root, "a", "added"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(root, "c", "three"), filepath.Join(root, "c", "renamed")); err != nil {
		t.Fatal(err)
	}
	want := list(nil)
	if got := list(d); !reflect.DeepEqual(got, want) {
		t.Errorf("listing after the changes differs:\n got %+v\nwant %+v", got, want)
	}
	// a and c changed; so did the top's entries for them (their times).
	if hits := d.Hits(); hits != 1 {
		t.Errorf("%d readings shared, want 1 (a/b, unchanged)", hits)
	}
	if got := list(d); !reflect.DeepEqual(got, want) {
		t.Errorf("listing from the new readings differs:\n got %+v\nwant %+v", got, want)
	}
	if hits := d.Hits(); hits != 5 {
		t.Errorf("%d readings shared, want 5: the new readings kept", hits)
	}

	// The real window: every directory's change time moved just now
	// (Chtimes), so none is kept.
	fresh := NewDirReadings(1000)
	list(fresh)
	if got := list(fresh); !reflect.DeepEqual(got, want) {
		t.Errorf("listing with unsettled directories differs:\n got %+v\nwant %+v", got, want)
	}
	if hits := fresh.Hits(); hits != 0 {
		t.Errorf("%d readings of directories changed within the window shared", hits)
	}
}

// TestDirReadingsSwappedDuringRead: a path that names another directory
// when it is read than when it was stat'ed (a release's symlink flipped
// between the two) keeps no reading, so that the first directory, back
// at the path, is not handed the other one's entries.
func TestDirReadingsSwappedDuringRead(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"A/only-in-a", "B/only-in-b"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cur := filepath.Join(root, "cur")
	flip := func(to string) {
		t.Helper()
		tmp := cur + ".new"
		if err := os.Symlink(to, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cur); err != nil {
			t.Fatal(err)
		}
	}
	flip("A")
	d := settledReadings(1000)
	l, _, err := NewLister(cur+"/", nil, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.ShareReadings(d, "k")
	key := l.sharedKey + cur
	stateA, ok := dirStateOf(cur)
	if !ok {
		t.Fatal("cannot stat", cur)
	}
	always := func([]Entry) bool { return true }
	if _, _, ok := d.take(key, stateA, always); ok {
		t.Fatal("a reading was handed out before any was made")
	}
	flip("B") // between the stat and the read
	ents, _, err := l.readKept(key, stateA, cur, "")
	if err != nil || len(ents) != 1 || ents[0].Name != "only-in-b" {
		t.Fatalf("read %v, %v; want B's one entry", ents, err)
	}
	flip("A")
	if got, _, ok := d.take(key, stateA, always); ok {
		t.Errorf("A, back at the path, was handed B's entries %v", got)
	}
}

// TestDirReadingsNeedIdentity: a directory stat'ed without an identity
// (Windows gives none) is not kept: another directory with the same
// modification time would pass for it.
func TestDirReadingsNeedIdentity(t *testing.T) {
	d := settledReadings(1000)
	always := func([]Entry) bool { return true }
	noID := dirState{mtime: 1}
	if _, _, ok := d.take("k", noID, always); ok {
		t.Fatal("a reading was handed out before any was made")
	}
	d.done("k", noID, []Entry{{Name: "x"}}, nil, true)
	if got, _, ok := d.take("k", noID, always); ok {
		t.Errorf("a reading without identity was kept and handed out: %v", got)
	}
}
