package provider

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// manifestCache keeps the destination manifests Read fetched, for the
// ModifyPlan that follows in the same provider process (Terraform runs
// refresh, then plan, in one process per command; apply re-plans each
// resource in the apply walk). Entries are keyed by everything that
// defines the listing — the host and account, the path listed, the
// filters and the mode — so a changed configuration misses and lists
// again. Read replaces its entry every time, so a later command never sees
// an older listing; Create and Update store the listing they set
// destination_hash from. Manifests are never written to state.
type manifestCache struct {
	mu sync.Mutex
	m  map[string]*tree.Manifest
}

var manifests = &manifestCache{m: map[string]*tree.Manifest{}}

func (c *manifestCache) get(key string) (*tree.Manifest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.m[key]
	return m, ok
}

func (c *manifestCache) put(key string, m *tree.Manifest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = m
}

// take returns the manifest under key and removes it.
func (c *manifestCache) take(key string) (*tree.Manifest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.m[key]
	delete(c.m, key)
	return m, ok
}

func (c *manifestCache) drop(key string) {
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
	inc, exc := f.engineFilters()
	l, err := rsync.List(ctx, t, listPath, rsync.Options{
		RsyncPath: rsyncPath,
		Checksum:  mode == tree.Content,
		Include:   inc,
		Exclude:   exc,
		Logger:    newEngineLogger(ctx),
	})
	if err != nil {
		return nil, nil, err
	}
	algo, ok := csum.ByName(l.Checksum)
	if !ok {
		algo = csum.XXH128
	}
	var warnings []string
	if l.IOError != 0 {
		warnings = append(warnings, fmt.Sprintf("the remote rsync could not read some files below %s; they are missing from the listing", listPath))
	}
	return tree.FromEntries(l.Entries, prefix, mode, algo), warnings, nil
}

// hashLocal reads a local tree (rsync's trailing-slash rule on p) as a
// manifest, leaving out what the filters exclude.
func hashLocal(ctx context.Context, p string, f filterSet, mode tree.Mode, algo csum.Algo) (*tree.Manifest, []string, error) {
	inc, exc := f.engineFilters()
	rules, err := filter.New(inc, exc)
	if err != nil {
		return nil, nil, err
	}
	return tree.Local(ctx, p, rules, mode, algo)
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
