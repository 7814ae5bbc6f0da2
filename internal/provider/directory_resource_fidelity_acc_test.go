//go:build unix

package provider

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"golang.org/x/sys/unix"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// fidelityDirections are the three ways a tree moves: the test's source
// and destination directories are both on this machine; the sshd makes
// one of them remote.
var fidelityDirections = []string{"push", "pull", "local"}

// fidelityEnds are the source and destination attributes for direction.
func fidelityEnds(srv *sshtest.Server, direction, src, dst string) map[string]string {
	s, d := src+"/", dst+"/"
	switch direction {
	case "push":
		d = remoteDest(srv, d)
	case "pull":
		s = remoteDest(srv, s)
	}
	return map[string]string{"source": hclString(s), "destination": hclString(d)}
}

func fidelityTestConfig(srv *sshtest.Server, direction, src, dst string, attrs map[string]string) string {
	all := fidelityEnds(srv, direction, src, dst)
	for k, v := range attrs {
		all[k] = v
	}
	return providerConfig(srv, nil) + rsyncDir("test", all)
}

func settledPlan() resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
}

func planUpdates(create, update []string) resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
		plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(create, update, nil)),
	}}
}

func mknod(t *testing.T, p string, mode uint32, major, minor uint32) {
	t.Helper()
	if err := unix.Mknod(p, mode, int(unix.Mkdev(major, minor))); err != nil { //nolint:gosec // G115: small test numbers
		t.Fatal(err)
	}
	if err := unix.Chmod(p, mode&0o7777); err != nil {
		t.Fatal(err)
	}
}

// nodeIs checks the type (and, for a device, the numbers) of p.
func nodeIs(p string, typ uint32, rdev uint64) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != typ || (rdev != 0 && uint64(st.Rdev) != rdev) { //nolint:unconvert // int32 on some platforms
		return fmt.Errorf("%s: mode %o rdev %#x, want type %o rdev %#x", p, st.Mode, st.Rdev, typ, rdev)
	}
	return nil
}

// TestAccDirectory_devicesSpecials: -D, on by default. A fifo, a socket
// and a character device land as such, push, pull and local (the test
// runs as root, so devices are made); the next plan is empty; a fifo
// removed on the destination is drift and is put back. With
// specials = false the plan no longer counts the fifo and socket, and the
// apply leaves the ones on the destination alone.
func TestAccDirectory_devicesSpecials(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test makes device files and needs root; CI runs as root")
	}
	srv := accSetup(t)
	for _, direction := range fidelityDirections {
		t.Run(direction, func(t *testing.T) {
			src := newSource(t)
			writeFile(t, filepath.Join(src, "index.html"), "<h1>hi</h1>\n")
			mknod(t, filepath.Join(src, "fifo"), unix.S_IFIFO|0o640, 0, 0)
			mknod(t, filepath.Join(src, "sock"), unix.S_IFSOCK|0o600, 0, 0)
			mknod(t, filepath.Join(src, "null"), unix.S_IFCHR|0o666, 1, 3)
			settleDirTime(t, src)
			dst := filepath.Join(t.TempDir(), "dst")
			config := func(extra map[string]string) string {
				attrs := map[string]string{"delete": "true"}
				for k, v := range extra {
					attrs[k] = v
				}
				return fidelityTestConfig(srv, direction, src, dst, attrs)
			}
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				Steps: []resource.TestStep{
					{
						Config:            config(nil),
						ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
						Check: func(*terraform.State) error {
							for _, c := range []struct {
								p    string
								typ  uint32
								rdev uint64
							}{{"fifo", unix.S_IFIFO, 0}, {"sock", unix.S_IFSOCK, 0}, {"null", unix.S_IFCHR, unix.Mkdev(1, 3)}} {
								if err := nodeIs(filepath.Join(dst, c.p), c.typ, c.rdev); err != nil {
									return err
								}
							}
							return modes(dst, map[string]os.FileMode{"fifo": 0o640, "sock": 0o600})
						},
					},
					{Config: config(nil), ConfigPlanChecks: settledPlan()},
					{
						PreConfig: func() {
							if err := os.Remove(filepath.Join(dst, "fifo")); err != nil {
								t.Fatal(err)
							}
						},
						Config:           config(nil),
						ConfigPlanChecks: planUpdates([]string{"fifo"}, nil),
						Check: func(*terraform.State) error {
							return nodeIs(filepath.Join(dst, "fifo"), unix.S_IFIFO, 0)
						},
					},
					{
						// Off: the source hash leaves fifo and sock out; the
						// destination's are neither replaced nor deleted.
						Config: config(map[string]string{"specials": "false"}),
						Check: func(*terraform.State) error {
							if err := nodeIs(filepath.Join(dst, "fifo"), unix.S_IFIFO, 0); err != nil {
								return err
							}
							return nodeIs(filepath.Join(dst, "sock"), unix.S_IFSOCK, 0)
						},
					},
					{Config: config(map[string]string{"specials": "false"}), ConfigPlanChecks: settledPlan()},
				},
			})
		})
	}
}

