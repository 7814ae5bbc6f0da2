package provider

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// manifestCache keeps the manifests Read fetched, for the ModifyPlan that
// follows in the same walk (Terraform refreshes, then plans, each resource
// with one configured provider; the apply walk configures another, in a
// process of its own, and re-plans each resource there). It lives in the
// configured provider's settings, not in the process: the acceptance
// tests serve every command from one process, and a process-wide cache
// let a test's apply walk see the plan walk's readings, which a real
// apply never does. Entries are keyed by everything that
// defines the listing — the host and account, the path listed, the
// filters and the mode — so a changed configuration misses and lists
// again. Read replaces its entry every time, so a later command never sees
// an older listing; Create and Update store the listing they set
// destination_hash from. Manifests are never written to state.
type manifestCache struct {
	mu sync.Mutex
	m  map[string]*tree.Manifest
}

// newManifestCache returns an empty cache. A nil *manifestCache keeps
// nothing: every reading is made afresh.
func newManifestCache() *manifestCache {
	return &manifestCache{m: map[string]*tree.Manifest{}}
}

func (c *manifestCache) get(key string) (*tree.Manifest, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.m[key]
	return m, ok
}

func (c *manifestCache) put(key string, m *tree.Manifest) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = m
}

// take returns the manifest under key and removes it.
func (c *manifestCache) take(key string) (*tree.Manifest, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.m[key]
	delete(c.m, key)
	return m, ok
}

func (c *manifestCache) drop(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// cacheKey is the key of a manifest: which side (role), the account it is
// read through (empty for a local path), the path, the filters and the
// mode and algorithm it was made with.
func cacheKey(role, account, listPath string, f filterSet, mode tree.Mode) string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%d", role, account, listPath, f.key(), mode)
}

// listRemote reads a remote tree through the remote rsync's file list
// (with server-side checksums in Content mode), as a manifest of the tree
// below prefix.
func listRemote(ctx context.Context, t rsync.Transport, listPath, prefix string, f filterSet, mode tree.Mode, rsyncPath string) (*tree.Manifest, []string, error) {
	m, l, err := listManifest(ctx, t, listPath, prefix, mode, f.Fidelity.treeOptions(), listOptions(ctx, f, mode, rsyncPath))
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	// Directories the server could not open are marked (the plan warns
	// about them once, directory_resource_unreadable.go); other gaps are
	// only known to exist.
	if unlisted := unlistedDirs(l.Messages, listPath, prefix); len(unlisted) > 0 {
		m.MarkUnlisted(unlisted)
	} else if l.IOError != 0 {
		warnings = append(warnings, fmt.Sprintf("the remote rsync could not read some files below %s; they are missing from the listing", listPath))
	}
	return m, warnings, nil
}

// listOptions are the engine's options for a listing of a tree with
// filters f, checksummed in Content mode.
func listOptions(ctx context.Context, f filterSet, mode tree.Mode, rsyncPath string) rsync.Options {
	inc, exc := f.engineFilters()
	opts := rsync.Options{
		RsyncPath: rsyncPath,
		Checksum:  mode == tree.Content,
		Include:   inc,
		Exclude:   exc,
		Logger:    newEngineLogger(ctx),
	}
	f.Fidelity.listOptions(&opts)
	return opts
}

// listingAlgo is the digest algorithm of a listing's checksums.
func listingAlgo(l *rsync.Listing) csum.Algo {
	if algo, ok := csum.ByName(l.Checksum); ok {
		return algo
	}
	return csum.XXH128
}

// listManifest lists a remote tree as a manifest. The entries go into the
// manifest as they arrive (rsync.ListEach, tree.Builder), so a large
// listing is not held as entries and items at once; with hard links the
// whole list is needed first (a set's first name is known only in sorted
// order).
func listManifest(ctx context.Context, t rsync.Transport, listPath, prefix string, mode tree.Mode, topts tree.Options, opts rsync.Options) (*tree.Manifest, *rsync.Listing, error) {
	if topts.HardLinks {
		l, err := rsync.List(ctx, t, listPath, opts)
		if err != nil {
			return nil, nil, err
		}
		return tree.FromEntriesWith(l.Entries, prefix, mode, listingAlgo(l), topts), l, nil
	}
	b := tree.NewBuilder(prefix, mode, topts)
	l, err := rsync.ListEach(ctx, t, listPath, opts, b.Add)
	if err != nil {
		return nil, nil, err
	}
	return b.Manifest(listingAlgo(l)), l, nil
}

