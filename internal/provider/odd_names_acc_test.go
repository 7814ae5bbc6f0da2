//go:build unix

package provider

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// TestAccDirectory_oddNames: file names with a newline, a tab, bytes that
// are not UTF-8 (Latin-1 and stray bytes) and a leading quote are pushed
// byte for byte, read back by drift detection, and shown in pending —
// where Terraform needs valid UTF-8 — quoted with Go escapes; an edit of
// such a file on the server is drift and is put back; a server-only file
// with a newline in its name is planned for deletion and deleted.
func TestAccDirectory_oddNames(t *testing.T) {
	srv := accSetup(t)
	const (
		newline = "two\nlines.txt"
		badUTF8 = "bad\xff\xfe.bin"
		latin1  = "caf\xe9"
		tab     = "tab\there.txt"
		quoted  = `"quoted".txt`
		utf8OK  = "café ü.txt"
	)
	src := newSource(t)
	testtree.Write(t, src, []testtree.Entry{
		{Path: newline, Mode: 0o644, Content: []byte("newline\n")},
		{Path: badUTF8, Mode: 0o644, Content: []byte{0, 1, 2, 0xff}},
		{Path: latin1, Dir: true, Mode: 0o755},
		{Path: latin1 + "/menu.txt", Mode: 0o644, Content: []byte("crêpes\n")},
		{Path: tab, Mode: 0o644, Content: []byte("tab\n")},
		{Path: quoted, Mode: 0o644, Content: []byte("quoted\n")},
		{Path: utf8OK, Mode: 0o644, Content: []byte("utf-8\n")},
	})
	settleDirs(t, src)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "delete": "true",
	})
	q := strconv.Quote
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					hashesEqual(),
					// rsync's order: files before directories, bytes compared.
					statecheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(
						[]string{q(quoted), q(badUTF8), utf8OK, q(tab), q(newline), q(latin1 + "/"), q(latin1 + "/menu.txt")},
						nil, nil)),
				},
				Check: checkTreesEqual(src, dst),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				PreConfig: func() {
					p := filepath.Join(dst, badUTF8)
					if err := os.WriteFile(p, []byte("edited on the server"), 0o644); err != nil {
						t.Fatal(err)
					}
					writeFile(t, filepath.Join(dst, "extra\nfile"), "only on the server\n")
					settleDirs(t, dst)
					old := time.Now().Add(-48 * time.Hour)
					_ = os.Chtimes(p, old, old)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{q(badUTF8)}, []string{q("extra\nfile")})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check:             checkTreesEqual(src, dst),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}
