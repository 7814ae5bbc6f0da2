//go:build unix

package provider

// Helpers of the fault-injection tests (fault_acc_test.go and the long
// ones): an sshd behind a proxy the test controls, terraform driven
// directly, remote rsync processes found by a marker in their environment,
// and the invariants every fault must keep.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// faultRig is one rsync_directory pushing src to dst on an sshd reached
// through a proxy, with a remote rsync_path that carries a marker unique to
// the rig in its environment, so that the test can find (and kill) exactly
// the remote rsync processes it started.
type faultRig struct {
	t      *testing.T
	srv    *sshtest.Server
	proxy  *sshtest.Proxy
	src    string
	dst    string
	marker string
	tf     *tfRunner

	// Set by fault cases for their checks.
	authStarted int
	faultNote   string
}

// rigOptions are the settings of a rig's configuration.
type rigOptions struct {
	delete    bool
	timeout   string // provider timeout; default "10s"
	keepalive string // provider keepalive_interval; default "1s"
	drift     string // drift_detection; default checksum
	extra     string // more resource attributes (HCL lines)
	rsync     string // the remote rsync program; default "rsync"
}

func newFaultRig(t *testing.T, srv *sshtest.Server, o rigOptions) *faultRig {
	t.Helper()
	if o.timeout == "" {
		o.timeout = "10s"
	}
	if o.keepalive == "" {
		o.keepalive = "1s"
	}
	if o.rsync == "" {
		o.rsync = "rsync"
	} else {
		o.rsync = shellQuote(o.rsync)
	}
	base := t.TempDir()
	r := &faultRig{
		t: t, srv: srv, proxy: sshtest.StartProxy(t, srv.Addr()),
		src: filepath.Join(base, "src"), dst: filepath.Join(base, "dst"),
		marker: "RSYNC_TEST_MARK=" + randomHex(8),
	}
	for _, d := range []string{r.src, r.dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	attrs := map[string]string{
		"source": hclString(r.src + "/"), "destination": hclString(remoteDest(srv, r.dst+"/")),
		"delete": strconv.FormatBool(o.delete),
	}
	if o.drift != "" {
		attrs["drift_detection"] = hclString(o.drift)
	}
	config := fmt.Sprintf(`provider "rsync" {
  port               = %d
  private_key_file   = %s
  host_key           = %s
  timeout            = %q
  keepalive_interval = %q
  rsync_path         = %s
}
`, r.proxy.Port, hclString(srv.ClientKeyFile), hclString(srv.HostKeyAuthorized), o.timeout, o.keepalive,
		hclString(r.marker+" "+o.rsync)) + rsyncDir("test", attrs)
	if o.extra != "" {
		// Into the resource block, the last one.
		i := strings.LastIndex(config, "\n}\n")
		config = config[:i] + "\n" + o.extra + config[i:]
	}
	r.tf = newTFRunner(t, config)
	t.Cleanup(func() { r.killRemote(syscall.SIGKILL) })
	return r
}

// tfResult is the outcome of one terraform command.
type tfResult struct {
	code     int
	stdout   string
	stderr   string
	elapsed  time.Duration
	timedOut bool
}

func (res tfResult) output() string { return res.stdout + res.stderr }

// exec runs terraform with args, bounded by limit (the command is killed
// after it: a hang fails the test instead of stalling the run).
func (r *tfRunner) exec(limit time.Duration, args ...string) tfResult {
	r.t.Helper()
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		tf = "terraform"
	}
	return r.execAs(limit, nil, tf, args...)
}

// execAs is exec as the user cred (nil: as the test).
func (r *tfRunner) execAs(limit time.Duration, cred *syscall.Credential, tf string, args ...string) tfResult {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, tf, append(append([]string{}, args...), "-no-color")...)
	cmd.Dir, cmd.Env = r.dir, r.env
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	planned := r.guardPlan(args)
	err := cmd.Run()
	planned()
	res := tfResult{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start), timedOut: ctx.Err() != nil}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// apply runs terraform apply -auto-approve and fails the test unless it
// succeeds.
func (r *faultRig) apply() {
	r.t.Helper()
	res := r.tf.exec(5*time.Minute, "apply", "-input=false", "-auto-approve")
	if res.code != 0 {
		r.t.Fatalf("terraform apply exited %d after %v:\n%s", res.code, res.elapsed.Round(time.Millisecond), res.output())
	}
}

// planEmpty checks that a plan has nothing to do.
func (r *faultRig) planEmpty() {
	r.t.Helper()
	res := r.tf.exec(5*time.Minute, "plan", "-input=false", "-detailed-exitcode")
	if res.code != 0 {
		r.t.Fatalf("the plan after the recovering apply is not empty (exit %d):\n%s", res.code, res.output())
	}
}

// remoteProcs lists the pids of the remote rsync processes this rig
// started (their environment holds the marker); receivers only: those
// that write the destination (no --sender).
func (r *faultRig) remoteProcs(receiversOnly bool) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, []byte("\x00"+r.marker+"\x00")) && !bytes.HasPrefix(env, []byte(r.marker+"\x00")) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if !bytes.Contains(cmdline, []byte("--server")) {
			continue
		}
		if receiversOnly && bytes.Contains(cmdline, []byte("--sender")) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// killRemote sends sig to every remote rsync process of this rig,
// children first: a receiver (the forked child) that outlived its
// generator by a moment would see the broken pipe and, in its exit
// cleanup (cleanup.c:_exit_cleanup), unlink the temporary file a SIGKILL
// is meant to leave.
func (r *faultRig) killRemote(sig syscall.Signal) int {
	pids := r.remoteProcs(false)
	isParent := map[int]bool{}
	for _, pid := range pids {
		isParent[parentPID(pid)] = true
	}
	sort.SliceStable(pids, func(i, j int) bool { return !isParent[pids[i]] && isParent[pids[j]] })
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
	return len(pids)
}