// hashLocal reads a local tree (rsync's trailing-slash rule on p) as a
// manifest, leaving out what the filters exclude.
func hashLocal(ctx context.Context, digests *tree.DigestCache, p string, f filterSet, mode tree.Mode, algo csum.Algo) (*tree.Manifest, []string, error) {
	rules, err := f.localRules()
	if err != nil {
		return nil, nil, err
	}
	m, warnings, skipped, err := digests.Local(ctx, p, rules, mode, algo, f.Fidelity.treeOptions())
	return m, append(warnings, skipped...), err
}

// localExists reports whether a local path exists (a dangling symlink
// counts).
func localExists(p string) (bool, error) {
	_, err := os.Lstat(strings.TrimSuffix(p, "/"))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// destManifest reads the destination tree (remote: the remote rsync's
// listing; local: hashed here) and caches it. algo is used for a local
// destination; a remote one is hashed with what its server negotiates.
func (r *directoryResource) destManifest(ctx context.Context, cn *conn, c syncConfig, algo csum.Algo) (*tree.Manifest, diag.Diagnostics) {
	root := c.root()
	mode := manifestMode(c.Drift)
	var m *tree.Manifest
	var warnings []string
	var err error
	if c.Ends.Dst.Remote {
		m, warnings, err = cn.listVia(ctx, root.ListPath, root.Prefix, c.Filters, mode)
	} else {
		m, warnings, err = hashLocal(ctx, r.settings.digests, root.ListPath, c.Filters, mode, algo)
	}
	return r.destListed(c, m, warnings, err)
}

// destListed is what destManifest makes of a listing: an error saying
// what failed, or the manifest (cached for the plan) with its warnings.
func (r *directoryResource) destListed(c syncConfig, m *tree.Manifest, warnings []string, err error) (*tree.Manifest, diag.Diagnostics) {
	var diags diag.Diagnostics
	if err != nil {
		root := c.root()
		diags.AddAttributeError(path.Root("destination"), "Cannot read the destination",
			fmt.Sprintf("Could not read %s to compare it with the source: %s.\n\n%s", root.ListPath, safeText(err.Error()), r.hint(c, err, opReadDest)))
		return nil, diags
	}
	for _, w := range warnings {
		diags.AddAttributeWarning(path.Root("destination"), warningSummary(w, "Destination partly unreadable"), safeText(w))
	}
	r.settings.manifests.put(r.destKey(c), m)
	return m, diags
}

// sourceManifest reads the source tree: a local one hashed here with algo,
// a remote one from its server's checksummed listing. It describes the tree as it will
// land: with chmod applied to its permissions. With useCache, it takes the
// reading refresh made ahead, and a local source's walk is shared with the
// other resources of this provider walk (source_walks.go); without, the
// source is read now, for this caller alone (after an apply).
func (r *directoryResource) sourceManifest(ctx context.Context, cn *conn, c syncConfig, algo csum.Algo, useCache bool) (m *tree.Manifest, diags diag.Diagnostics) {
	var warnings []string
	var err error
	ahead, aheadOK := r.settings.manifests.take(r.sourceAheadKey(c))
	if c.Ends.Src.Remote {
		if aheadOK && useCache {
			tflog.Debug(ctx, "using the source listing made during refresh", map[string]interface{}{"source": c.Ends.Src.Raw})
			return withChmod(ahead, c.Chmod), nil
		}
		// Not cached beyond this plan: the apply walk's re-plan must see
		// the source as it is then, or a saved plan of a source that
		// changed would pass for current (checkSourceSincePlan).
		p := pushDestPath(c.Ends.Src.Path())
		m, warnings, err = cn.listVia(ctx, p, tree.ContentRoot(p), c.Filters, tree.Content)
	} else {
		if aheadOK && useCache && ahead.Algo == algo {
			tflog.Debug(ctx, "using the source hash made during refresh", map[string]interface{}{"source": c.Ends.Src.Raw})
			return withChmod(ahead, c.Chmod), nil
		}
		if useCache {
			// A large tree's refresh walked the source into a spool
			// (spoolSource): a plan that finds changes reads it back.
			key := spoolKey(c.Ends.Src.Path(), c.Filters, algo, c.Chmod)
			if rd, ok := r.settings.sources.done(key); ok && rd.spool != nil {
				if m, ok := r.settings.listings.load(ctx, key, rd.spool); ok {
					tflog.Debug(ctx, "using the source spooled during refresh", map[string]interface{}{"source": c.Ends.Src.Raw})
					return withChmod(m, c.Chmod), nil
				}
			}
			m, warnings, err = r.settings.sources.hashLocalSource(ctx, r.settings.digests, c.Ends.Src.Path(), c.Filters, algo)
		} else {
			m, warnings, err = hashLocal(ctx, r.settings.digests, c.Ends.Src.Path(), c.Filters, tree.Content, algo)
		}
	}
	if diags = r.sourceReadDiags(c, warnings, err); diags.HasError() {
		return nil, diags
	}
	return withChmod(m, c.Chmod), diags
}

// sourceReadDiags says what reading the source gave besides its tree: an
// error that stopped it, or its warnings (a part Terraform may not read
// is an error too).
func (r *directoryResource) sourceReadDiags(c syncConfig, warnings []string, err error) diag.Diagnostics {
	var diags diag.Diagnostics
	if err != nil {
		if !c.Ends.Src.Remote {
			if serr := checkSource(c.Ends.Src.Path()); serr != nil {
				diags.AddAttributeError(path.Root("source"), "Source not found", serr.Error()+".")
				return diags
			}
		}
		diags.AddAttributeError(path.Root("source"), "Cannot read the source",
			fmt.Sprintf("Could not read %s: %s.\n\n%s", c.Ends.Src.Raw, safeText(err.Error()), r.hint(c, err, opReadSource)))
		return diags
	}
	for _, w := range warnings {
		if !c.Ends.Src.Remote && strings.Contains(w, syscall.EACCES.Error()) {
			// A part of the source Terraform may not read fails the plan,
			// as an unreadable file does (rsync exits 23 for either);
			// what vanished during the walk, or cannot be copied (sockets,
			// devices), only warns.
			diags.AddAttributeError(path.Root("source"), "Source partly unreadable",
				fmt.Sprintf("%s. Nothing was copied: give the user running Terraform read access, or leave the path out with exclude.", safeText(w)))
			continue
		}
		diags.AddAttributeWarning(path.Root("source"), warningSummary(w, "Source partly unreadable"), safeText(w))
	}
	return diags
}

// sourceAheadKey is the cache key of the source reading Read makes for the
// ModifyPlan that follows: the source (with the account that reaches a
// remote one) and where it goes.
func (r *directoryResource) sourceAheadKey(c syncConfig) string {
	acct := ""
	if c.Ends.Src.Remote {
		acct = r.account(c, c.Ends.Src.Spec)
	}
	return cacheKey("src-ahead "+r.destKey(c), acct, c.Ends.Src.Path(), c.Filters, tree.Content)
}

// hashSourceAhead reads the source while Read waits on the destination
// (a local source is hashed here while the server lists; a pulled source
// is listed by its server while this side hashes the local destination),
// so that the ModifyPlan that follows in this process — Terraform plans a
// resource right after refreshing it — finds it read, and so that Read can
// record what the plan saw (privateSourceAtRefresh). Only a clean reading
// is kept, and ModifyPlan takes it out of the cache whether or not it uses
// it: a later plan, and the apply walk's re-plan, read the source afresh.
//
// With foldOnly (refresh streams the destination's listing, so the plan
// will first try to merge the source with it as a stream,
// planStreamed) a local source is walked into a spool, not a
// manifest (sourceWalks.spoolSource), which the plan reads back.
//
// The returned function waits for the reading and returns the source's
// hash as it lands (chmod applied), or "" when there is none. A failure
// here is not reported: the plan reads the source again and reports it.
func (r *directoryResource) hashSourceAhead(ctx context.Context, cn *conn, c syncConfig, algo csum.Algo, foldOnly bool) (wait func() string) {
	key := r.sourceAheadKey(c)
	r.settings.manifests.drop(key)
	if !c.SourceKnown {
		return func() string { return "" }
	}
	done := make(chan struct{})
	var hash string
	go func() {
		defer close(done)
		if foldOnly && !c.Ends.Src.Remote {
			rd, warnings, err := r.settings.sources.spoolSource(ctx, r.settings.digests, r.settings.listings, c.Ends.Src.Path(), c.Filters, algo, c.Chmod)
			if err == nil && len(warnings) == 0 {
				hash = rd.hash
			}
			return
		}
		var m *tree.Manifest
		var warnings []string
		var err error
		if c.Ends.Src.Remote {
			// Read uses cn for nothing else in a pull: its destination
			// is local.
			p := pushDestPath(c.Ends.Src.Path())
			m, warnings, err = cn.listVia(ctx, p, tree.ContentRoot(p), c.Filters, tree.Content)
			if err != nil {
				tflog.Debug(ctx, "could not list the source during refresh; the plan will", map[string]interface{}{"source": c.Ends.Src.Raw, "error": err.Error()})
			}
		} else {
			m, warnings, err = r.settings.sources.hashLocalSource(ctx, r.settings.digests, c.Ends.Src.Path(), c.Filters, algo)
		}
		if err == nil && len(warnings) == 0 {
			r.settings.manifests.put(key, m)
			hash = withChmod(m, c.Chmod).Hash()
		}
	}()
	return func() string {
		<-done
		return hash
	}
}
