package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the suite ran, for the report's header.
type Machine struct {
	CPUs     int
	CPUModel string
	Memory   string
	Kernel   string
	Rsync    string
	OpenSSH  string
	Go       string
	Commit   string
}

// DescribeMachine gathers the machine description; what cannot be found
// reads "unknown".
func DescribeMachine(ctx context.Context, rsyncBin, sshBin string) Machine {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kb, err := strconv.ParseInt(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 10, 64); err == nil {
		m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	m.Rsync = firstLine(commandOutput(ctx, rsyncBin, "--version"))
	m.OpenSSH = firstLine(commandOutput(ctx, sshBin, "-V"))
	m.Commit = firstLine(commandOutput(ctx, "git", "rev-parse", "--short=12", "HEAD"))
	if m.Commit != "" && commandOutput(ctx, "git", "status", "--porcelain", "--untracked-files=no") != "" {
		m.Commit += " (with uncommitted changes)"
	}
	for _, p := range []*string{&m.CPUModel, &m.Memory, &m.Kernel, &m.Rsync, &m.OpenSSH, &m.Commit} {
		if *p == "" {
			*p = "unknown"
		}
	}
	return m
}

func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// commandOutput is a command's stdout and stderr (ssh -V prints to
// stderr), or "" if it fails.
func commandOutput(ctx context.Context, name string, args ...string) string {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if cmd.Run() != nil {
		return ""
	}
	return strings.TrimSpace(out.String())
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.Join(strings.Fields(line), " ")
}

// LoadAverage is the 1-minute load average, or "?".
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
