//go:build unix

package provider

// Issue 18: the plan knows the cost. pending.transfer_bytes and
// pending.matched_bytes come from the server's own block signatures, the
// apply sends exactly what the plan said, and no plan writes anything on
// the server.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// recordInt is a knownvalue check that keeps the planned number for a
// later check and holds it to cond.
type recordInt struct {
	into *int64
	cond func(int64) error
}

func (r recordInt) CheckValue(v any) error {
	n, ok := v.(json.Number)
	if !ok {
		return fmt.Errorf("expected a number, got %T %v", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		return err
	}
	*r.into = i
	if r.cond != nil {
		return r.cond(i)
	}
	return nil
}

func (r recordInt) String() string { return "a recorded number" }

// equalsRecorded checks a number against one recorded earlier.
type equalsRecorded struct{ want *int64 }

func (e equalsRecorded) CheckValue(v any) error {
	n, ok := v.(json.Number)
	if !ok {
		return fmt.Errorf("expected a number, got %T %v", v, v)
	}
	if i, err := n.Int64(); err != nil || i != *e.want {
		return fmt.Errorf("%v, but the plan said %d", v, *e.want)
	}
	return nil
}

func (e equalsRecorded) String() string { return fmt.Sprint(*e.want) }

// snapshotUnchanged checks, after the plan, that dir is as PreConfig
// found it: names, types, modes, sizes, times and inodes.
type snapshotUnchanged struct {
	t      *testing.T
	dir    string
	before *string
}

func (s snapshotUnchanged) CheckPlan(_ context.Context, _ plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	if after := testtree.Snapshot(s.t, s.dir); after != *s.before {
		resp.Error = fmt.Errorf("the plan changed the destination:\nbefore:\n%s\nafter:\n%s", *s.before, after)
	}
}

func seededBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	rng.Read(b)
	return b
}

// writeAged writes a file whose time is an hour apart from any other copy.
func writeAged(t *testing.T, p string, data []byte, age time.Duration) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Now().Add(age).Truncate(time.Second)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatal(err)
	}
}

// flipByte changes the byte at off and moves the file's time.
func flipByte(t *testing.T, p string, off int64, age time.Duration) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 0xff
	writeAged(t, p, data, age)
}

// TestAccEstimate: against rsync 3.5.0 and 3.2.7 as the server, a create
// counts every file whole; a 20 MB file with one byte changed plans under
// 64 KiB; a file rewritten end to end counts its size, a new 1 MiB file
// 1 MiB, a file edited on the server (drift) the part that differs; every
// apply sends exactly the literal data its plan said; and no plan changes
// anything on the server (with creates, updates, a new directory and a
// deletion pending).
func TestAccEstimate(t *testing.T) {
	srv := accSetup(t)
	for _, v := range []struct{ name, rsyncPath string }{
		{"3.5.0", ""},
		{"3.2.7", hclString(shellQuote(sshtest.Rsync327(t)))},
	} {
		t.Run(v.name, func(t *testing.T) { estimateSteps(t, srv, v.rsyncPath) })
	}
}

// TestAccEstimate_oldProtocols: the same against servers forced down to
// protocol 29 and 27 (rsync 3.5.0 and 3.2.7): md4 block and file sums
// with the seed where those protocols put it, the old file-list and
// request encodings; the estimate is made and the apply sends what it
// said.
func TestAccEstimate_oldProtocols(t *testing.T) {
	srv := accSetup(t)
	r327 := shellQuote(sshtest.Rsync327(t))
	for _, v := range []struct{ name, rsyncPath string }{
		{"3.5.0-protocol29", hclString("rsync --protocol=29")},
		{"3.5.0-protocol27", hclString("rsync --protocol=27")},
		{"3.2.7-protocol29", hclString(r327 + " --protocol=29")},
		{"3.2.7-protocol27", hclString(r327 + " --protocol=27")},
	} {
		t.Run(v.name, func(t *testing.T) { estimateSteps(t, srv, v.rsyncPath) })
	}
}

