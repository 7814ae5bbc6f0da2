//go:build unix

package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// TestAccRelease_keepSharedDrift: releases with set ids, keep = 2 and
// shared paths. Shared paths are links in every release, created when
// missing, and what is written through them survives new releases; a
// third release prunes the oldest (the plan names what stays); id set to
// a kept release with its content switches back to it without sending
// data; an edit inside the current release and a re-pointed link are
// drift that the plan shows and the apply repairs; a shared path in the
// source fails the plan; on_destroy = "delete" removes the releases and
// the link and leaves shared/.
func TestAccRelease_keepSharedDrift(t *testing.T) {
	srv := accSetup(t)
	for _, server := range []struct{ name, path string }{{"rsync-3.5.0", ""}, {"rsync-3.2.7", sshtest.Rsync327(t)}} {
		t.Run(server.name, func(t *testing.T) {
			overrides := map[string]string{}
			if server.path != "" {
				overrides["rsync_path"] = hclString(shellQuote(server.path))
			}
			keepSharedDrift(t, srv, overrides)
		})
	}
}

func keepSharedDrift(t *testing.T, srv *sshtest.Server, overrides map[string]string) {
	src := smallTree(t)
	writeFile(t, filepath.Join(src, "config", "app.yml"), "db: x\n")
	app := filepath.Join(t.TempDir(), "app")
	config := func(id string) string {
		return releaseDir(srv, overrides, src, remoteDest(srv, app), fmt.Sprintf(`    id     = %q
    keep   = 2
    shared = ["uploads/", "config/.env"]`, id), map[string]string{"on_destroy": `"delete"`})
	}
	var v2Index uint64
	shared := func(*terraform.State) error {
		for _, c := range []struct{ link, target string }{{"uploads", "../../shared/uploads"}, {"config/.env", "../../../shared/config/.env"}} {
			for _, id := range mustReleases(app) {
				got, err := os.Readlink(filepath.Join(app, "releases", id, c.link))
				if err != nil || got != c.target {
					return fmt.Errorf("releases/%s/%s -> %q (%w), want %q", id, c.link, got, err, c.target)
				}
			}
		}
		b, err := os.ReadFile(filepath.Join(app, "current", "uploads", "photo.jpg"))
		if err != nil || string(b) != "JPEG" {
			return fmt.Errorf("the upload written through current/uploads is gone: %q, %w", b, err)
		}
		if b, err := os.ReadFile(filepath.Join(app, "shared", "config", ".env")); err != nil || string(b) != "SECRET=1\n" {
			return fmt.Errorf("shared/config/.env = %q, %w", b, err)
		}
		return nil
	}
	releasesAre := func(want ...string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			if got := mustReleases(app); fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Errorf("releases on disk %q, want %q", got, want)
			}
			return nil
		}
	}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		CheckDestroy: func(*terraform.State) error {
			if err := mustNotExist(filepath.Join(app, "current"), filepath.Join(app, "releases")); err != nil {
				return err
			}
			_, err := os.Stat(filepath.Join(app, "shared", "uploads", "photo.jpg"))
			return err
		},
		Steps: []resource.TestStep{
			{
				Config: config("v1"),
				Check: resource.ComposeTestCheckFunc(
					checkCurrentIs(app, src, "uploads", "config/.env"), releasesAre("v1"),
					func(*terraform.State) error {
						// The app writes through the links.
						if err := os.WriteFile(filepath.Join(app, "current", "uploads", "photo.jpg"), []byte("JPEG"), 0o644); err != nil {
							return err
						}
						return os.WriteFile(filepath.Join(app, "current", "config", ".env"), []byte("SECRET=1\n"), 0o600)
					},
				),
			},
			{
				PreConfig: setIndex(t, src, "<h1>v2</h1>\n"),
				Config:    config("v2"),
				Check: resource.ComposeTestCheckFunc(checkCurrentIs(app, src, "uploads", "config/.env"), releasesAre("v1", "v2"), shared,
					recordInode(func() string { return filepath.Join(app, "releases", "v2", "index.html") }, &v2Index)),
			},
			{
				PreConfig: setIndex(t, src, "<h1>v3</h1>\n"),
				Config:    config("v3"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectRelease{from: fixed("v2"), to: fixed("v3"), want: func() []string { return []string{"v2", "v3"} }},
				}},
				Check: resource.ComposeTestCheckFunc(checkCurrentIs(app, src, "uploads", "config/.env"), releasesAre("v2", "v3"), shared),
			},
			{
				// Rollback by id.
				PreConfig: setIndex(t, src, "<h1>v2</h1>\n"),
				Config:    config("v2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectRelease{from: fixed("v3"), to: fixed("v2"), want: func() []string { return []string{"v3", "v2"} }},
				}},
				Check: resource.ComposeTestCheckFunc(checkCurrentIs(app, src, "uploads", "config/.env"), releasesAre("v2", "v3"), shared,
					sameInode(filepath.Join(app, "releases", "v2", "index.html"), &v2Index), sent(0, 0)),
			},
			{
				// An edit inside the current release, in place.
				PreConfig: func() {
					if err := os.WriteFile(filepath.Join(app, "releases", "v2", "css", "site.css"), []byte("hacked"), 0o644); err != nil {
						t.Fatal(err)
					}
				},
				Config: config("v2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"css/site.css"}, nil)),
				}},
				Check: resource.ComposeTestCheckFunc(checkCurrentIs(app, src, "uploads", "config/.env"), releasesAre("v2", "v3"), shared),
			},
			{
				// current re-pointed by hand.
				PreConfig: func() {
					tmp := filepath.Join(app, "current.tmp")
					if err := os.Symlink("releases/v3", tmp); err != nil {
						t.Fatal(err)
					}
					if err := os.Rename(tmp, filepath.Join(app, "current")); err != nil {
						t.Fatal(err)
					}
				},
				Config: config("v2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectRelease{from: fixed("v3"), to: fixed("v2"), want: func() []string { return []string{"v3", "v2"} }},
				}},
				Check: resource.ComposeTestCheckFunc(checkCurrentIs(app, src, "uploads", "config/.env"), releasesAre("v2", "v3"), sent(0, 0)),
			},
			{
				// The current release deleted behind Terraform's back.
				PreConfig: func() {
					if err := os.RemoveAll(filepath.Join(app, "releases", "v2")); err != nil {
						t.Fatal(err)
					}
				},
				Config: config("v2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectRelease{from: fixed("<nil>"), to: fixed("v2"), want: func() []string { return []string{"v3", "v2"} }},
				}},
				Check: resource.ComposeTestCheckFunc(checkCurrentIs(app, src, "uploads", "config/.env"), releasesAre("v2", "v3"), shared),
			},
			{
				PreConfig:   func() { writeFile(t, filepath.Join(src, "uploads", "x.jpg"), "x") },
				Config:      config("v2"),
				ExpectError: words(`Shared path in the source … "uploads" is a shared path`),
			},
			{
				PreConfig: func() {
					if err := os.RemoveAll(filepath.Join(src, "uploads")); err != nil {
						t.Fatal(err)
					}
				},
				Config: config("v2"),
			},
		},
	})
}

