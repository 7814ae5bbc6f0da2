package provider

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccManifest describes the same tree locally and remotely, and checks
// that both hashes equal rsync_directory's source_hash for it.
func TestAccManifest(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	writeFile(t, filepath.Join(src, "skip.tmp"), "excluded\n")
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)), "exclude": `["*.tmp"]`,
	}) + `
data "rsync_manifest" "local" {
  path    = ` + hclString(src+"/") + `
  exclude = ["*.tmp"]
}

data "rsync_manifest" "remote" {
  path = ` + hclString(remoteDest(srv, dst+"/")) + `
  depends_on = [rsync_directory.test]
}

data "rsync_manifest" "meta" {
  path = ` + hclString(src) + `
  mode = "metadata"
}
`
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.rsync_manifest.local", tfjsonpath.New("file_count"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("data.rsync_manifest.local", tfjsonpath.New("total_bytes"), knownvalue.Int64Exact(15+19)),
					statecheck.ExpectKnownValue("data.rsync_manifest.local", tfjsonpath.New("hash"), xxh128Hash),
					statecheck.CompareValuePairs("data.rsync_manifest.local", tfjsonpath.New("hash"), res, tfjsonpath.New("source_hash"), compare.ValuesSame()),
					statecheck.CompareValuePairs("data.rsync_manifest.remote", tfjsonpath.New("hash"), res, tfjsonpath.New("source_hash"), compare.ValuesSame()),
					statecheck.ExpectKnownValue("data.rsync_manifest.meta", tfjsonpath.New("file_count"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue("data.rsync_manifest.meta", tfjsonpath.New("hash"), knownvalue.StringRegexp(metaHash)),
				},
			},
		},
	})
}

func TestAccManifest_missingPath(t *testing.T) {
	srv := accSetup(t)
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config: providerConfig(srv, nil) + `
data "rsync_manifest" "x" {
  path = ` + hclString(filepath.Join(t.TempDir(), "nope")+"/") + `
}
`,
				ExpectError: words("Path not found … does not exist"),
			},
		},
	})
}