// TestAccDirectory_hardLinks: -H. Without it three names of one inode land
// as copies; turning it on plans the later names as updates and links
// them, push, pull and local; the next plan is empty; a link broken on
// the destination (a separate copy with the same content) is drift naming
// that path, and the apply links it again.
func TestAccDirectory_hardLinks(t *testing.T) {
	srv := accSetup(t)
	for _, direction := range fidelityDirections {
		t.Run(direction, func(t *testing.T) {
			src := newSource(t)
			writeFile(t, filepath.Join(src, "a.bin"), "shared data\n")
			writeFile(t, filepath.Join(src, "other.txt"), "alone\n")
			for _, l := range []string{"b.bin", "d/c.bin"} {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(src, l)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Link(filepath.Join(src, "a.bin"), filepath.Join(src, l)); err != nil {
					t.Fatal(err)
				}
			}
			settleDirTime(t, filepath.Join(src, "d"))
			settleDirTime(t, src)
			dst := filepath.Join(t.TempDir(), "dst")
			// max_delete: each apply runs a dry run first, which must take
			// the links too.
			config := fidelityTestConfig(srv, direction, src, dst, map[string]string{"hard_links": "true", "delete": "true", "max_delete": "5"})
			copies := fidelityTestConfig(srv, direction, src, dst, map[string]string{"delete": "true", "max_delete": "5"})
			linked := func(*terraform.State) error {
				a, err := os.Lstat(filepath.Join(dst, "a.bin"))
				if err != nil {
					return err
				}
				for _, l := range []string{"b.bin", "d/c.bin"} {
					fi, err := os.Lstat(filepath.Join(dst, l))
					if err != nil {
						return err
					}
					if !os.SameFile(a, fi) {
						return fmt.Errorf("%s is not a hard link of a.bin", l)
					}
				}
				return nil
			}
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				Steps: []resource.TestStep{
					// Without -H: three copies; the plan after is empty.
					{Config: copies, Check: func(s *terraform.State) error {
						if linked(s) == nil {
							return fmt.Errorf("the names were linked without hard_links")
						}
						return nil
					}},
					{Config: copies, ConfigPlanChecks: settledPlan()},
					// Turning it on plans the later names as updates and links them.
					{
						Config:            config,
						ConfigPlanChecks:  planUpdates(nil, []string{"b.bin", "d/c.bin"}),
						ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
						Check:             linked,
					},
					{Config: config, ConfigPlanChecks: settledPlan()},
					{
						PreConfig: func() {
							p := filepath.Join(dst, "b.bin")
							fi, err := os.Lstat(p)
							if err != nil {
								t.Fatal(err)
							}
							if err := os.Remove(p); err != nil {
								t.Fatal(err)
							}
							if err := os.WriteFile(p, []byte("shared data\n"), 0o644); err != nil {
								t.Fatal(err)
							}
							if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
								t.Fatal(err)
							}
						},
						Config:            config,
						ConfigPlanChecks:  planUpdates(nil, []string{"b.bin"}),
						ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
						Check:             linked,
					},
					{Config: config, ConfigPlanChecks: settledPlan()},
				},
			})
		})
	}
}

