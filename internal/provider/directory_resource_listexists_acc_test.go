package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// commandLog records every command the test server runs (sshd's
// ForceCommand: a script that logs $SSH_ORIGINAL_COMMAND and runs it).
type commandLog struct {
	t    *testing.T
	path string
	seen int // commands already looked at
}

func newCommandLog(t *testing.T) (*commandLog, sshtest.Option) {
	dir := t.TempDir()
	l := &commandLog{t: t, path: filepath.Join(dir, "commands")}
	script := filepath.Join(dir, "log-and-run")
	body := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$SSH_ORIGINAL_COMMAND\" >> %s\nexec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n", shellQuote(l.path))
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return l, sshtest.WithExtraConfig("ForceCommand " + script)
}

// next returns the commands run since the last call.
func (l *commandLog) next() []string {
	b, err := os.ReadFile(l.path)
	if err != nil && !os.IsNotExist(err) {
		l.t.Fatal(err)
	}
	all := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(b) == 0 {
		all = nil
	}
	out := all[l.seen:]
	l.seen = len(all)
	return out
}

// TestAccDirectory_refreshChecksInTheListing: refresh learns whether the
// copied tree is still there from the session that lists it (the listing's
// command tests the path first, listIfExists), through an rsync_path that
// is shell syntax and a path that needs quoting. A tree deleted behind
// Terraform's back is planned again, even when rsync itself cannot run
// there; a listing that fails on a tree that exists fails the plan as it
// did, after the existence check alone confirmed the tree is there.
func TestAccDirectory_refreshChecksInTheListing(t *testing.T) {
	cmds, logOpt := newCommandLog(t)
	srv := accSetupWith(t, logOpt)
	src := newSource(t)
	testtree.Write(t, src, []testtree.Entry{
		{Path: "a.txt", Mode: 0o644, Content: []byte("a\n")},
		{Path: "sub", Dir: true, Mode: 0o755},
		{Path: "sub/b.txt", Mode: 0o644, Content: []byte("b\n")},
	})
	dst := filepath.Join(t.TempDir(), "it's a site")
	dest := remoteDest(srv, dst+"/")
	good := directoryConfig(providerConfig(srv, map[string]string{"rsync_path": hclString("cd / && rsync")}), src+"/", dest)
	broken := directoryConfig(providerConfig(srv, map[string]string{"rsync_path": hclString("rsync --files-from=/nonexistent")}), src+"/", dest)
	// guarded and bare count the listings that check the path first and
	// the existence checks of their own.
	count := func(cmds []string) (guarded, bare int) {
		for _, c := range cmds {
			switch {
			case strings.HasPrefix(c, "test -e ") && strings.Contains(c, " || exit 97; ") && strings.Contains(c, " --sender "):
				guarded++
			case strings.HasPrefix(c, "test -e "):
				bare++
			}
		}
		return guarded, bare
	}
	remove := func() {
		if err := os.RemoveAll(dst); err != nil {
			t.Fatal(err)
		}
	}

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: good, Check: checkTreesEqual(src, dst)},
			{
				PreConfig: func() { cmds.next() },
				Config:    good,
				PlanOnly:  true,
			},
			{
				PreConfig: func() {
					got := cmds.next()
					if guarded, bare := count(got); guarded == 0 || bare != 0 {
						t.Fatalf("refresh ran %d guarded listings and %d existence checks of their own, want listings that check and no other check; commands:\n%s",
							guarded, bare, strings.Join(got, "\n"))
					}
					remove()
				},
				Config: good,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("rsync_directory.test", plancheck.ResourceActionCreate)},
				},
				Check: checkTreesEqual(src, dst),
			},
			{
				// rsync runs (--version) but cannot list: the tree exists,
				// so the listing's error is the plan's.
				PreConfig:   func() { cmds.next() },
				Config:      broken,
				ExpectError: words("Cannot read the destination"),
			},
			{
				PreConfig: func() {
					got := cmds.next()
					if guarded, bare := count(got); guarded == 0 || bare == 0 {
						t.Fatalf("a failed listing: %d guarded listings, %d existence checks of their own, want both; commands:\n%s",
							guarded, bare, strings.Join(got, "\n"))
					}
					remove()
				},
				// The tree is gone: the guard says so before rsync starts,
				// the plan creates it again, and only the push meets the
				// rsync that cannot start.
				Config:      broken,
				ExpectError: words("failed to open files-from file"),
			},
		},
	})
	for _, c := range cmds.next() {
		if strings.Contains(c, " --sender ") && !strings.HasPrefix(c, "test -e ") {
			t.Errorf("a listing without the existence check: %s", c)
		}
	}
}
