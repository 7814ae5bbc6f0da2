//go:build unix

package rsync_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// TestInteropDropbear: Dropbear 2022.83 (embedded Linux, appliances) as
// the SSH server, running the stock rsync 3.5.0 (and 3.2.7): a new tree,
// a delta update with a stray file deleted, a push with nothing to do,
// the checksummed listing that drift detection reads — which must show a
// server-side edit that keeps size and mtime, so only the content says it
// changed — and a pull back. Dropbear's default receive window (24 KiB,
// against OpenSSH's 2 MiB) makes every push wait on window adjustments,
// which this exercises.
func TestInteropDropbear(t *testing.T) {
	srv := sshtest.StartDropbear(t)
	tr := sshTransport(t, srv)
	for name, rsyncPath := range map[string]string{
		"3.5.0": "rsync",
		"3.2.7": sshtest.Rsync327(t),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			src := filepath.Join(t.TempDir(), "src")
			if err := os.Mkdir(src, 0o755); err != nil {
				t.Fatal(err)
			}
			testtree.Write(t, src, testtree.Rich())
			dst := filepath.Join(t.TempDir(), "dst")
			opts := rsync.Options{RsyncPath: rsyncPath, Delete: true}

			first, err := rsync.Push(ctx, tr, src+"/", dst, opts)
			if err != nil {
				t.Fatalf("initial push: %v", err)
			}
			if err := testtree.Compare(src, dst); err != nil {
				t.Fatalf("initial push: %v", err)
			}
			if first.Stats.LiteralBytes < 5<<20 {
				t.Errorf("initial push sent %d literal bytes, want the whole tree", first.Stats.LiteralBytes)
			}

			writeFile(t, filepath.Join(dst, "stray.txt"), "only on the server")
			testtree.Mutate(t, src)
			second, err := rsync.Push(ctx, tr, src+"/", dst, opts)
			if err != nil {
				t.Fatalf("delta push: %v", err)
			}
			if err := testtree.Compare(src, dst); err != nil {
				t.Fatalf("delta push: %v", err)
			}
			if second.Stats.MatchedBytes < 4<<20 || second.Stats.LiteralBytes > 3*2296+200 {
				t.Errorf("delta push: %d bytes matched, %d literal, want big.bin's blocks matched and only its 31-byte edit (and the small files) sent", second.Stats.MatchedBytes, second.Stats.LiteralBytes)
			}
			if got := kinds(second.Changes)["stray.txt"]; got != rsync.ChangeDelete {
				t.Errorf("stray.txt: change %v, want a delete; changes %+v", got, second.Changes)
			}

			third, err := rsync.Push(ctx, tr, src+"/", dst, opts)
			if err != nil || third.Stats.FilesTransferred != 0 || third.Stats.LiteralBytes != 0 || len(third.Changes) != 0 {
				t.Fatalf("no-change push did work: %+v, %v", third, err)
			}

			// Drift: the server's file changes content but keeps its size
			// and mtime; only the checksums computed on the server show it.
			before := listSums(t, tr, dst, rsyncPath)
			edited := filepath.Join(dst, "index.html")
			fi, err := os.Stat(edited)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(edited)
			if err != nil {
				t.Fatal(err)
			}
			b[0] ^= 0x20
			if err := os.WriteFile(edited, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(edited, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
			after := listSums(t, tr, dst, rsyncPath)
			if len(after) != len(before) {
				t.Fatalf("listing has %d entries after the edit, %d before", len(after), len(before))
			}
			for name, sum := range before {
				if changed := !bytes.Equal(after[name], sum); changed != (name == "index.html") {
					t.Errorf("%s: checksum changed = %v after the server edit of index.html", name, changed)
				}
			}

			back := filepath.Join(t.TempDir(), "back")
			if _, err := rsync.Pull(ctx, tr, dst+"/", back, opts); err != nil {
				t.Fatalf("pull: %v", err)
			}
			if err := testtree.Compare(dst, back); err != nil {
				t.Fatalf("pull: %v", err)
			}
		})
	}
	// The sessions were Dropbear's: its log shows the key login.
	if log := srv.Log(); !strings.Contains(log, "Pubkey auth succeeded for '"+srv.User+"'") {
		t.Errorf("the dropbear log shows no login:\n%s", log)
	}
}

// listSums is the checksummed listing of dir (what refresh reads for
// drift), as name → checksum of each regular file.
func listSums(t *testing.T, tr rsync.Transport, dir, rsyncPath string) map[string][]byte {
	t.Helper()
	l, err := rsync.List(context.Background(), tr, dir+"/", rsync.Options{RsyncPath: rsyncPath, Checksum: true})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	sums := map[string][]byte{}
	for _, e := range l.Entries {
		if e.IsRegular() {
			if len(e.Checksum) == 0 {
				t.Fatalf("list: %s has no checksum", e.Name)
			}
			sums[e.Name] = e.Checksum
		}
	}
	if len(sums) < 3 {
		t.Fatalf("list: only %d regular files: %+v", len(sums), l.Entries)
	}
	return sums
}

func kinds(changes []rsync.Change) map[string]rsync.ChangeKind {
	m := map[string]rsync.ChangeKind{}
	for _, c := range changes {
		m[c.Path] = c.Kind
	}
	return m
}

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
}
