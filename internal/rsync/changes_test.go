package rsync

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// TestInteropPushChangesMatchCLI: the changes a push reports are the lines
// the rsync command line itemizes (-i) for the same push from the same
// state (an initial push, then a mutated tree with a stray file on the
// receiver): the same %i strings for the same paths, deletions included.
func TestInteropPushChangesMatchCLI(t *testing.T) {
	rsyncBin, err := exec.LookPath("rsync")
	if err != nil {
		t.Fatal("rsync is not installed; install it (apt-get install rsync): the interop tests need a real peer")
	}
	dir := t.TempDir()
	src, ours, theirs := filepath.Join(dir, "src"), filepath.Join(dir, "ours"), filepath.Join(dir, "theirs")
	for _, d := range []string{src, ours, theirs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testtree.Write(t, src, testtree.Rich())
	// The CLI's remote shell runs the server here: it drops the host name
	// and runs the rest, as our ExecTransport does.
	rsh := filepath.Join(dir, "rsh")
	if err := os.WriteFile(rsh, []byte("#!/bin/sh\nshift\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Lines as "%i %n" with the padding of "*deleting" squeezed, sorted:
	// the CLI prints deletions as the receiver makes them, we list them last.
	normalize := func(lines []string) []string {
		var out []string
		for _, l := range lines {
			if l = strings.Join(strings.Fields(l), " "); l != "" {
				out = append(out, l)
			}
		}
		slices.Sort(out)
		return out
	}
	push := func(step string, changes bool) {
		t.Helper()
		res, err := Push(context.Background(), ExecTransport{}, src+"/", ours+"/", Options{Delete: true, Logger: testLogger(t)})
		if err != nil {
			t.Fatalf("%s: push: %v", step, err)
		}
		var got []string
		for _, c := range res.Changes {
			got = append(got, c.Itemize+" "+c.Path)
		}
		out, err := exec.Command(rsyncBin, "-a", "--delete", "--out-format=%i %n", "-e", rsh, src+"/", "localhost:"+theirs+"/").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: rsync: %v\n%s", step, err, out)
		}
		want := normalize(strings.Split(string(out), "\n"))
		if changes != (len(want) > 0) {
			t.Fatalf("%s: the CLI itemized %q", step, want)
		}
		if got := normalize(got); !slices.Equal(got, want) {
			t.Errorf("%s: changes\n  %q\nthe CLI itemized\n  %q", step, got, want)
		}
	}
	push("initial push", true)
	testtree.Mutate(t, src)
	for _, d := range []string{ours, theirs} {
		if err := os.WriteFile(filepath.Join(d, "stray.txt"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	push("delta push", true)
	push("no-change push", false)
}