// TestAccRelease_localAppRoot: a release tree on this machine, filled by a
// local copy and by a pull: the first release and link, a second release
// where the unchanged file is a hard link to the first's (our own
// receiver's --link-dest), and a revert that switches back to the first
// release's directory, its file keeping its inode.
func TestAccRelease_localAppRoot(t *testing.T) {
	srv := accSetup(t)
	for _, mode := range []string{"local", "pull"} {
		t.Run(mode, func(t *testing.T) {
			src := smallTree(t)
			writeFile(t, filepath.Join(src, "assets", "big.bin"), strings.Repeat("0123456789abcdef", 4096))
			app := filepath.Join(t.TempDir(), "app")
			source := src
			if mode == "pull" {
				source = remoteDest(srv, src)
			}
			config := releaseDir(srv, nil, source, app, "", nil)
			var first string
			var big, index uint64
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				Steps: []resource.TestStep{
					{
						Config: config,
						Check: resource.ComposeTestCheckFunc(
							checkCurrentIs(app, src),
							func(*terraform.State) (err error) {
								first, err = currentRelease(app)
								return err
							},
							recordInode(func() string { return filepath.Join(app, "releases", first, "assets", "big.bin") }, &big),
							recordInode(func() string { return filepath.Join(app, "releases", first, "index.html") }, &index),
						),
					},
					{
						PreConfig: setIndex(t, src, "<h1>v2</h1>\n"),
						Config:    config,
						Check: resource.ComposeTestCheckFunc(
							checkCurrentIs(app, src),
							func(s *terraform.State) error {
								id, err := currentRelease(app)
								if err != nil || id == first {
									return fmt.Errorf("current -> %q (%w), want a second release", id, err)
								}
								return sameInode(filepath.Join(app, "releases", id, "assets", "big.bin"), &big)(s)
							},
						),
					},
					{
						PreConfig: setIndex(t, src, "<h1>hello</h1>\n"),
						Config:    config,
						Check: resource.ComposeTestCheckFunc(
							checkCurrentIs(app, src),
							func(s *terraform.State) error {
								if id, _ := currentRelease(app); id != first {
									return fmt.Errorf("current -> %s, want the first release %s", id, first)
								}
								return sameInode(filepath.Join(app, "releases", first, "index.html"), &index)(s)
							},
							resource.TestCheckResourceAttr(res, "releases.#", "2"),
						),
					},
				},
			})
		})
	}
}