func estimateSteps(t *testing.T, srv *sshtest.Server, rsyncPath string) {
	rng := rand.New(rand.NewSource(18))
	src := newSource(t)
	const bigSize, driftSize = 20_000_000, 2_000_000
	writeAged(t, filepath.Join(src, "big.bin"), seededBytes(rng, bigSize), -3*time.Hour)
	writeAged(t, filepath.Join(src, "rw.bin"), seededBytes(rng, 1<<20), -3*time.Hour)
	writeAged(t, filepath.Join(src, "drift.bin"), seededBytes(rng, driftSize), -3*time.Hour)
	writeAged(t, filepath.Join(src, "old.txt"), []byte("to be deleted\n"), -3*time.Hour)
	writeAged(t, filepath.Join(src, "sub", "a.txt"), []byte("a\n"), -3*time.Hour)
	settleDirs(t, src) // whole seconds: below protocol 31 times have no nanoseconds
	parent := t.TempDir()
	dst := filepath.Join(parent, "site")
	config := providerConfig(srv, map[string]string{"rsync_path": rsyncPath}) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")), "delete": "true",
	})
	var before string
	snap := func() { before = testtree.Snapshot(t, parent) }
	var planned int64
	transfer := tfjsonpath.New("pending").AtMapKey("transfer_bytes")
	matched := tfjsonpath.New("pending").AtMapKey("matched_bytes")
	bytesOf := func(p string) tfjsonpath.Path { return tfjsonpath.New("pending").AtMapKey("bytes").AtMapKey(p) }
	appliedAsPlanned := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(res, tfjsonpath.New("last_sync").AtMapKey("literal_bytes"), equalsRecorded{&planned}),
	}
	total := int64(bigSize + 1<<20 + driftSize + len("to be deleted\n") + len("a\n"))

	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{
				// A create: everything is new, counted whole.
				PreConfig: snap,
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					snapshotUnchanged{t, parent, &before},
					plancheck.ExpectKnownValue(res, transfer, recordInt{&planned, func(n int64) error {
						if n != total {
							return fmt.Errorf("%d, want every file whole: %d", n, total)
						}
						return nil
					}}),
					plancheck.ExpectKnownValue(res, matched, knownvalue.Int64Exact(0)),
					plancheck.ExpectKnownValue(res, bytesOf("big.bin"), knownvalue.StringExact("20.0 MB, all of it (new)")),
				}},
				ConfigStateChecks: appliedAsPlanned,
				Check:             checkTreesEqual(src, dst),
			},
			{
				// One byte of 20 MB, and a line put before the two bytes of
				// a file shorter than a block: the server's copy is then
				// the file's end, which the listing's digest tells
				// (oneBlockEstimates), and the apply sends the rest.
				PreConfig: func() {
					flipByte(t, filepath.Join(src, "big.bin"), bigSize/2, -2*time.Hour)
					writeAged(t, filepath.Join(src, "sub", "a.txt"), []byte("new line\na\n"), -2*time.Hour)
					settleDirs(t, src)
					snap()
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					snapshotUnchanged{t, parent, &before},
					plancheck.ExpectKnownValue(res, transfer, recordInt{&planned, func(n int64) error {
						if n <= 0 || n >= 64<<10 {
							return fmt.Errorf("%d bytes for one changed byte, want 1..64 KiB", n)
						}
						return nil
					}}),
					plancheck.ExpectKnownValue(res, bytesOf("big.bin"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9.]+ kB of 20\.0 MB$`))),
					plancheck.ExpectKnownValue(res, bytesOf("sub/a.txt"), knownvalue.StringExact("9 B of 11 B")),
				}},
				ConfigStateChecks: appliedAsPlanned,
				Check:             checkTreesEqual(src, dst),
			},
			{
				// Rewritten end to end, a new 1 MiB file in a new
				// directory, a deletion, and a file edited on the server.
				PreConfig: func() {
					writeAged(t, filepath.Join(src, "rw.bin"), seededBytes(rng, 1<<20), -time.Hour)
					writeAged(t, filepath.Join(src, "newdir", "new.bin"), seededBytes(rng, 1<<20), -time.Hour)
					if err := os.Remove(filepath.Join(src, "old.txt")); err != nil {
						t.Fatal(err)
					}
					flipByte(t, filepath.Join(dst, "drift.bin"), driftSize/3, time.Hour)
					settleDirs(t, src)
					snap()
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					snapshotUnchanged{t, parent, &before},
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending"),
						pendingIs([]string{"newdir/", "newdir/new.bin"}, []string{"drift.bin", "rw.bin"}, []string{"old.txt"})),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("drift"), driftIs("drift.bin")),
					plancheck.ExpectKnownValue(res, bytesOf("newdir/new.bin"), knownvalue.StringExact("1.0 MB, all of it (new)")),
					plancheck.ExpectKnownValue(res, bytesOf("rw.bin"), knownvalue.StringExact("1.0 MB of 1.0 MB")),
					plancheck.ExpectKnownValue(res, bytesOf("drift.bin"),
						knownvalue.StringRegexp(regexp.MustCompile(`^[0-9.]+ kB of 2\.0 MB \(changed on the server\)$`))),
					plancheck.ExpectKnownValue(res, transfer, recordInt{&planned, func(n int64) error {
						if n <= 2<<20 || n >= 2<<20+64<<10 {
							return fmt.Errorf("%d, want 2 MiB (the new and the rewritten file) and a block or two of drift.bin", n)
						}
						return nil
					}}),
				}},
				ConfigStateChecks: appliedAsPlanned,
				Check:             checkTreesEqual(src, dst),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// TestAccEstimate_notMade: a server that refuses --only-write-batch, and
// estimate_transfer = false, and a changed set larger than
// estimate_max_bytes: the plan still succeeds, transfer_bytes is null,
// and the apply syncs.
func TestAccEstimate_notMade(t *testing.T) {
	srv := accSetup(t)
	rng := rand.New(rand.NewSource(18))
	src := newSource(t)
	writeAged(t, filepath.Join(src, "f.bin"), seededBytes(rng, 100_000), -3*time.Hour)
	dst := t.TempDir()
	// A remote rsync that refuses the option, as an rsync without it (or
	// a restricted one) would: syntax error, exit 1.
	refusing := filepath.Join(t.TempDir(), "rsync-refusing")
	if err := os.WriteFile(refusing, []byte("#!/bin/sh\ncase \"$*\" in *--only-write-batch*) echo 'rsync: --only-write-batch=X: unknown option' >&2; exit 1;; esac\nexec rsync \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := func(rsyncPath string, extra map[string]string) string {
		attrs := map[string]string{"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/"))}
		for k, v := range extra {
			attrs[k] = v
		}
		return providerConfig(srv, map[string]string{"rsync_path": rsyncPath}) + rsyncDir("test", attrs)
	}
	edit := func(age time.Duration) func() {
		return func() { flipByte(t, filepath.Join(src, "f.bin"), 50_000, age) }
	}
	transfer := tfjsonpath.New("pending").AtMapKey("transfer_bytes")
	notMade := []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
		plancheck.ExpectKnownValue(res, transfer, knownvalue.Null()),
		plancheck.ExpectKnownValue(res, tfjsonpath.New("pending").AtMapKey("bytes"), knownvalue.Null()),
	}
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: cfg("", nil)},
			{
				PreConfig:        edit(-2 * time.Hour),
				Config:           cfg(hclString(refusing), nil),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: notMade},
				Check:            checkTreesEqual(src, dst),
			},
			{
				PreConfig:        edit(-time.Hour),
				Config:           cfg("", map[string]string{"estimate_transfer": "false"}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: notMade},
				Check:            checkTreesEqual(src, dst),
			},
			{
				PreConfig:        edit(time.Hour),
				Config:           cfg("", map[string]string{"estimate_max_bytes": "50000"}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: notMade},
				Check:            checkTreesEqual(src, dst),
			},
			{
				// Within the bound again: the estimate is back.
				PreConfig: edit(2 * time.Hour),
				Config:    cfg("", map[string]string{"estimate_max_bytes": "200000"}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, transfer, knownvalue.Int64Func(func(n int64) error {
						if n <= 0 || n > 2*1000 {
							return fmt.Errorf("%d, want a block of f.bin", n)
						}
						return nil
					})),
				}},
				Check: checkTreesEqual(src, dst),
			},
		},
	})
}

// TestAccEstimate_readOnlyDestination: a destination on a read-only file
// system still plans, with its estimate (the server writes nothing to
// make it); the apply then fails as it must, and succeeds once the file
// system is writable again.
func TestAccEstimate_readOnlyDestination(t *testing.T) {
	srv := accSetup(t)
	rng := rand.New(rand.NewSource(18))
	src := newSource(t)
	writeAged(t, filepath.Join(src, "f.bin"), seededBytes(rng, 200_000), -3*time.Hour)
	dst := mountTmpfs(t, "4m")
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/")),
	})
	var before string
	planned := false // the plan succeeded and was checked; the apply is what fails
	accTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories(),
		Steps: []resource.TestStep{
			{Config: config, Check: checkTreesEqual(src, dst)},
			{
				PreConfig: func() {
					flipByte(t, filepath.Join(src, "f.bin"), 100_000, -2*time.Hour)
					remount(t, dst, "ro")
					before = testtree.Snapshot(t, dst)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					snapshotUnchanged{t, dst, &before},
					plancheck.ExpectKnownValue(res, tfjsonpath.New("pending").AtMapKey("transfer_bytes"), knownvalue.Int64Func(func(n int64) error {
						if n <= 0 || n > 2*1000 {
							return fmt.Errorf("%d, want a block or two of f.bin", n)
						}
						planned = true
						return nil
					})),
				}},
				ExpectError: regexp.MustCompile(`(?i)read-only`),
			},
			{
				PreConfig: func() {
					if !planned {
						t.Fatal("the plan against the read-only destination did not get to its checks")
					}
					remount(t, dst, "rw")
				},
				Config: config,
				Check:  checkTreesEqual(src, dst),
			},
		},
	})
}
