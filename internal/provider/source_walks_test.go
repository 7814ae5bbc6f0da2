package provider

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// getManifest is sourceWalks.get, under the key "k", of a walk that makes
// a manifest.
func getManifest(s *sourceWalks, ctx context.Context, walk func(context.Context) (*tree.Manifest, []string, error)) (*tree.Manifest, []string, error) {
	r, warnings, err := s.get(ctx, "k", func(ctx context.Context) (sourceReading, []string, error) {
		m, warnings, err := walk(ctx)
		return sourceReading{m: m}, warnings, err
	})
	return r.m, warnings, err
}

// countingWalks returns sourceWalks whose walks are counted.
func countingWalks() (*sourceWalks, *atomic.Int64) {
	var n atomic.Int64
	return newSourceWalks(func(string) { n.Add(1) }), &n
}

func TestSourceWalks_concurrentCallersShareOneWalk(t *testing.T) {
	s, n := countingWalks()
	release, started := make(chan struct{}), make(chan struct{})
	var startedOnce sync.Once
	want := &tree.Manifest{Mode: tree.Content}
	walk := func(context.Context) (*tree.Manifest, []string, error) { //nolint:unparam // the signature is sourceWalks.get's
		startedOnce.Do(func() { close(started) })
		<-release // held until every caller has asked
		return want, nil, nil
	}
	const callers = 10
	var wg sync.WaitGroup
	got := make([]*tree.Manifest, callers)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			m, _, err := getManifest(s, context.Background(), walk)
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
			got[i] = m
		}(i)
	}
	// Every caller but the walker is waiting on the walk once the map
	// holds it and the walk has started; the walker itself is blocked in
	// walk. Waiting for the start is enough: the others join or find it
	// done, and either way do not walk.
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no caller started the walk")
	}
	close(release)
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d walks for %d concurrent callers of one source, want 1", n.Load(), callers)
	}
	for i, m := range got {
		if m != want {
			t.Errorf("caller %d got %p, want the shared manifest %p", i, m, want)
		}
	}
	// A later caller of the same walk finds it done.
	if m, _, _ := getManifest(s, context.Background(), walk); m != want || n.Load() != 1 {
		t.Errorf("a later caller walked again (%d walks) or got another manifest", n.Load())
	}
}

func TestSourceWalks_keysSeparateAndForget(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, n := countingWalks()
	ctx := context.Background()
	first, _, err := s.hashLocalSource(ctx, nil, src+"/", filterSet{}, csum.XXH128)
	if err != nil {
		t.Fatal(err)
	}
	// Other filters, another algorithm: other readings.
	if _, _, err := s.hashLocalSource(ctx, nil, src+"/", filterSet{Exclude: []string{"*.tmp"}}, csum.XXH128); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.hashLocalSource(ctx, nil, src+"/", filterSet{}, csum.MD5); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 {
		t.Fatalf("%d walks for three different readings, want 3", n.Load())
	}
	// The same reading is shared, even after the tree changed: within
	// a walk the source is read once.
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, _, err := s.hashLocalSource(ctx, nil, src+"/", filterSet{}, csum.XXH128)
	if err != nil {
		t.Fatal(err)
	}
	if again != first || n.Load() != 3 {
		t.Fatalf("the same source was walked again within the walk (%d walks)", n.Load())
	}
	// A local write forgets: the next reading sees the tree as it is.
	s.forget()
	fresh, _, err := s.hashLocalSource(ctx, nil, src+"/", filterSet{}, csum.XXH128)
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 4 || fresh.Hash() == first.Hash() {
		t.Fatalf("after forget: %d walks (want 4), hash %s (the old one was %s)", n.Load(), fresh.Hash(), first.Hash())
	}
	// A new configuration (the apply walk's) starts with nothing.
	s2, n2 := countingWalks()
	if _, _, err := s2.hashLocalSource(ctx, nil, src+"/", filterSet{}, csum.XXH128); err != nil {
		t.Fatal(err)
	}
	if n2.Load() != 1 {
		t.Fatalf("a new configuration's first reading did not walk")
	}
}