// TestAccRelease_importAndMaxDelete: an app root with releases and a
// current link, imported into a new state, is taken over by the next apply
// without sending file data (the same content is the same release) and the
// plan after it is empty; lowering keep under a max_delete smaller than
// the files pruning would remove fails the plan, and the apply of a plan
// that allowed it when the release has grown since (the apply counts
// again) fails before anything changes; with a larger one it prunes.
func TestAccRelease_importAndMaxDelete(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	app := filepath.Join(t.TempDir(), "app")
	dest := remoteDest(srv, app+"/")
	config := func(extra string) string {
		return releaseDir(srv, nil, src, dest, "    keep = 3"+extra, nil)
	}
	first := newTFRunner(t, config(""))
	first.run(0, "apply", "-auto-approve")
	writeFile(t, filepath.Join(src, "index.html"), "<h1>v2</h1>\n")
	first.run(0, "apply", "-auto-approve")
	cur, err := currentRelease(app)
	if err != nil {
		t.Fatal(err)
	}

	r := newTFRunner(t, config(""))
	r.run(0, "import", res, dest)
	if out := r.run(2, "plan", "-detailed-exitcode"); !words(`current_release = … "` + cur + `"`).MatchString(out) {
		t.Errorf("the plan after the import does not name the current release %s:\n%s", cur, out)
	}
	r.run(0, "apply", "-auto-approve")
	out := r.run(0, "state", "show", res)
	for _, want := range []string{`current_release = "` + cur + `"`, "literal_bytes     = 0", "files_transferred = 0"} {
		if !words(want).MatchString(out) {
			t.Errorf("after the import's apply the state lacks %q:\n%s", want, out)
		}
	}
	if id, _ := currentRelease(app); id != cur {
		t.Errorf("current -> %s after the import's apply, want %s", id, cur)
	}
	r.run(0, "plan", "-detailed-exitcode")

	// keep = 1 would remove the first release: 5 files and directories.
	writeConfig := func(keep, maxDelete int) {
		t.Helper()
		hcl := releaseDir(srv, nil, src, dest, fmt.Sprintf("    keep = %d", keep), map[string]string{"max_delete": fmt.Sprint(maxDelete)})
		if err := os.WriteFile(filepath.Join(r.dir, "main.tf"), []byte(hcl), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(1, 2)
	refused := r.exec(time.Minute, "plan")
	if refused.code == 0 || !words(`Too many deletions … would delete 5 files and directories, more than max_delete = 2 allows, so the plan stops here`).MatchString(refused.output()) {
		t.Fatalf("plan of keep = 1 under max_delete = 2: exit %d\n%s", refused.code, refused.output())
	}
	// The apply counts again: a plan made under a limit that allowed it,
	// applied after the release to remove has grown, is refused.
	writeConfig(1, 5)
	r.run(0, "plan", "-out=tfplan")
	for _, id := range mustReleases(app) {
		if id != cur {
			writeFile(t, filepath.Join(app, "releases", id, "late.txt"), "x")
		}
	}
	refused = r.exec(time.Minute, "apply", "tfplan")
	if refused.code == 0 || !words(`Too many deletions … would delete 6 files and directories, more than max_delete = 5 allows`).MatchString(refused.output()) {
		t.Fatalf("apply of keep = 1 under max_delete = 5 with 6 files: exit %d\n%s", refused.code, refused.output())
	}
	if got := mustReleases(app); len(got) != 2 {
		t.Fatalf("the refused apply changed the releases: %q", got)
	}
	writeConfig(1, 100)
	r.run(0, "apply", "-auto-approve")
	if got := mustReleases(app); fmt.Sprint(got) != fmt.Sprint([]string{cur}) {
		t.Errorf("after keep = 1: releases %q, want only %s", got, cur)
	}
	r.run(0, "plan", "-detailed-exitcode")
}

// TestAccRelease_privilegePrefix: with rsync_path = "setpriv ... rsync"
// (standing for "sudo rsync": a prefix that makes the remote side another
// user), everything in the app root — the releases directory, the
// release, the link, the history — is made by that user: the app root's
// commands run with the same prefix as rsync.
func TestAccRelease_privilegePrefix(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	app := filepath.Join(t.TempDir(), "app")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	openPath(t, filepath.Join(app, "x"))
	if err := os.Chown(app, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	config := releaseDir(srv, map[string]string{"rsync_path": `"setpriv --reuid=65534 --regid=65534 --clear-groups rsync"`},
		src, remoteDest(srv, app+"/"), "", nil)
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{{
			Config: config,
			Check: resource.ComposeTestCheckFunc(
				checkCurrentIs(app, src),
				func(*terraform.State) error {
					id, err := currentRelease(app)
					if err != nil {
						return err
					}
					return owners(app, 65534, 65534, "releases", "releases/"+id, "releases/"+id+"/index.html", "current", "releases/.history")
				},
			),
		}},
	})
}
