// Package bench measures our rsync engine against its peers over the same
// throwaway sshd, in one run: the rsync command line for pushes, drift
// checks (rsync -ac -n --delete) and checksummed listings (rsync -r -c
// --list-only), and Terraform's file provisioner for `terraform apply`
// with rsync_directory; the plan-time local tree hash has no peer and is
// reported as throughput. It generates seeded synthetic trees, puts a
// byte-counting (and optionally throttling) TCP proxy in front of sshd,
// runs every tool in child processes so the kernel accounts each run's CPU
// time and peak RSS separately (the remote rsync's too), and reports
// medians and ratios. bench_test.go holds Go benchmarks of the matcher and
// of the 31-byte-edit push against the rsync CLI.
//
// One job per file:
//
//	units.go     sizes and rates on the command line and in reports
//	content.go   deterministic file content: text with realistic redundancy, random binaries
//	gen.go       the synthetic web root and the tiny-files tree
//	mutate.go    the 1% edit (and the 31-byte overwrite in the big file)
//	drift.go     the drifted destination, and reading rsync's -i and --list-only output
//	trees.go     the trees a run needs, generated once and cached in the work directory
//	verify.go    checks that a destination mirrors its source after a run
//	proxy.go     the TCP proxy: byte counts, token bucket, one-way delay
//	kexinit.go   reads the SSH algorithm negotiation off the proxied bytes
//	rig.go       sshd and the two proxies in front of it
//	runner.go    what a tool runner is given and returns
//	proc.go      the launcher through which every measured process starts
//	rusage/      the launcher itself: runs a command, records its rusage
//	engine.go    runner for our engine, in a child process: push, drift check, listing, tree hash
//	enginechild/ that child process (binary: internal/cmd/bench/enginechild)
//	cli.go       runner for the rsync command line
//	terraform.go runner for terraform apply: rsync_directory vs terraform_data + provisioner "file"
//	suite.go     scenarios, rounds, the sshd and proxies they share
//	fleet.go     the fleet scenarios: for_each over many destinations vs the rsync CLI once per destination
//	report.go    medians, ratios and the Markdown table
//	limits.go    regression thresholds and the issues' goals
//	machine.go   the machine description in the report header
package bench
