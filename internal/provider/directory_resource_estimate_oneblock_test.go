//go:build unix

package provider

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// TestOneBlockEstimatesMatchTheServer: for every changed file whose copy
// on a real server (sshd, the stock rsync) is shorter than one block, the
// estimate made from refresh's listing is the one the server's own block
// signature gives (an EstimateOnly push, compareWithServer's exchange):
// the copy found at the end of the local file, in the middle (no match:
// a short block matches only at the end), at the start, a file now
// shorter than its copy, a rewrite, a touched file, 699 bytes. Copies of
// 700 bytes and more, and an rsync_path with options of its own, are left
// to the server.
func TestOneBlockEstimatesMatchTheServer(t *testing.T) {
	srv := sshtest.Start(t)
	client, err := sshconn.Dial(t.Context(), sshconn.Config{
		Host: srv.Host, Port: srv.Port, User: srv.User,
		PrivateKeyFile: srv.ClientKeyFile, KnownHostsFile: srv.KnownHostsFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	tr := sshconn.NewTransport(client)

	rnd := rand.New(rand.NewSource(15))
	random := func(n int) []byte {
		b := make([]byte, n)
		rnd.Read(b)
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	type pair struct{ old, cur []byte }
	x300, x600, x200, x500, x699 := random(300), random(600), random(200), random(500), random(699)
	edited699 := append([]byte(nil), x699...)
	edited699[350] ^= 1
	files := map[string]pair{
		"rewrite.txt":     {random(52), random(52)},
		"at-end.txt":      {x300, cat(random(100), x300)},
		"at-end-long.bin": {x600, cat(random(5000), x600)},
		"at-start.txt":    {x300, cat(x300, random(100))},
		"middle.txt":      {x200, cat(random(50), x200, random(50))},
		"shorter.txt":     {x500, x500[:200]},
		"touched.txt":     {x300, x300},
		"sub/edge699.txt": {x699, edited699},
		"block700.bin":    {random(700), random(700)},
		"big.bin":         {random(5000), random(5000)},
	}
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write := func(root, name string, data []byte, when time.Time) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
	for name, p := range files {
		write(dst, name, p.old, time.Unix(1_600_000_000, 0))
		write(src, name, p.cur, time.Unix(1_700_000_000, 0))
	}

	ctx := context.Background()
	// The stock rsync, and rsync 3.2.7 when the CI fetched it
	// (.ci/fetch-rsync327 prints where).
	servers := map[string]string{"rsync": "rsync"}
	if p := os.Getenv("RSYNC_327_PATH"); p != "" {
		servers["rsync 3.2.7"] = p
	}
	for label, rsyncPath := range servers {
		t.Run(label, func(t *testing.T) {
			dstM, _, err := listRemote(ctx, tr, dst+"/", "", filterSet{}, tree.Content, rsyncPath)
			if err != nil {
				t.Fatal(err)
			}
			srcM, _, err := hashLocal(ctx, nil, src+"/", filterSet{}, tree.Content, dstM.Algo)
			if err != nil {
				t.Fatal(err)
			}
			w := planEstimateWork(tree.Diff(srcM, dstM, false, nil), tree.Pair(srcM, dstM), false)
			if len(w.Compare) != len(files)-1 {
				t.Fatalf("compared %v, want all %d files but the touched one", w.Compare, len(files)-1)
			}
			// A plan by size and time compares the touched file too.
			names := append(w.Compare, "touched.txt")
			w.Compare = names
			w.Src["touched.txt"], w.Dst["touched.txt"] = indexItems(srcM)["touched.txt"], indexItems(dstM)["touched.txt"]
			c := syncConfig{Ends: syncEnds{Src: endpoint{Raw: src + "/", Local: src + "/"}, Dir: dirPush}}
			done, rest := oneBlockEstimates(c, rsyncPath, srcM, dstM, w)
			if len(rest) != 2 || len(done) != len(files)-2 {
				t.Errorf("from the listing %v, left to the server %v; want all but block700.bin and big.bin from the listing", done, rest)
			}
			for _, name := range rest {
				if name != "block700.bin" && name != "big.bin" {
					t.Errorf("%s left to the server", name)
				}
			}

			res, err := rsync.Push(ctx, tr, src+"/", dst+"/", rsync.Options{RsyncPath: rsyncPath, EstimateOnly: true, EstimatePaths: names})
			if err != nil {
				t.Fatal(err)
			}
			server := map[string]fileAmount{}
			for _, e := range res.Estimates {
				server[e.Path] = fileAmount{Literal: e.Literal, Size: e.Literal + e.Matched, New: !e.Basis}
			}
			for name, f := range done {
				if s, ok := server[name]; !ok || s != f {
					t.Errorf("%s: from the listing %+v, the server's signature gives %+v (%v)", name, f, s, ok)
				}
			}
			// The cases mean what they say: matches at the end only.
			for name, literal := range map[string]int64{"at-end.txt": 100, "at-end-long.bin": 5000, "touched.txt": 0, "middle.txt": 300, "at-start.txt": 400, "shorter.txt": 200, "rewrite.txt": 52, "sub/edge699.txt": 699} {
				if f := done[name]; f.Literal != literal {
					t.Errorf("%s: %d bytes literal, want %d", name, f.Literal, literal)
				}
			}

			for _, p := range []string{"sudo -n rsync", "rsync --block-size=100", "rsync -W"} {
				if done, rest := oneBlockEstimates(c, p, srcM, dstM, w); len(done) != 0 || len(rest) != len(names) {
					t.Errorf("rsync_path %q: %d from the listing, want none", p, len(done))
				}
			}

			meta := *dstM
			meta.Mode = tree.Metadata
			if done, _ := oneBlockEstimates(c, "rsync", srcM, &meta, w); len(done) != 0 {
				t.Errorf("a listing without digests: %d from the listing, want none", len(done))
			}
		})
	}
}
