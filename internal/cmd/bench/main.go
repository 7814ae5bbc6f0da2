// Command bench is `make bench`: it runs our rsync engine and the rsync
// command line against the same throwaway sshd over a set of scenarios,
// and prints a Markdown table of medians and ratios (also written to -out).
// It exits 1 when a scenario fails or a regression threshold is exceeded,
// naming each.
//
// Every measured process starts through the small launcher binary
// "rusage" (internal/cmd/bench/rusage) when it sits beside this binary, as
// make bench builds them; otherwise through this binary's hidden __rusage
// subcommand, whose larger size raises the floor under measured peak RSS.
// Our engine runs in the small binary "enginechild"
// (internal/cmd/bench/enginechild) when it sits beside this binary, as
// make bench builds it; otherwise, and for profiled runs, in this binary's
// other hidden subcommand, __engine-push.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/bench"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/bench/rusage"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case bench.EngineCommand:
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			err := bench.EngineMain(ctx, os.Stdin, os.Stdout)
			stop()
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", bench.EngineCommand, err)
				os.Exit(1)
			}
			return
		case bench.RusageCommand:
			os.Exit(rusage.Main(os.Args[2:]))
		}
	}
	os.Exit(run())
}

func run() int {
	cfg := bench.Config{Log: os.Stderr}
	var (
		size, big, wanRate, only, out string
		hashSize, scale               string
		seed                          uint64
	)
	flag.IntVar(&cfg.Files, "files", 10000, "files in the web root")
	flag.StringVar(&size, "size", "400MB", "total size of the web root")
	flag.StringVar(&big, "big", "", "size of the big random file (default: a quarter of -size, 100MB at full size)")
	flag.Float64Var(&cfg.EditFrac, "edit", 0.01, "share of the web root's small files edited in the edit scenarios")
	flag.IntVar(&cfg.BigEdit, "big-edit", 31, "bytes overwritten in the middle of the big file")
	flag.IntVar(&cfg.TinyFiles, "tiny", 100000, "files in the tiny-files tree")
	flag.StringVar(&scale, "scale-files", "1000,300000", "comma-separated sizes of the scale scenarios' tiny-files trees, taken through terraform (e.g. 1000,300000,1000000; generating a million files takes minutes)")
	flag.IntVar(&cfg.FleetFiles, "fleet-files", 5000, "tiny files in the fleet scenarios' source")
	flag.IntVar(&cfg.FleetDests, "fleet-dests", 20, "destinations of the fleet scenarios (one rsync_directory each, for_each)")
	flag.StringVar(&hashSize, "hash-size", "", "size of the larger tree the hash-1g scenario hashes (default: 2.5 × -size, 1GB at full size; 0: no such scenario)")
	flag.IntVar(&cfg.HashFiles, "hash-files", 0, "files in that tree (default: 2.5 × -files)")
	flag.IntVar(&cfg.WANApplyRounds, "wan-apply-rounds", 0, "rounds of the WAN terraform scenarios, at most -rounds (0: -rounds; each round's four applies take ~2 min at full size)")
	flag.StringVar(&cfg.Terraform, "terraform", "terraform", "terraform binary for the terraform scenarios")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the destinations, usage records and terraform working directories at the end (the next run removes them)")
	flag.BoolVar(&cfg.TerraformLog, "terraform-log", false, "terraform runs write TF_LOG=debug logs into their working directories (kept when -keep is set; slows them: for finding where an apply spends its time)")
	flag.StringVar(&cfg.ProviderProfile, "provider-profile", "", "scale and fleet scenarios: build the provider with profiling and have each provider process terraform starts write a CPU profile and a peak-heap profile into a subdirectory of this directory")
	flag.StringVar(&cfg.ProviderSrc, "provider-src", ".", "module directory the provider binary is built from for the terraform scenarios")
	flag.IntVar(&cfg.Rounds, "rounds", 3, "rounds per scenario (medians are reported)")
	flag.Uint64Var(&seed, "seed", 1, "seed of the generated trees")
	flag.StringVar(&wanRate, "wan-rate", "100Mbit", "WAN link rate, each direction")
	flag.DurationVar(&cfg.WAN.Delay, "wan-delay", 10*time.Millisecond, "WAN one-way delay, each direction")
	flag.StringVar(&only, "scenarios", "", "comma-separated scenarios to run (default all: "+strings.Join(bench.ScenarioNames, ",")+")")
	flag.StringVar(&out, "out", "", "also write the Markdown report to this file")
	flag.StringVar(&cfg.Work, "work", "", "directory for trees and destinations, kept and reused across runs (default: a temporary directory, removed)")
	flag.StringVar(&cfg.DstDir, "dst", "", "directory for the destinations (default: the work directory); e.g. /dev/shm takes the server's disk out of the numbers")
	flag.StringVar(&cfg.ProfileDir, "profile", "", "write CPU and allocation profiles of one extra run of our engine per scenario into this directory")
	flag.BoolVar(&cfg.LoginBashrc, "login-bashrc", false, "let bash source the login user's ~/.bashrc before every remote command (by default the rig's sshd sets SHLVL=2 so that it does not: a fixed per-session cost of the machine's dotfiles)")
	flag.BoolVar(&cfg.ServerUsage, "server-usage", true, "measure the remote rsync's CPU and RSS through a wrapper (same for both tools)")
	flag.StringVar(&cfg.Rsync, "rsync", "/usr/bin/rsync", "rsync binary (the CLI under test; also used locally to reset destinations)")
	flag.StringVar(&cfg.SSH, "ssh", "/usr/bin/ssh", "OpenSSH client binary")
	flag.StringVar(&cfg.SSHD, "sshd", "/usr/sbin/sshd", "OpenSSH server binary")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", flag.Args())
		return 2
	}
	var err error
	if cfg.Size, err = bench.ParseSize(size); err != nil {
		return usageError(err)
	}
	cfg.BigSize = cfg.Size / 4
	if big != "" {
		if cfg.BigSize, err = bench.ParseSize(big); err != nil {
			return usageError(err)
		}
	}
	cfg.HashSize = cfg.Size * 5 / 2
	if hashSize != "" {
		if cfg.HashSize, err = bench.ParseSize(hashSize); err != nil {
			return usageError(err)
		}
	}
	if cfg.HashFiles == 0 {
		cfg.HashFiles = cfg.Files * 5 / 2
	}
	if cfg.WAN.BitsPerSec, err = bench.ParseRate(wanRate); err != nil {
		return usageError(err)
	}
	if cfg.ScaleFiles, err = parseCounts(scale); err != nil {
		return usageError(fmt.Errorf("-scale-files: %w", err))
	}
	cfg.Seed = seed
	if only != "" {
		cfg.Only = strings.Split(only, ",")
	}
	if cfg.Exe, err = os.Executable(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: cannot find my own binary to re-execute: %v\n", err)
		return 1
	}
	var small bool
	cfg.Launch, small = bench.NewLauncher(cfg.Exe)
	if !small {
		fmt.Fprintf(os.Stderr, "bench: no rusage launcher beside %s (make bench builds one): measuring through this binary, whose own RSS is the floor under every peak RSS\n", cfg.Exe)
	}
	if cfg.EngineChild = bench.FindEngineChild(cfg.Exe); cfg.EngineChild == "" {
		fmt.Fprintf(os.Stderr, "bench: no %s beside %s (make bench builds one): our engine runs in this binary, whose larger code is resident too and adds about a megabyte to its peak RSS\n", bench.EngineChildName, cfg.Exe)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.RunSuite(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	rep.Command = "bench " + strings.Join(os.Args[1:], " ")
	md := rep.Markdown()
	fmt.Print(md)
	if out != "" {
		if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			return 1
		}
	}
	if fails := rep.Failures(); len(fails) > 0 {
		fmt.Fprintf(os.Stderr, "\nbench: %d failure(s):\n", len(fails))
		for _, f := range fails {
			fmt.Fprintf(os.Stderr, "  - %s\n", f)
		}
		return 1
	}
	return 0
}

func usageError(err error) int {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	return 2
}

// parseCounts reads "1000,300000" into ascending counts.
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("sizes must ascend (the smallest is the baseline of the RSS growth): %q", s)
		}
		out = append(out, n)
	}
	return out, nil
}
