package bench

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/bench/enginechild"
)

// CLIRunner runs the rsync command line over OpenSSH. A push is
//
//	rsync -a [--delete] --stats -e "ssh -p PORT -i KEY -o UserKnownHostsFile=F
//	  -o StrictHostKeyChecking=yes -o BatchMode=yes" SRC/ USER@127.0.0.1:DST/
//
// (--stats only makes the client print its counters at the end: in a push
// the sender counts on its own; nothing extra crosses the wire); a drift
// check is rsync -ac -n --delete -i with the same -e, SRC/ and DST/ (-i
// prints each path a sync would change, which the suite compares with our
// engine's); a listing is rsync -r -c --list-only -e ... USER@127.0.0.1:DST/.
type CLIRunner struct {
	Rsync  string // the rsync binary, e.g. /usr/bin/rsync
	SSH    string // the ssh binary, e.g. /usr/bin/ssh
	Launch Launcher
}

// Name is the report's label for the rsync CLI.
func (CLIRunner) Name() string { return "rsync" }

// Args is the command line for job, without the binary.
func (r CLIRunner) Args(job Job) []string {
	e := job.Endpoint
	rsh := fmt.Sprintf("%s -p %d -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes",
		r.SSH, e.Port, e.KeyFile, e.KnownHostsFile)
	var args []string
	switch job.Op {
	case OpDrift:
		args = []string{"-ac", "-n"}
	case OpList:
		args = []string{"-r", "-c", "--list-only"}
	default:
		args = []string{"-a"}
	}
	if job.Delete && job.Op != OpList {
		args = append(args, "--delete")
	}
	switch job.Op {
	case OpDrift:
		args = append(args, "-i")
	case OpList:
	default:
		args = append(args, "--stats")
	}
	args = append(args, "-e", rsh)
	if job.RsyncPath != "" {
		args = append(args, "--rsync-path="+job.RsyncPath)
	}
	remote := fmt.Sprintf("%s@%s:%s/", e.User, e.Host, job.Dest)
	if job.Op == OpList {
		return append(args, remote)
	}
	return append(args, job.Source+"/", remote)
}

// Run runs job with the rsync CLI.
func (r CLIRunner) Run(ctx context.Context, job Job) (Run, error) {
	for _, p := range []string{job.Endpoint.KeyFile, job.Endpoint.KnownHostsFile, job.Source, job.Dest} {
		if p == job.Source && job.Op == OpList {
			continue // a listing has no source
		}
		if !shellSafe(p) {
			return Run{}, fmt.Errorf("rsync CLI: path %q would need quoting in -e; use a work directory without special characters", p)
		}
	}
	u, stdout, err := r.Launch.Run(ctx, job.UsageFile, nil, append(os.Environ(), "LC_ALL=C"), r.Rsync, r.Args(job)...)
	if err != nil {
		return Run{}, fmt.Errorf("rsync CLI: %w", err)
	}
	switch job.Op {
	case OpDrift:
		ch, err := parseItemized(string(stdout))
		if err != nil {
			return Run{}, fmt.Errorf("rsync CLI: %w", err)
		}
		return Run{Client: u, Changes: ch}, nil
	case OpList:
		names, err := parseListOnly(string(stdout))
		if err != nil {
			return Run{}, fmt.Errorf("rsync CLI: %w", err)
		}
		return Run{Client: u, Listed: len(names), ListDigest: enginechild.NamesDigest(names)}, nil
	}
	st, err := parseStats(string(stdout))
	if err != nil {
		return Run{}, fmt.Errorf("rsync CLI: %w", err)
	}
	return Run{
		Client:  u,
		Sent:    st["Total bytes sent"],
		Literal: st["Literal data"],
		Matched: st["Matched data"],
		Files:   int(st["Number of regular files transferred"]),
	}, nil
}

var statLine = regexp.MustCompile(`(?m)^([A-Z][A-Za-z ]+): ([0-9][0-9,.]*)`)

// parseStats reads the counters of rsync --stats ("Total bytes sent:
// 1,234,567"); numbers carry thousands separators.
func parseStats(out string) (map[string]int64, error) {
	st := map[string]int64{}
	for _, m := range statLine.FindAllStringSubmatch(out, -1) {
		digits := strings.NewReplacer(",", "", ".", "").Replace(m[2])
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			continue
		}
		st[m[1]] = n
	}
	if _, ok := st["Total bytes sent"]; !ok {
		return nil, fmt.Errorf("no \"Total bytes sent\" in --stats output: %q", lastLines(out, 20))
	}
	return st, nil
}
