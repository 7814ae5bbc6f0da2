//go:build unix

package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// faultCase is one fault injected into an apply. The rig's source holds
// the old tree and has been applied; prepare then changes the source (and
// may change the destination), the test plans and saves the plan, arms the
// fault and applies the saved plan, which must fail with the case's
// outcome (reliability_test.go), within
// bound, leaving every destination file old or new. A fresh apply must
// then converge and the plan after it be empty.
type faultCase struct {
	name    string
	opts    rigOptions
	old     func() map[string][]byte
	prepare func(t *testing.T, r *faultRig)
	// arm injects the fault before the apply; it returns a function that
	// undoes it (resume a stall), run once the apply has failed.
	arm func(t *testing.T, r *faultRig) (undo func())
	// during runs beside the apply (to kill the remote rsync).
	during func(t *testing.T, r *faultRig, done <-chan struct{})
	// id names the case in docs/reliability.md; its outcome is the
	// error the apply must report.
	id    string
	bound time.Duration
	// check runs after the failed apply, once the remote rsync has
	// exited: that the fault hit the phase it is meant to.
	check func(t *testing.T, r *faultRig, temps []string)
	// final, when set, replaces the checks after the recovering apply
	// (convergence and an empty plan).
	final func(t *testing.T, r *faultRig)
}

func runFault(t *testing.T, srv *sshtest.Server, fc faultCase) {
	t.Helper()
	r := newFaultRig(t, srv, fc.opts)
	writeFiles(t, r.src, fc.old())
	r.apply()
	fc.prepare(t, r)
	settleDirs(t, r.src)
	if res := r.tf.exec(5*time.Minute, "plan", "-input=false", "-out=tfplan"); res.code != 0 {
		t.Fatalf("plan: exit %d\n%s", res.code, res.output())
	}
	before := takeSnapshot(t, r.dst)
	source := takeSnapshot(t, r.src)
	sessions := r.sessions()

	undo := fc.arm(t, r)
	done := make(chan struct{})
	duringDone := make(chan struct{})
	go func() {
		defer close(duringDone)
		if fc.during != nil {
			fc.during(t, r, done)
		}
	}()
	res := r.tf.exec(2*time.Minute, "apply", "-input=false", "tfplan")
	close(done)
	<-duringDone
	if undo != nil {
		undo()
	}
	r.proxy.Disarm()
	switch {
	case res.timedOut:
		t.Fatalf("the apply hung: killed after %v\n%s", res.elapsed, res.output())
	case res.code == 0:
		t.Fatalf("the apply succeeded despite the fault (%d sessions before it, %d after):\n%s", sessions, r.sessions(), res.output())
	}
	out := res.output()
	t.Logf("apply failed after %v:\n%s", res.elapsed.Round(time.Millisecond), errorText(out))
	record(t, fc.id, errorText(out))
	if !outcome(fc.id).MatchString(out) {
		t.Errorf("the apply's error does not say %q:\n%s", outcomes[fc.id], out)
	}
	if fc.bound > 0 && res.elapsed > fc.bound {
		t.Errorf("the apply took %v to fail, more than %v", res.elapsed.Round(time.Millisecond), fc.bound)
	}
	start := time.Now()
	r.waitRemoteGone()
	t.Logf("the remote rsync was gone %v after the apply ended", time.Since(start).Round(time.Millisecond))
	temps := checkOldOrNew(t, r.dst, before, source)
	if len(temps) > 0 {
		t.Logf("rsync temporary files left by the failed apply: %v", temps)
	}
	if fc.check != nil {
		fc.check(t, r, temps)
	}
	if t.Failed() {
		return
	}

	start = time.Now()
	r.apply()
	t.Logf("the recovering apply took %v", time.Since(start).Round(time.Millisecond))
	if fc.final != nil {
		fc.final(t, r)
		return
	}
	checkConverged(t, r.src, r.dst, fc.opts.delete)
	r.planEmpty()
}

// errorText is the part of terraform's output from the first "Error:".
func errorText(out string) string { return textFrom(out, "Error:") }

// textFrom is out from the first mark on (all of it without one).
func textFrom(out, mark string) string {
	if i := strings.Index(out, mark); i >= 0 {
		return out[i:]
	}
	return out
}

// Trees of the fault cases.

func bigOld() map[string][]byte {
	return map[string][]byte{
		"index.html": []byte("<h1>old</h1>\n"),
		"big.bin":    randomBytes(8 << 20),
		"css/a.css":  []byte("a { color: red }\n"),
	}
}

