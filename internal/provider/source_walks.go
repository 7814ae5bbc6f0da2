package provider

// One walk of a local source per provider walk, shared by every resource
// that syncs it (issue 15, fleets).

import (
	"context"
	"errors"
	"sync"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// sourceWalks shares the walk and hash of a local source among the
// resources of one provider walk. One source pushed to many hosts
// (for_each over a server list) is the common case, and every resource
// hashed the whole source again: twenty destinations read it twenty
// times in the plan walk and twenty more in the apply walk's re-plans.
//
// It lives in the settings Configure makes, as manifestCache does:
// Terraform configures a provider per graph walk (plan, apply), so the
// apply walk never sees a plan walk's reading and hashes the source
// afresh, which is what lets checkSourceSincePlan catch a source edited
// between plan and apply. Within a walk, resources that ask while a walk
// of the same source runs wait for it instead of starting their own
// (Terraform plans ten resources at once by default).
//
// A walk is keyed by everything that decides the manifest: the path, the
// filters and fidelity options (filterSet.key) and the digest algorithm;
// chmod is applied by each resource to its copy (withChmod). A write to a
// local path in this walk (a pull, a local copy, a local delete) drops
// every reading, for the source may lie below it; writes to remote hosts
// cannot change a local source and keep them. Readings that failed or
// warned are not kept: the next resource reads again and reports for
// itself. Manifests handed out are shared and must not be modified.
type sourceWalks struct {
	mu sync.Mutex
	m  map[string]*sourceWalk
	// users counts the resources of this walk that asked for a source's
	// reading (by sourceKey), and readings holds the pushes' directory
	// readings once a source has two (sourceReadings).
	users    map[string]int
	readings *flist.DirReadings
	// walked, when set, is called with the key of every reading started:
	// a walk, or a create's plan (planCreate), which walks unless it folds
	// over a manifest already read (tests count them; nil in the
	// provider).
	walked func(key string)
	// readingsMade, when set, is handed the pushes' readings when they
	// are made (tests count what the pushes shared; nil in the provider).
	readingsMade func(*flist.DirReadings)
}

// sourceWalk is one reading, running or done.
type sourceWalk struct {
	done     chan struct{}
	reading  sourceReading
	warnings []string
	err      error
}

// sourceReading is what a reading of a source made: its manifest, or the
// plan of a create onto an empty destination folded over it without one
// (planCreate).
type sourceReading struct {
	m     *tree.Manifest
	plan  *createPlan
	hash  string // spoolSource's: the source's hash as it lands
	spool []byte // spoolSource's: the reference to its items in the listing store
}

// newSourceWalks returns an empty set of walks; walked is the test hook
// (nil: none). A nil *sourceWalks shares nothing: every caller walks.
func newSourceWalks(walked func(key string)) *sourceWalks {
	return &sourceWalks{m: map[string]*sourceWalk{}, users: map[string]int{}, walked: walked}
}

// sourceKey names a local source with its filters and fidelity options.
func sourceKey(p string, f filterSet) string {
	return cacheKey("src-walk", "", p, f, tree.Content)
}

// sourceWalkKey is the key of a local source's walk.
func sourceWalkKey(p string, f filterSet, algo csum.Algo) string {
	return sourceKey(p, f) + "\x00" + algo.Name()
}

// readingsLimit bounds the entries the pushes of one provider walk share
// (rsync.Options.SourceReadings): about 120 bytes an entry, 6 MB at most.
// A fleet's source is shared whole up to that size; a larger one is
// shared up to it and read by each push beyond.
const readingsLimit = 50000

// hashLocalSource reads a local source as hashLocal does (content mode,
// algo), sharing the reading with every other caller of this walk.
func (s *sourceWalks) hashLocalSource(ctx context.Context, digests *tree.DigestCache, p string, f filterSet, algo csum.Algo) (*tree.Manifest, []string, error) {
	if s != nil {
		s.mu.Lock()
		s.users[sourceKey(p, f)]++
		s.mu.Unlock()
	}
	key := sourceWalkKey(p, f, algo)
	r, warnings, err := s.get(ctx, key, func(ctx context.Context) (sourceReading, []string, error) {
		m, warnings, err := hashLocal(ctx, digests, p, f, tree.Content, algo)
		return sourceReading{m: m}, warnings, err
	})
	return r.m, warnings, err
}

// spoolSource walks the local source p once for the streamed plans of a
// large tree (hashSourceAhead, planStreamed), shared with every
// other caller of this walk: the reading holds the source's hash as it
// lands (chmod applied) and, when store can keep it, a spool — the
// source's items in order, written to the store as the walk hands them
// over — that each resource's plan merges with its destination's listing
// instead of walking the source again (issue 15: a source is walked once
// per terraform walk, whatever the number of resources). A manifest of
// the source this walk already made is hashed instead; it has no spool.
func (s *sourceWalks) spoolSource(ctx context.Context, digests *tree.DigestCache, store *listingStore, p string, f filterSet, algo csum.Algo, chmod string) (sourceReading, []string, error) {
	walkKey := sourceWalkKey(p, f, algo)
	key := spoolKey(p, f, algo, chmod)
	return s.get(ctx, key, func(ctx context.Context) (sourceReading, []string, error) {
		if m, ok := s.manifest(walkKey); ok {
			return sourceReading{hash: withChmod(m, chmod).Hash()}, nil, nil
		}
		w, err := store.create(key, tree.Content)
		if err != nil {
			w = nil // no spool: each plan walks the source itself
		} else if w != nil {
			// An older spool is read only by a terraform run beside
			// this one on the same source: keep one, not two.
			w.others = 1
		}
		h := tree.NewHasher(tree.Content, algo)
		apply := chmodOf(chmod)
		warnings, err := eachLocal(ctx, digests, p, f, tree.Content, algo, func(it *tree.Item) {
			if w != nil {
				w.add(it)
			}
			if apply != nil {
				landed := *it
				apply(&landed)
				it = &landed
			}
			h.Add(it)
		})
		if err != nil || len(warnings) > 0 {
			if w != nil {
				w.abort()
			}
			if errors.Is(err, tree.ErrWalkOrder) {
				// Not a manifest's order (never seen): hash a manifest.
				var m *tree.Manifest
				if m, warnings, err = hashLocal(ctx, digests, p, f, tree.Content, algo); err == nil {
					return sourceReading{hash: withChmod(m, chmod).Hash()}, warnings, nil
				}
			}
			return sourceReading{}, warnings, err
		}
		var spool []byte
		if w != nil {
			spool, _ = w.commit(ctx, algo) // none kept: each plan walks
		}
		return sourceReading{hash: h.Sum(), spool: spool}, nil, nil
	})
}

// spoolKey names a spool of the local source p (spoolSource).
func spoolKey(p string, f filterSet, algo csum.Algo, chmod string) string {
	return sourceWalkKey(p, f, algo) + "\x00spool\x00" + chmod
}

// done returns the reading under key if one is done and clean, without
// starting one.
func (s *sourceWalks) done(key string) (sourceReading, bool) {
	if s == nil {
		return sourceReading{}, false
	}
	s.mu.Lock()
	w, ok := s.m[key]
	s.mu.Unlock()
	if !ok {
		return sourceReading{}, false
	}
	select {
	case <-w.done:
		return w.reading, w.err == nil && len(w.warnings) == 0
	default:
		return sourceReading{}, false
	}
}

// manifest returns the manifest of the walk under key if one is done and
// was kept.
func (s *sourceWalks) manifest(key string) (*tree.Manifest, bool) {
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	w, ok := s.m[key]
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	select {
	case <-w.done:
		return w.reading.m, w.err == nil && len(w.warnings) == 0 && w.reading.m != nil
	default:
		return nil, false
	}
}

// get returns the reading under key, made by walk unless one is done or
// under way. A caller whose context ends stops waiting; a walk that
// failed because its starter's context ended is made again by a waiter
// whose context has not.
func (s *sourceWalks) get(ctx context.Context, key string, walk func(context.Context) (sourceReading, []string, error)) (sourceReading, []string, error) {
	if s == nil {
		return walk(ctx)
	}
	for {
		s.mu.Lock()
		w, ok := s.m[key]
		if !ok {
			w = &sourceWalk{done: make(chan struct{})}
			s.m[key] = w
			s.mu.Unlock()
			s.run(ctx, key, w, walk)
			return w.reading, w.warnings, w.err
		}
		s.mu.Unlock()
		select {
		case <-w.done:
		case <-ctx.Done():
			return sourceReading{}, nil, ctx.Err()
		}
		if w.err != nil && (errors.Is(w.err, context.Canceled) || errors.Is(w.err, context.DeadlineExceeded)) && ctx.Err() == nil {
			continue // run removed it: walk again under this context
		}
		return w.reading, w.warnings, w.err
	}
}

// run makes the walk w and publishes it; a failed or warning reading is
// removed so that later callers read again.
func (s *sourceWalks) run(ctx context.Context, key string, w *sourceWalk, walk func(context.Context) (sourceReading, []string, error)) {
	s.walking(key)
	w.reading, w.warnings, w.err = walk(ctx)
	if w.err != nil || len(w.warnings) > 0 {
		s.mu.Lock()
		if s.m[key] == w {
			delete(s.m, key)
		}
		s.mu.Unlock()
	}
	close(w.done)
}

// walking tells the test hook of a walk of the source under key,
// including one made outside the shared readings (planStreamed
// without a spool).
func (s *sourceWalks) walking(key string) {
	if s != nil && s.walked != nil {
		s.walked(key)
	}
}

// sourceReadings is what the push of the local source p with filters f
// shares its directory readings in (rsync.Options.SourceReadings): nil
// unless two resources of this walk have asked for that source, so that
// a source pushed once keeps no reading beside its push. The engine keys
// the readings by what decides them; this only decides whether to keep
// any.
func (s *sourceWalks) sourceReadings(p string, f filterSet) *flist.DirReadings {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[sourceKey(p, f)] < 2 {
		return nil
	}
	if s.readings == nil {
		s.readings = flist.NewDirReadings(readingsLimit)
		if s.readingsMade != nil {
			s.readingsMade(s.readings)
		}
	}
	return s.readings
}

// forget drops every reading (walks under way finish for those waiting
// on them; later callers walk again): a local path was written.
func (s *sourceWalks) forget() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = map[string]*sourceWalk{}
	s.readings = nil
}

// forgetSourcesAfterWrite drops the source readings of this walk once a
// resource that writes a local path (its destination is local: a pull, a
// local copy) has written or deleted: another resource's local source may
// lie below it. A destination that cannot be told is taken as local.
func (r *directoryResource) forgetSourcesAfterWrite(ctx context.Context, m directoryModel) {
	c, d := syncConfigOf(ctx, m)
	if d.HasError() || !c.Ends.Dst.Remote {
		r.settings.sources.forget()
	}
}