// statFields are the fields of /proc/PID/stat after the command name
// (state, ppid, ...; utime and stime are [11] and [12]); nil if pid is
// gone.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	// "pid (comm) state ppid ...": comm may hold spaces, so start after
	// its closing parenthesis.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return nil
	}
	return f
}

// parentPID is pid's parent (from /proc/PID/stat), 0 if unknown.
func parentPID(pid int) int {
	f := statFields(pid)
	if f == nil {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// cpuTicks is the CPU time (user and system, in clock ticks) that pids
// have used so far.
func cpuTicks(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		if f := statFields(pid); f != nil {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			sum += u + s
		}
	}
	return sum
}

// procStates describes pids for a failure message: state, the kernel
// function each waits in, command line.
func procStates(pids []int) string {
	var b strings.Builder
	for _, pid := range pids {
		state := "gone"
		if f := statFields(pid); f != nil {
			state = f[0]
		}
		wchan, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		fmt.Fprintf(&b, "  %d %s %s: %s\n", pid, state, wchan, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	}
	return b.String()
}

// waitRemoteGone waits until no remote rsync process of this rig is left
// (after a fault the server side notices the lost connection and exits).
//
// The server notices only at its next read or write of the connection:
// cut during the deletions, it deletes the rest first, which on a loaded
// machine took more than 20 s. What must not happen is a process left
// hanging, so the wait fails once the processes have used no CPU for 20 s
// (blocked with nothing left to wake them), or after 5 minutes in all.
func (r *faultRig) waitRemoteGone() {
	r.t.Helper()
	const stuck, limit = 20 * time.Second, 5 * time.Minute
	start := time.Now()
	lastCPU, lastProgress := int64(-1), start
	for {
		pids := r.remoteProcs(false)
		if len(pids) == 0 {
			return
		}
		now := time.Now()
		if cpu := cpuTicks(pids); cpu != lastCPU {
			lastCPU, lastProgress = cpu, now
		}
		if now.Sub(lastProgress) > stuck || now.Sub(start) > limit {
			r.t.Fatalf("remote rsync processes still running %v after the fault, the last %v of it without using any CPU (pid, state, wait channel, command):\n%s",
				now.Sub(start).Round(time.Millisecond), now.Sub(lastProgress).Round(time.Millisecond), procStates(pids))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sessions counts the SSH sessions sshd has started so far.
func (r *faultRig) sessions() int {
	return strings.Count(r.srv.Log(), "Starting session:")
}

// snapshot is a tree's regular files (path → content digest), directories
// and symlinks (path → target).
type snapshot struct {
	files map[string][32]byte
	other map[string]string
}

func takeSnapshot(t *testing.T, root string) snapshot {
	t.Helper()
	s := snapshot{files: map[string][32]byte{}, other: map[string]string{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s.files[rel] = sha256.Sum256(b)
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			s.other[rel] = "-> " + target
		case d.IsDir():
			s.other[rel] = "dir"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rsyncTemp matches the name of a temporary file of rsync's receiver:
// ".NAME.XXXXXX" beside NAME.
var rsyncTemp = regexp.MustCompile(`^\..+\.[A-Za-z0-9]{6}$`)

// temps lists the rsync temporary files in a snapshot.
func (s snapshot) temps() []string {
	var out []string
	for p := range s.files {
		if rsyncTemp.MatchString(filepath.Base(p)) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// checkOldOrNew checks the invariant of every fault: each file of the
// destination is byte-identical to its old version (before the apply) or
// to its new one (the source), and nothing else is there but rsync's
// temporary files, which it returns.
func checkOldOrNew(t *testing.T, dst string, before, source snapshot) (temps []string) {
	t.Helper()
	now := takeSnapshot(t, dst)
	for p, sum := range now.files {
		oldSum, inOld := before.files[p]
		newSum, inNew := source.files[p]
		switch {
		case inOld && sum == oldSum, inNew && sum == newSum:
		case rsyncTemp.MatchString(filepath.Base(p)) && !inOld && !inNew:
			temps = append(temps, p)
		case inOld || inNew:
			t.Errorf("%s is neither its old nor its new version: a torn file", p)
		default:
			t.Errorf("%s appeared on the destination, but is neither in the source nor a temporary file of rsync", p)
		}
	}
	sort.Strings(temps)
	return temps
}

// checkConverged checks that dst holds exactly the source's files (and
// with extra allowed, possibly more) and no temporary file.
func checkConverged(t *testing.T, src, dst string, exact bool) {
	t.Helper()
	s, d := takeSnapshot(t, src), takeSnapshot(t, dst)
	for p, sum := range s.files {
		if got, ok := d.files[p]; !ok || got != sum {
			t.Errorf("after the recovering apply %s is missing or differs on the destination", p)
		}
	}
	if tmp := d.temps(); len(tmp) > 0 {
		t.Errorf("temporary files left on the destination after the recovering apply: %v", tmp)
	}
	if exact {
		if err := checkTreesEqual(src, dst)(nil); err != nil {
			t.Error(err)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%x", b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// writeFiles writes files below root (parents created), then gives every
// directory below root a whole-second time in the past (see writeFile).
func writeFiles(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for p, b := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	settleDirs(t, root)
}

// settleDirs gives root and every directory below it a whole-second time
// in the past.
func settleDirs(t *testing.T, root string) {
	t.Helper()
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chtimes(p, past, past)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
