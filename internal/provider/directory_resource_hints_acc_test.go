package provider

// Acceptance test: the hint under a failure fits its side (this machine or
// the remote host) and its cause (reading or writing).

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccDirectory_hintsFitTheSide: a pull or local copy that cannot
// write its local destination says the failure is on this machine and
// what Terraform's user must be allowed to do — not "check that rsync is
// installed on the remote host", which a pull said before; a pulled source
// missing on the server says to check that the SSH user may read it there,
// not that it must be writable.
func TestAccDirectory_hintsFitTheSide(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	notDir := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(notDir, []byte("in the way\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, source, destination, want string
	}{
		{
			"pull into a file", remoteDest(srv, src+"/"), notDir,
			"Pull failed … " + notDir + " … This failed on this machine (the one running Terraform), not on the remote host … " +
				"the user running Terraform may create and write files in it",
		},
		{
			"local copy into a file", src + "/", notDir,
			"Copy failed … " + notDir + " … This failed on this machine … the user running Terraform may create and write files in it",
		},
		{
			"pull of a missing source", remoteDest(srv, filepath.Join(src, "missing")+"/"), filepath.Join(t.TempDir(), "copy"),
			"Cannot read the source … on the remote host … the SSH user may read it",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				Steps: []resource.TestStep{{
					Config: providerConfig(srv, nil) + rsyncDir("test", map[string]string{
						"source": hclString(tc.source), "destination": hclString(tc.destination),
					}),
					ExpectError: words(tc.want),
				}},
			})
		})
	}
}
