//go:build unix

package provider

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccDirectory_protocol29: a server that speaks rsync protocol 29 (as
// macOS's openrsync and rsync 2.6.9 do; here the stock rsync forced down
// with rsync_path) gets the push, shows a server edit as drift by content
// (md4 sums computed on the server), is repaired, and then plans nothing.
func TestAccDirectory_protocol29(t *testing.T) {
	srv := accSetup(t)
	src := smallTree(t)
	dst := t.TempDir()
	config := providerConfig(srv, map[string]string{"rsync_path": `"rsync --protocol=29"`}) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst)), "delete": "true",
	})
	md4Hash := knownvalue.StringRegexp(regexp.MustCompile(`^md4:[0-9a-f]{32}$`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue(res, tfjsonpath.New("destination_hash"), md4Hash)},
				Check:             checkTreesEqual(src, dst),
			},
			// The create plan could not know the server's digest; the next
			// plan hashes the source with md4 and has nothing to do.
			{Config: config, PlanOnly: true},
			{
				PreConfig: func() {
					writeFile(t, filepath.Join(dst, "index.html"), "<h1>defaced</h1>\n")
					writeFile(t, filepath.Join(dst, "stray.txt"), "only on the server\n")
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					expectDrift{res, "destination_hash", true},
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"), pendingIs(nil, []string{"index.html"}, []string{"stray.txt"})),
				}},
			},
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{hashesEqual()},
				Check:             checkTreesEqual(src, dst),
			},
			{Config: config, PlanOnly: true},
		},
	})
}