// TestAccDirectory_sparse: -S. A 16 MiB file holding 200 KB of data lands
// with the same content and under 1 MiB allocated, push, pull and local;
// the next plan is empty.
func TestAccDirectory_sparse(t *testing.T) {
	srv := accSetup(t)
	data := make([]byte, 16<<20)
	copy(data[4096:], bytes.Repeat([]byte("data"), 50000))
	for _, direction := range fidelityDirections {
		t.Run(direction, func(t *testing.T) {
			src := newSource(t)
			writeFile(t, filepath.Join(src, "disk.img"), string(data))
			dst := filepath.Join(t.TempDir(), "dst")
			config := fidelityTestConfig(srv, direction, src, dst, map[string]string{"sparse": "true"})
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				Steps: []resource.TestStep{
					{
						Config:            config,
						ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
						Check: func(*terraform.State) error {
							p := filepath.Join(dst, "disk.img")
							got, err := os.ReadFile(p)
							if err != nil {
								return err
							}
							if !bytes.Equal(got, data) {
								return fmt.Errorf("%s: content differs", p)
							}
							var st unix.Stat_t
							if err := unix.Stat(p, &st); err != nil {
								return err
							}
							if st.Blocks*512 > 1<<20 {
								return fmt.Errorf("%d bytes allocated for 200 KB of data", st.Blocks*512)
							}
							return nil
						},
					},
					{Config: config, ConfigPlanChecks: settledPlan()},
				},
			})
		})
	}
}

// TestAccDirectory_backupDir: backup_dir inside the destination with
// delete = true. An update and a deletion keep the old versions there,
// push, pull and local; the backups are not drift (the next plan is
// empty) and a later apply with deletions keeps them.
func TestAccDirectory_backupDir(t *testing.T) {
	srv := accSetup(t)
	for _, direction := range fidelityDirections {
		t.Run(direction, func(t *testing.T) {
			src := newSource(t)
			writeFile(t, filepath.Join(src, "index.html"), "version 1\n")
			writeFile(t, filepath.Join(src, "old.html"), "to be deleted\n")
			dst := filepath.Join(t.TempDir(), "dst")
			config := fidelityTestConfig(srv, direction, src, dst, map[string]string{"delete": "true", "backup_dir": `".backup"`})
			backups := func(want map[string]string) func(*terraform.State) error {
				return func(*terraform.State) error {
					for p, body := range want {
						b, err := os.ReadFile(filepath.Join(dst, ".backup", p))
						if err != nil {
							return fmt.Errorf("backup of %s: %w", p, err)
						}
						if string(b) != body {
							return fmt.Errorf("backup of %s: %q, want %q", p, b, body)
						}
					}
					return nil
				}
			}
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				Steps: []resource.TestStep{
					{Config: config},
					{
						PreConfig: func() {
							writeFile(t, filepath.Join(src, "index.html"), "version 2\n")
							if err := os.Remove(filepath.Join(src, "old.html")); err != nil {
								t.Fatal(err)
							}
						},
						Config: config,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"index.html"}, []string{"old.html"})),
						}},
						Check: backups(map[string]string{"index.html": "version 1\n", "old.html": "to be deleted\n"}),
					},
					{Config: config, ConfigPlanChecks: settledPlan()},
					{
						PreConfig: func() { writeFile(t, filepath.Join(src, "index.html"), "version 3\n") },
						Config:    config,
						Check:     backups(map[string]string{"index.html": "version 2\n", "old.html": "to be deleted\n"}),
					},
				},
			})
		})
	}
}