func TestSourceWalks_failuresAndWarningsAreNotKept(t *testing.T) {
	s, n := countingWalks()
	ctx := context.Background()
	boom := errors.New("boom")
	fail := func(context.Context) (*tree.Manifest, []string, error) { return nil, nil, boom }
	if _, _, err := getManifest(s, ctx, fail); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	warn := func(context.Context) (*tree.Manifest, []string, error) {
		return &tree.Manifest{}, []string{"vanished"}, nil
	}
	if _, w, _ := getManifest(s, ctx, warn); len(w) != 1 {
		t.Fatalf("warnings %v, want the walk's", w)
	}
	if _, _, err := getManifest(s, ctx, func(context.Context) (*tree.Manifest, []string, error) { return &tree.Manifest{}, nil, nil }); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 {
		t.Fatalf("%d walks, want 3: a failed or warning reading is made again", n.Load())
	}
}

func TestSourceWalks_waiterWalksAgainWhenTheWalkersContextEnds(t *testing.T) {
	s, n := countingWalks()
	walkerCtx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	firstErr := make(chan error, 1)
	go func() {
		_, _, err := getManifest(s, walkerCtx, func(ctx context.Context) (*tree.Manifest, []string, error) {
			close(started)
			<-ctx.Done()
			return nil, nil, ctx.Err()
		})
		firstErr <- err
	}()
	<-started
	waiterDone := make(chan error, 1)
	go func() {
		_, _, err := getManifest(s, context.Background(), func(context.Context) (*tree.Manifest, []string, error) {
			return &tree.Manifest{}, nil, nil
		})
		waiterDone <- err
	}()
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("walker: %v, want its context's end", err)
	}
	if err := <-waiterDone; err != nil {
		t.Fatalf("waiter got %v; its own context had not ended", err)
	}
	if n.Load() < 2 {
		t.Fatalf("%d walks: the waiter did not walk under its own context", n.Load())
	}
	// A nil set shares nothing and still reads.
	var none *sourceWalks
	if _, _, err := getManifest(none, context.Background(), func(context.Context) (*tree.Manifest, []string, error) { return &tree.Manifest{}, nil, nil }); err != nil {
		t.Fatal(err)
	}
	none.forget()
}

// TestSourceWalks_readingsOnceShared: the pushes of a source get
// readings to share only once two resources of the walk asked for that
// source (same filters), all the same readings; a write drops them.
func TestSourceWalks_readingsOnceShared(t *testing.T) {
	s, _ := countingWalks()
	ctx := context.Background()
	src := t.TempDir()
	var f filterSet
	if d := s.sourceReadings(src, f); d != nil {
		t.Fatal("readings before any resource asked for the source")
	}
	if _, _, err := s.hashLocalSource(ctx, nil, src, f, csum.XXH128); err != nil {
		t.Fatal(err)
	}
	if d := s.sourceReadings(src, f); d != nil {
		t.Error("readings for a source one resource uses")
	}
	other := filterSet{Exclude: []string{"*.tmp"}}
	if _, _, err := s.hashLocalSource(ctx, nil, src, other, csum.XXH128); err != nil {
		t.Fatal(err)
	}
	if d := s.sourceReadings(src, f); d != nil {
		t.Error("readings for a source used by one resource and, with other filters, by another")
	}
	if _, _, err := s.hashLocalSource(ctx, nil, src, f, csum.XXH128); err != nil {
		t.Fatal(err)
	}
	d := s.sourceReadings(src, f)
	if d == nil || s.sourceReadings(src, f) != d {
		t.Fatalf("readings for a source two resources use: %p, then %p", d, s.sourceReadings(src, f))
	}
	s.forget()
	if d2 := s.sourceReadings(src, f); d2 == d {
		t.Error("the readings outlived a write to a local path")
	}
}
