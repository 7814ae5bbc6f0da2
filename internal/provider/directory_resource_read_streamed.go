package provider

// Refresh's destination listing streamed to the listing store: written
// and hashed as it arrives, never held (issue 15: a 300,000-file refresh
// held the listing as a manifest until the plan, beside the source's).

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// streamedListing is a destination listing refresh wrote to the listing
// store as it came: its hash (destination_hash) and the private state
// value that finds the file.
type streamedListing struct {
	hash string
	ref  []byte
}

// streamsRefresh reports whether refresh streams c's destination listing
// instead of holding it: the tree is large (largeTree), there is a store
// to write it to, and no hard links (the listing of a set is resolved
// whole, listManifest). The caller has checked that the destination is
// remote and listed over rsync.
func (r *directoryResource) streamsRefresh(ctx context.Context, c syncConfig, private privateGetter) bool {
	return r.settings.listings != nil && c.Drift != driftNone && !c.Filters.Fidelity.treeOptions().HardLinks && r.largeTree(ctx, private)
}

// privateGetter is the private state of a request.
type privateGetter interface {
	GetKey(context.Context, string) ([]byte, diag.Diagnostics)
}

// largeTree reports whether the last apply left a tree too large for its
// baseline to keep each entry's fingerprint (more than baselineMaxItems
// entries). Such a tree's refresh and no-change plan are made as streams:
// they hold no manifest, whatever the tree's size. A smaller tree is
// planned from manifests, as a tree without a baseline (imported, or not
// applied by this provider yet) is: they are small enough to hold, and
// the resources of a fleet share one walk of their source (sourceWalks).
func (r *directoryResource) largeTree(ctx context.Context, private privateGetter) bool {
	b, ok := r.priorBaseline(ctx, private)
	return ok && !b.Imported && b.Hash != "" && !b.hasPrints()
}

// listIfExistsStreamed is listIfExists writing the listing to the store
// as it arrives (tree.ListStream) and hashing it on the way. It returns a
// nil listing for a tree that exists when it could not stream it — the
// server's lists out of the sender's order, a server that could not read
// some of the tree (the plan must know which directories: listRemote
// marks them), or a store that could not be written — and the caller
// lists it again into a manifest.
func (r *directoryResource) listIfExistsStreamed(ctx context.Context, cn *conn, c syncConfig) (sl *streamedListing, exists bool, diags diag.Diagnostics, checkErr error) {
	mode := manifestMode(c.Drift)
	w, err := r.settings.listings.create(r.destKey(c), mode)
	if err != nil || w == nil {
		tflog.Debug(ctx, "cannot write the listing as it comes; listing into memory", map[string]interface{}{"error": errText(err)})
		return nil, true, nil, nil
	}
	ls := r.streamListing(ctx, cn, c, w.add)
	if !ls.exists || ls.checkErr != nil || ls.listErr != nil {
		w.abort()
		if ls.listErr != nil {
			_, diags = r.destListed(c, nil, nil, ls.listErr)
		}
		return nil, ls.exists, diags, ls.checkErr
	}
	if !ls.whole {
		w.abort()
		return nil, true, nil, nil
	}
	ref, err := w.commit(ctx, ls.algo)
	if err != nil {
		tflog.Debug(ctx, "could not keep the listing; listing again into memory", map[string]interface{}{"error": err.Error()})
		return nil, true, nil, nil //nolint:nilerr // not a failure: the caller lists into memory
	}
	// A manifest of an earlier refresh of this destination in this
	// process is not this listing.
	r.settings.manifests.drop(r.destKey(c))
	if r.settings.streamed != nil {
		r.settings.streamed("refresh")
	}
	return &streamedListing{hash: ls.hash, ref: ref}, true, nil, nil
}

// listedStream is what streamListing made of a destination's listing.
type listedStream struct {
	exists   bool
	listErr  error // the listing failed
	checkErr error // whether the tree is there could not be told
	whole    bool  // every item was handed over in order: hash is the manifest's
	hash     string
	algo     csum.Algo // the listing's digests
}

// streamListing lists c's remote destination (guardedListing) and hands
// each item over in the manifest's order as it arrives (tree.ListStream),
// hashing it on the way. The listing is whole only when the stream could
// put it in that order and the server could read all of the tree (the
// plan must know which directories it could not: listRemote marks them);
// otherwise the caller lists into a manifest.
func (r *directoryResource) streamListing(ctx context.Context, cn *conn, c syncConfig, each func(*tree.Item)) listedStream {
	root := c.root()
	mode := manifestMode(c.Drift)
	h := tree.NewHasher(mode, 0)
	var streamErr error
	var l *rsync.Listing
	exists, listErr, checkErr := r.guardedListing(ctx, cn, c, func(t rsync.Transport, rsyncPath string) error {
		s := tree.NewListStream(root.Prefix, mode, c.Filters.Fidelity.treeOptions(), func(it *tree.Item) {
			h.Add(it)
			if each != nil {
				each(it)
			}
		})
		var err error
		l, err = rsync.ListLists(ctx, t, root.ListPath, listOptions(ctx, c.Filters, mode, rsyncPath), func(fl rsync.FileList) {
			s.AddList(fl.Dir, fl.Entries, fl.Whole)
		})
		streamErr = s.Close()
		return err
	})
	out := listedStream{exists: exists, listErr: listErr, checkErr: checkErr}
	if !exists || checkErr != nil || listErr != nil {
		return out
	}
	if streamErr != nil || l.IOError != 0 || len(unlistedDirs(l.Messages, root.ListPath, root.Prefix)) > 0 {
		tflog.Debug(ctx, "the destination listing could not be streamed; listing again into memory", map[string]interface{}{
			"destination": c.Ends.Dst.Raw, "order": errText(streamErr), "io_error": l.IOError,
		})
		return out
	}
	out.whole, out.algo = true, listingAlgo(l)
	out.hash = h.SumAs(out.algo)
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// hashDestStreamed is the destination_hash of c's remote destination,
// listed after a sync that did not mirror the source (see mirrored), as
// a stream: no manifest of it is made (streamListing). Not whole when it
// cannot be streamed — a local destination, SFTP, hard links, or what
// streamListing falls back on — and the caller lists into a manifest.
func (r *directoryResource) hashDestStreamed(ctx context.Context, cn *conn, c syncConfig) listedStream {
	if !c.Ends.Dst.Remote || cn.overSFTP() || c.Filters.Fidelity.treeOptions().HardLinks {
		return listedStream{}
	}
	ls := r.streamListing(ctx, cn, c, nil)
	if ls.whole {
		tflog.Debug(ctx, "hashed the destination's listing as it arrived", map[string]interface{}{"destination": c.Ends.Dst.Raw})
		if r.settings.streamed != nil {
			r.settings.streamed("apply")
		}
	}
	return ls
}