// TestAccDirectory_bwlimit: bwlimit = 128 (KiB/s) holds a push of 384 KiB
// of incompressible data to at least the time the rate allows, and it
// lands intact.
func TestAccDirectory_bwlimit(t *testing.T) {
	srv := accSetup(t)
	for _, direction := range fidelityDirections {
		t.Run(direction, func(t *testing.T) {
			src := newSource(t)
			data := make([]byte, 384<<10)
			for i := range data {
				data[i] = byte(i*7919 + i>>9)
			}
			writeFile(t, filepath.Join(src, "blob"), string(data))
			dst := filepath.Join(t.TempDir(), "dst")
			var start time.Time
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				Steps: []resource.TestStep{{
					PreConfig: func() { start = time.Now() },
					Config:    fidelityTestConfig(srv, direction, src, dst, map[string]string{"bwlimit": "128"}),
					Check: func(*terraform.State) error {
						took := time.Since(start)
						if minimum := time.Duration(float64(len(data)-16<<10) / (128 << 10) * float64(time.Second)); took < minimum {
							return fmt.Errorf("384 KiB at 128 KiB/s took %v, less than %v", took, minimum)
						}
						got, err := os.ReadFile(filepath.Join(dst, "blob"))
						if err != nil {
							return err
						}
						if !bytes.Equal(got, data) {
							return fmt.Errorf("blob: content differs")
						}
						return nil
					},
				}},
			})
		})
	}
}

// TestAccDirectory_destinationFifoPlanned: with delete = true, a fifo
// that exists only on the destination is in the plan's pending.delete
// (and counts toward max_delete) before the apply deletes it — with
// specials = false too, since rsync deletes extraneous files of every
// kind; then the plan is empty.
func TestAccDirectory_destinationFifoPlanned(t *testing.T) {
	srv := accSetup(t)
	src := newSource(t)
	writeFile(t, filepath.Join(src, "index.html"), "hi\n")
	dst := filepath.Join(t.TempDir(), "dst")
	config := func(specials string) string {
		return fidelityTestConfig(srv, "push", src, dst, map[string]string{"delete": "true", "max_delete": "1", "specials": specials})
	}
	stray := filepath.Join(dst, "stray.fifo")
	gone := func(*terraform.State) error {
		if _, err := os.Lstat(stray); err == nil {
			return fmt.Errorf("stray.fifo was not deleted")
		}
		return nil
	}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: config("true")},
			{
				PreConfig: func() { mknod(t, stray, unix.S_IFIFO|0o644, 0, 0) },
				Config:    config("true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, nil, []string{"stray.fifo"})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check:             gone,
			},
			{
				PreConfig: func() {
					mknod(t, stray, unix.S_IFIFO|0o644, 0, 0)
					writeFile(t, filepath.Join(src, "index.html"), "hello\n")
				},
				Config: config("false"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"index.html"}, []string{"stray.fifo"})),
				}},
				Check: gone,
			},
			{Config: config("false"), ConfigPlanChecks: settledPlan()},
		},
	})
}

// TestAccDirectory_skippedSpecialsWarning: a source fifo left out by
// specials = false is reported as skipped because of that setting, not as
// an unreadable part of the source; with the default it is copied and
// nothing is said.
func TestAccDirectory_skippedSpecialsWarning(t *testing.T) {
	accSetup(t)
	src := newSource(t)
	writeFile(t, filepath.Join(src, "index.html"), "hi\n")
	mknod(t, filepath.Join(src, "fifo"), unix.S_IFIFO|0o644, 0, 0)
	dst := filepath.Join(t.TempDir(), "dst")
	for _, tc := range []struct {
		specials string
		want     []string
	}{
		{"false", []string{"Special files skipped (specials = false)", `skipping fifo "fifo": specials is false`}},
		{"null", nil},
	} {
		config := rsyncDir("test", map[string]string{
			"source": hclString(src + "/"), "destination": hclString(dst + "/"), "specials": tc.specials,
		})
		out := newTFRunner(t, config).run(0, "plan", "-input=false")
		for _, w := range tc.want {
			if !bytes.Contains([]byte(out), []byte(w)) {
				t.Errorf("specials = %s: the plan does not say %q:\n%s", tc.specials, w, out)
			}
		}
		for _, bad := range []string{"partly unreadable", "non-regular"} {
			if bytes.Contains([]byte(out), []byte(bad)) {
				t.Errorf("specials = %s: the plan says %q:\n%s", tc.specials, bad, out)
			}
		}
		if tc.want == nil && bytes.Contains([]byte(out), []byte("skipping")) {
			t.Errorf("specials = %s: the plan warns of a skip:\n%s", tc.specials, out)
		}
	}
}
