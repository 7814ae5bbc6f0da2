package provider

// Overlapping destinations: two rsync_directory resources whose copied
// trees lie one inside the other (or are the same) on one machine, where
// delete = true makes each apply delete what the other copied.

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	tfpath "github.com/hashicorp/terraform-plugin-framework/path"
)

// destRegistry is the provider-wide record of the destinations this
// provider process has planned (one per provider instance, in its
// connSettings): one process plans every resource of a configuration that
// uses the provider block, so it can see two that overlap, which neither
// resource can alone.
type destRegistry struct {
	mu      sync.Mutex
	entries map[string]destEntry // by resource identity (source and destination as written)
}

// destEntry is one planned destination: the machine it is on, the
// absolute (or login-relative) path of the tree the sync writes and
// deletes in, and the settings a warning names.
type destEntry struct {
	machine     string
	root        string
	delete      bool
	source      string
	destination string
}

func newDestRegistry() *destRegistry { return &destRegistry{entries: map[string]destEntry{}} }

// destEntryOf describes where c's sync writes. The machine is the host,
// port and jump hosts — not the user: two SSH users of one host write
// one file system; a path relative to the login directory is the user's
// own, so there the user is part of it.
func (r *directoryResource) destEntryOf(c syncConfig) destEntry {
	root := c.root().RemovePath
	e := destEntry{delete: c.Delete, source: c.Ends.Src.Raw, destination: c.Ends.Dst.Raw}
	if !c.Ends.Dst.Remote {
		if abs, err := filepath.Abs(root); err == nil {
			root = abs
		}
		e.machine, e.root = "local", filepath.ToSlash(filepath.Clean(root))
		return e
	}
	cfg, _ := r.settings.resolve(context.Background(), c.Connection, c.Ends.Dst.Spec.User, c.Ends.Dst.Spec.Host)
	e.machine = fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	for b := cfg.Bastion; b != nil; b = b.Bastion {
		e.machine += fmt.Sprintf(" via %s:%d", b.Host, b.Port)
	}
	e.root = path.Clean(root)
	if !strings.HasPrefix(e.root, "/") {
		e.machine = cfg.User + "@" + e.machine // relative to this user's login directory
	}
	return e
}

// within reports whether the tree at inner lies inside (or is) the tree
// at outer.
func within(inner, outer string) bool {
	if outer == "/" || outer == inner {
		return true
	}
	return strings.HasPrefix(inner, outer+"/") || (outer == "." && !strings.HasPrefix(inner, "/"))
}

// checkOverlap records c's destination and warns when it overlaps one
// that this process planned for another resource, and one of the two
// deletes.
func (r *directoryResource) checkOverlap(c syncConfig) diag.Diagnostics {
	var diags diag.Diagnostics
	if r.settings == nil || r.settings.destinations == nil || !c.SourceKnown {
		return nil
	}
	reg := r.settings.destinations
	e := r.destEntryOf(c)
	id := e.source + "\x00" + e.destination
	reg.mu.Lock()
	reg.entries[id] = e
	var clashes []destEntry
	for oid, o := range reg.entries {
		if oid == id || o.machine != e.machine || (!e.delete && !o.delete) {
			continue
		}
		if within(e.root, o.root) || within(o.root, e.root) {
			clashes = append(clashes, o)
		}
	}
	reg.mu.Unlock()
	sort.Slice(clashes, func(i, j int) bool { return clashes[i].destination < clashes[j].destination })
	for _, o := range clashes {
		diags.AddAttributeWarning(tfpath.Root("destination"), "Destinations overlap", overlapText(e, o))
	}
	return diags
}

func overlapText(e, o destEntry) string {
	rel := "is the same directory as"
	switch {
	case e.root == o.root:
	case within(e.root, o.root):
		rel = "lies inside"
	default:
		rel = "contains"
	}
	deleter := "this resource's"
	if !e.delete {
		deleter = "the other's"
	} else if o.delete {
		deleter = "each one's"
	}
	return fmt.Sprintf("This resource copies %s into %s, which %s %s, where another rsync_directory copies %s "+
		"(destination %s). With delete = true, %s apply deletes what the other copied there, and the other's "+
		"apply copies it back: every plan shows changes and the files come and go. Give each resource a "+
		"directory of its own, or leave the inner one's path out of the outer one with exclude (it is then "+
		"neither copied nor deleted) or protect.",
		e.source, e.root, rel, o.root, o.source, o.destination, deleter)
}
