package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// checkTreesEqual compares the pushed tree with Go code and with the stock
// rsync's checksum dry run.
func checkTreesEqual(src, dst string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if err := testtree.Compare(src, dst); err != nil {
			return err
		}
		out, err := testtree.RsyncDiff(src, dst)
		if err != nil {
			return err
		}
		if out != "" {
			return fmt.Errorf("rsync -rlptnic %s/ %s/ would still change:\n%s", src, dst, out)
		}
		return nil
	}
}

// newSource makes an empty source directory "src" in a fresh temp dir.
func newSource(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	return src
}

// TestAccDirectory_richTree pushes a tree with every kind of entry the
// walking skeleton supports, checks the remote copy is exact, that the next
// plan is empty, and that a destination deleted behind Terraform's back is
// planned for creation again and pushed anew.
func TestAccDirectory_richTree(t *testing.T) {
	srv := accSetup(t)
	src := newSource(t)
	testtree.Write(t, src, testtree.Rich())
	dst := filepath.Join(t.TempDir(), "srv", "site") // "srv" exists, "site" not yet
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	dest := remoteDest(srv, dst+"/")
	config := directoryConfig(providerConfig(srv, nil), src+"/", dest)

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("rsync_directory.test", tfjsonpath.New("id"), knownvalue.StringExact(dest)),
					statecheck.ExpectKnownValue("rsync_directory.test", tfjsonpath.New("source"), knownvalue.StringExact(src+"/")),
					statecheck.ExpectKnownValue("rsync_directory.test", tfjsonpath.New("destination"), knownvalue.StringExact(dest)),
				},
				Check: checkTreesEqual(src, dst),
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkTreesEqual(src, dst),
			},
			{
				PreConfig: func() {
					if err := os.RemoveAll(dst); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("rsync_directory.test", plancheck.ResourceActionCreate),
					},
				},
				Check: checkTreesEqual(src, dst),
			},
		},
	})
}

// TestAccDirectory_directoryItself checks rsync's trailing-slash rule:
// source "dir" (no slash) lands as destination/dir.
func TestAccDirectory_directoryItself(t *testing.T) {
	srv := accSetup(t)
	src := newSource(t)
	testtree.Write(t, src, []testtree.Entry{
		{Path: "a.txt", Mode: 0o644, Content: []byte("a\n")},
		{Path: "sub", Dir: true, Mode: 0o755},
		{Path: "sub/b.txt", Mode: 0o600, Content: []byte("b\n")},
	})
	dst := t.TempDir()
	dest := remoteDest(srv, dst)

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: directoryConfig(providerConfig(srv, nil), src, dest),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("rsync_directory.test", tfjsonpath.New("id"), knownvalue.StringExact(dest)),
				},
				Check: checkTreesEqual(src, filepath.Join(dst, "src")),
			},
		},
	})
}

// TestAccDirectory_pinnedHostKey connects with host_key instead of a
// known_hosts file, and with the private key given as content.
func TestAccDirectory_pinnedHostKey(t *testing.T) {
	srv := accSetup(t)
	src := newSource(t)
	testtree.Write(t, src, []testtree.Entry{{Path: "x", Mode: 0o644, Content: []byte("x\n")}})
	dst := t.TempDir()
	p := providerConfig(srv, map[string]string{
		"known_hosts_file": "",
		"private_key_file": "",
		"private_key":      hclString(srv.ClientKeyPEM),
		"host_key":         hclString(srv.HostKeyAuthorized),
		"user":             hclString(srv.User),
	})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: directoryConfig(p, src+"/", fmt.Sprintf("%s:%s", srv.Host, dst)),
				Check:  checkTreesEqual(src, dst),
			},
		},
	})
}

// The failures below must each end in one diagnostic that says what to fix.

func TestAccDirectory_unknownHostKey(t *testing.T) {
	srv := accSetup(t)
	src := newSource(t)
	emptyKnownHosts := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(emptyKnownHosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := providerConfig(srv, map[string]string{"known_hosts_file": hclString(emptyKnownHosts)})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:      directoryConfig(p, src+"/", remoteDest(srv, t.TempDir())),
				ExpectError: words("SSH host key not trusted … is not in … Add it … set host_key"),
			},
		},
	})
}

func TestAccDirectory_wrongPrivateKey(t *testing.T) {
	srv := accSetup(t)
	src := newSource(t)
	other, err := sshtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "wrong_key")
	if err := os.WriteFile(keyFile, []byte(other.PEM), 0o600); err != nil {
		t.Fatal(err)
	}
	p := providerConfig(srv, map[string]string{"private_key_file": hclString(keyFile)})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:      directoryConfig(p, src+"/", remoteDest(srv, t.TempDir())),
				ExpectError: words("SSH authentication failed … offered: publickey private_key_file … wrong_key … authorized_keys"),
			},
		},
	})
}

func TestAccDirectory_missingSource(t *testing.T) {
	srv := accSetup(t)
	missing := filepath.Join(t.TempDir(), "no-such-dir") + "/"

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:      directoryConfig(providerConfig(srv, nil), missing, remoteDest(srv, t.TempDir())),
				PlanOnly:    true,
				ExpectError: words("Source not found … does not exist. Set source to an existing local directory"),
			},
		},
	})
}

// TestAccDirectory_sourceChange changes source in place: an update that
// pushes the new tree (a changed file, new entries) into the same
// destination.
func TestAccDirectory_sourceChange(t *testing.T) {
	srv := accSetup(t)
	src1, src2 := newSource(t), newSource(t)
	testtree.Write(t, src1, []testtree.Entry{{Path: "a.txt", Mode: 0o644, Content: []byte("first\n")}})
	testtree.Write(t, src2, []testtree.Entry{
		{Path: "a.txt", Mode: 0o600, Content: []byte("second, longer\n")},
		{Path: "d", Dir: true, Mode: 0o755},
		{Path: "d/n.txt", Mode: 0o640, Content: []byte("n\n")},
	})
	dst := t.TempDir()
	dest := remoteDest(srv, dst+"/")
	p := providerConfig(srv, nil)

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: directoryConfig(p, src1+"/", dest),
				Check:  checkTreesEqual(src1, dst),
			},
			{
				Config: directoryConfig(p, src2+"/", dest),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("rsync_directory.test", plancheck.ResourceActionUpdate),
					},
				},
				Check: checkTreesEqual(src2, dst),
			},
		},
	})
}

// TestAccDirectory_rsyncPath runs another remote rsync through rsync_path:
// Debian bookworm's release rsync 3.2.7, unpacked beside the system one.
func TestAccDirectory_rsyncPath(t *testing.T) {
	srv := accSetup(t)
	rsync327 := sshtest.Rsync327(t)
	src := newSource(t)
	testtree.Write(t, src, testtree.Rich()[:8])
	dst := t.TempDir()
	p := providerConfig(srv, map[string]string{"rsync_path": hclString(shellQuote(rsync327))})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: directoryConfig(p, src+"/", remoteDest(srv, dst)),
				Check:  checkTreesEqual(src, dst),
			},
		},
	})
}

func TestAccDirectory_rsyncPathNotFound(t *testing.T) {
	srv := accSetup(t)
	src := newSource(t)
	p := providerConfig(srv, map[string]string{"rsync_path": `"/nonexistent/rsync"`})

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:      directoryConfig(p, src+"/", remoteDest(srv, t.TempDir())),
				ExpectError: words(`rsync does not run on the destination host … /nonexistent/rsync … Install rsync on the remote host, or set the provider's rsync_path`),
			},
		},
	})
}