// newVersion replaces the source with the new tree: index.html and
// big.bin change, new.bin (6 MiB) appears, css/a.css stays.
func newVersion(t *testing.T, r *faultRig) {
	writeFiles(t, r.src, map[string][]byte{
		"index.html": []byte("<h1>new</h1>\n"),
		"big.bin":    randomBytes(8 << 20),
		"new.bin":    randomBytes(6 << 20),
	})
	// A new time for index.html, apart from the copy's.
	future := time.Now().Add(time.Hour)
	_ = os.Chtimes(filepath.Join(r.src, "index.html"), future, future)
}

// sameAsBefore checks that path on the destination still holds the
// content it had before the apply.
func unchanged(t *testing.T, r *faultRig, paths ...string) {
	t.Helper()
	for _, p := range paths {
		b, err := os.ReadFile(filepath.Join(r.dst, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		s, _ := os.ReadFile(filepath.Join(r.src, p))
		if string(b) == string(s) && p != "css/a.css" {
			t.Errorf("%s already holds its new version: the fault came later than meant", p)
		}
	}
}

// TestAccFault: faults injected into an apply between the provider and
// sshd — connections cut at points of the handshake, the file list, a
// file's data and the deletions, stalls that the keepalive and the
// handshake timeout must end, and the remote rsync killed in the middle
// of a file. Each apply fails with a clear error and leaves every remote
// file old or new; the next apply converges and its plan is empty.
func TestAccFault(t *testing.T) {
	srv := accSetup(t)
	cases := []faultCase{
		{
			name: "cut during the SSH key exchange", id: "fault/cut-kex", old: bigOld, prepare: newVersion,
			arm: func(t *testing.T, r *faultRig) func() {
				cutEveryConnection(r, sshtest.ToClient, 300) // the server's banner and part of its KEXINIT
				return nil
			},
			bound: 30 * time.Second,
		},
		{
			// The key exchange takes the client's first 900 or so bytes;
			// user authentication follows.
			name: "cut during SSH authentication", id: "fault/cut-auth", old: bigOld, prepare: newVersion,
			arm: func(t *testing.T, r *faultRig) func() {
				cutEveryConnection(r, sshtest.ToTarget, 1150)
				r.authStarted = strings.Count(r.srv.Log(), "Postponed publickey")
				return nil
			},
			check: func(t *testing.T, r *faultRig, _ []string) {
				// sshd handles the bytes forwarded before the cut while
				// the client is already failing: wait for its log line.
				deadline := time.Now().Add(10 * time.Second)
				for strings.Count(r.srv.Log(), "Postponed publickey") == r.authStarted {
					if time.Now().After(deadline) {
						t.Errorf("sshd saw no authentication request: the cut came before it")
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			},
			bound: 30 * time.Second,
		},
		{
			name: "cut in the middle of a file", id: "fault/cut-mid-file", old: bigOld, prepare: newVersion,
			arm: func(t *testing.T, r *faultRig) func() {
				r.proxy.CutAt(sshtest.ToTarget, 4<<20) // big.bin's data: 8 MiB after a file list of 4 entries
				return nil
			},
			check: func(t *testing.T, r *faultRig, _ []string) {
				unchanged(t, r, "big.bin")
				if err := mustNotExist(filepath.Join(r.dst, "new.bin")); err != nil {
					t.Error(err)
				}
			},
			bound: 30 * time.Second,
		},
		{
			name: "cut during the file list", id: "fault/cut-file-list", old: bigOld,
			// The names sit at the top of the source: with incremental
			// recursion (protocol 30+) a directory's list travels when
			// the receiver is already at work on the lists before it, so
			// only a cut inside the first list, the top directory's, comes
			// before anything is written.
			prepare: func(t *testing.T, r *faultRig) {
				newVersion(t, r)
				many := map[string][]byte{}
				for i := 0; i < 8000; i++ {
					many[fmt.Sprintf("list-%05d-%s.txt", i, randomHex(8))] = []byte("x")
				}
				writeFiles(t, r.src, many)
			},
			arm: func(t *testing.T, r *faultRig) func() {
				r.proxy.CutAt(sshtest.ToTarget, 100_000) // 8,000 names of 30 random bytes: a first file list of some 250 KB
				return nil
			},
			check: func(t *testing.T, r *faultRig, _ []string) {
				if err := mustNotExist(filepath.Join(r.dst, "new.bin")); err != nil {
					t.Errorf("%v: the receiver had the whole file list", err)
				}
				if got, _ := filepath.Glob(filepath.Join(r.dst, "list-*")); len(got) > 0 {
					t.Errorf("%d of the listed files were written (%s…): the receiver had the whole file list", len(got), filepath.Base(got[0]))
				}
				unchanged(t, r, "index.html", "big.bin")
			},
			bound: 30 * time.Second,
		},
		{
			// The server deletes before it reports (its messages reach us
			// in one burst afterwards), so the cut is timed by watching
			// the deletions happen.
			name: "cut during deletions", id: "fault/cut-deletions", old: bigOld, opts: rigOptions{delete: true}, prepare: manyToDelete,
			arm: func(t *testing.T, r *faultRig) func() { return nil },
			during: whileDeleting(func(r *faultRig) {
				r.proxy.CutAll()
			}),
			check: deletionsInterrupted,
			bound: 30 * time.Second,
		},
		{
			name: "remote rsync killed during deletions", id: "fault/kill-deletions", old: bigOld, opts: rigOptions{delete: true}, prepare: manyToDelete,
			arm: func(t *testing.T, r *faultRig) func() { return nil },
			during: whileDeleting(func(r *faultRig) {
				r.killRemote(syscall.SIGKILL)
			}),
			check: func(t *testing.T, r *faultRig, temps []string) {
				deletionsInterrupted(t, r, temps)
				left, _ := os.ReadDir(filepath.Join(r.dst, "old"))
				if len(left) == 0 || len(left) == deleteCount {
					t.Errorf("%d of %d files left: the kill did not stop the deletions half-way", len(left), deleteCount)
				}
			},
			bound: 30 * time.Second,
		},
		{
			name: "stall in the middle of a file ends by keepalive", id: "fault/stall-keepalive", old: bigOld, prepare: newVersion,
			opts: rigOptions{keepalive: "1s"},
			arm: func(t *testing.T, r *faultRig) func() {
				r.proxy.At(sshtest.ToTarget, 3<<20, func(*sshtest.ProxyConn) { r.proxy.Stall() })
				return r.proxy.Resume
			},
			check: func(t *testing.T, r *faultRig, _ []string) {
				unchanged(t, r, "big.bin")
			},
			// 3 keepalives 1 s apart go unanswered; then the connection
			// is declared dead.
			bound: 20 * time.Second,
		},
		{
			name: "stall during the handshake ends by timeout", id: "fault/stall-handshake", old: bigOld, prepare: newVersion,
			opts: rigOptions{timeout: "3s"},
			arm: func(t *testing.T, r *faultRig) func() {
				r.proxy.At(sshtest.ToClient, 100, func(*sshtest.ProxyConn) { r.proxy.Stall() })
				return r.proxy.Resume
			},
			bound: 20 * time.Second,
		},
		{
			name: "remote rsync terminated in the middle of a file", id: "fault/term-mid-file", old: bigOld, prepare: newVersion,
			arm:    throttled,
			during: killMidFile(syscall.SIGTERM),
			check: func(t *testing.T, r *faultRig, temps []string) {
				unchanged(t, r, "big.bin")
				if len(temps) > 0 {
					t.Errorf("rsync terminated by SIGTERM left temporary files %v", temps)
				}
			},
			bound: 60 * time.Second,
		},
		{
			name: "remote rsync killed in the middle of a file, delete = true", id: "fault/kill-mid-file", old: bigOld, prepare: newVersion,
			opts:   rigOptions{delete: true},
			arm:    throttled,
			during: killMidFile(syscall.SIGKILL),
			check: func(t *testing.T, r *faultRig, temps []string) {
				unchanged(t, r, "big.bin")
				if len(temps) == 0 {
					t.Errorf("no temporary file after SIGKILL: the kill did not come in the middle of big.bin")
				}
			},
			bound: 60 * time.Second,
		},
		{
			// rsync cannot clean up after SIGKILL; with delete = false
			// nothing removes its temporary file, and the plan says so.
			name: "remote rsync killed in the middle of a file, delete = false", id: "fault/kill-mid-file-tmp", old: bigOld, prepare: newVersion,
			arm:    throttled,
			during: killMidFile(syscall.SIGKILL),
			check: func(t *testing.T, r *faultRig, temps []string) {
				unchanged(t, r, "big.bin")
				if len(temps) != 1 {
					t.Errorf("temporary files after SIGKILL: %v, want one", temps)
				}
			},
			bound: 60 * time.Second,
			final: func(t *testing.T, r *faultRig) {
				s, d := takeSnapshot(t, r.src), takeSnapshot(t, r.dst)
				for p, sum := range s.files {
					if d.files[p] != sum {
						t.Errorf("after the recovering apply %s is missing or differs on the destination", p)
					}
				}
				if tmp := d.temps(); len(tmp) != 1 {
					t.Errorf("temporary files after the recovering apply: %v, want the one SIGKILL left", tmp)
				}
				res := r.tf.exec(5*time.Minute, "plan", "-input=false", "-detailed-exitcode")
				record(t, "fault/kill-tmp-warning", textFrom(res.output(), "Warning:"))
				if res.code != 0 || !outcome("fault/kill-tmp-warning").MatchString(res.output()) {
					t.Errorf("the plan (exit %d) does not warn of the temporary file:\n%s", res.code, res.output())
				}
			},
		},
	}
	for _, fc := range cases {
		t.Run(fc.name, func(t *testing.T) { runFault(t, srv, fc) })
	}
}

// throttled slows the link to 4 MiB/s for the apply (an 8 MiB file takes
// 2 s: time to act in the middle of it) and returns the undo.
func throttled(t *testing.T, r *faultRig) func() {
	r.proxy.SetRate(4 << 20)
	return func() { r.proxy.SetRate(0) }
}

// cutEveryConnection cuts every connection made from now until the rig
// disarms its proxy (after the apply) once it has forwarded n bytes in d:
// the apply walk's plan connects ahead of the apply and ignores a failure
// (the apply connects again), so a fault on one connection alone would be
// retried away.
func cutEveryConnection(r *faultRig, d sshtest.Direction, n int64) {
	r.proxy.At(d, n, func(c *sshtest.ProxyConn) {
		c.Cut()
		cutEveryConnection(r, d, n)
	})
}

// deletions is how many files manyToDelete puts on the destination.
const deleteCount = 30000

// manyToDelete puts 30,000 files that are not in the source on the
// destination (delete = true removes them) and changes index.html.
func manyToDelete(t *testing.T, r *faultRig) {
	extra := map[string][]byte{}
	for i := 0; i < deleteCount; i++ {
		extra[fmt.Sprintf("old/%05d.txt", i)] = []byte("stale")
	}
	writeFiles(t, r.dst, extra)
	writeFiles(t, r.src, map[string][]byte{"index.html": []byte("<h1>new</h1>\n")})
}

// whileDeleting runs fault once the remote rsync has deleted some of
// manyToDelete's files but not all.
func whileDeleting(fault func(r *faultRig)) func(t *testing.T, r *faultRig, done <-chan struct{}) {
	return func(t *testing.T, r *faultRig, done <-chan struct{}) {
		dir := filepath.Join(r.dst, "old")
		for {
			select {
			case <-done:
				t.Errorf("the apply ended before the deletions were seen half-way")
				return
			default:
			}
			f, err := os.Open(dir)
			if err != nil {
				t.Errorf("the deletions were not seen half-way: %v", err)
				return
			}
			names, _ := f.Readdirnames(-1)
			f.Close()
			if n := len(names); n > 0 && n < deleteCount*9/10 {
				fault(r)
				r.faultNote = fmt.Sprintf("fault injected with %d of %d files left to delete", n, deleteCount)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// deletionsInterrupted checks that the fault came during the deletions.
func deletionsInterrupted(t *testing.T, r *faultRig, _ []string) {
	if r.faultNote == "" {
		t.Errorf("the fault was not injected during the deletions")
		return
	}
	left, _ := os.ReadDir(filepath.Join(r.dst, "old"))
	t.Logf("%s; %d left after the failed apply", r.faultNote, len(left))
}

// killMidFile waits until the remote receiver is writing big.bin's
// temporary file (at least 1 MiB of it), then sends sig to the remote
// rsync processes of the rig.
func killMidFile(sig syscall.Signal) func(t *testing.T, r *faultRig, done <-chan struct{}) {
	return func(t *testing.T, r *faultRig, done <-chan struct{}) {
		for {
			select {
			case <-done:
				t.Errorf("the apply ended before big.bin's temporary file grew to 1 MiB")
				return
			case <-time.After(20 * time.Millisecond):
			}
			tmps, _ := filepath.Glob(filepath.Join(r.dst, ".big.bin.*"))
			for _, p := range tmps {
				if fi, err := os.Stat(p); err == nil && fi.Size() >= 1<<20 {
					n := r.killRemote(sig)
					t.Logf("sent %v to %d remote rsync processes with %s of %s written", sig, n, fmt.Sprint(fi.Size()), filepath.Base(p))
					return
				}
			}
		}
	}
}
