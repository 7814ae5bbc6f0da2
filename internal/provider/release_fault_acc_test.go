//go:build unix

package provider

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// releaseReader resolves app/current in a loop, as a web server does for
// each request, and reads the whole release it resolves to: it must find
// the link every time and a complete release of one version, never a mix.
type releaseReader struct {
	app   string
	files int
	stop  chan struct{}
	done  chan struct{}

	mu       sync.Mutex
	errs     []string
	versions map[string]int // version → reads that saw it
	reads    int
}

func startReleaseReader(app string, files int) *releaseReader {
	rr := &releaseReader{app: app, files: files, stop: make(chan struct{}), done: make(chan struct{}), versions: map[string]int{}}
	go rr.loop()
	return rr
}

func (rr *releaseReader) loop() {
	defer close(rr.done)
	for {
		select {
		case <-rr.stop:
			return
		default:
		}
		v, err := rr.readOnce()
		rr.mu.Lock()
		rr.reads++
		if err != nil && len(rr.errs) < 10 {
			rr.errs = append(rr.errs, err.Error())
		} else if err == nil {
			rr.versions[v]++
		}
		rr.mu.Unlock()
	}
}

func (rr *releaseReader) readOnce() (string, error) {
	target, err := os.Readlink(filepath.Join(rr.app, "current"))
	if err != nil {
		return "", fmt.Errorf("resolving current: %w", err)
	}
	dir := filepath.Join(rr.app, target)
	version := ""
	for i := 0; i < rr.files; i++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("f%03d.txt", i)))
		if err != nil {
			return "", fmt.Errorf("current -> %s: %w", target, err)
		}
		if version == "" {
			version = string(b)
		} else if string(b) != version {
			return "", fmt.Errorf("current -> %s mixes versions: f000.txt %q, f%03d.txt %q", target, version, i, b)
		}
	}
	return strings.TrimSpace(version), nil
}

// finish stops the reader and returns what it saw.
func (rr *releaseReader) finish() (reads int, versions map[string]int, errs []string) {
	close(rr.stop)
	<-rr.done
	return rr.reads, rr.versions, rr.errs
}

// TestAccRelease_killedApplyAndReader: a reader resolves current in a
// loop while an apply builds a new release over a throttled link and the
// remote rsync is killed in the middle (SIGKILL), and while the next apply
// completes it. The failed apply leaves current on the old, complete
// release; the next one converges (the partial build removed, current on
// the new release, an empty plan after it); the reader never misses the
// link nor finds a release of mixed versions, and sees both versions.
func TestAccRelease_killedApplyAndReader(t *testing.T) {
	srv := accSetup(t)
	for _, server := range []struct{ name, path string }{{"rsync-3.5.0", ""}, {"rsync-3.2.7", sshtest.Rsync327(t)}} {
		t.Run(server.name, func(t *testing.T) { killedApplyAndReader(t, srv, server.path) })
	}
}

func killedApplyAndReader(t *testing.T, srv *sshtest.Server, rsyncPath string) {
	r := newFaultRig(t, srv, rigOptions{extra: "  release = {\n    keep = 3\n  }", rsync: rsyncPath})
	const files = 200
	version := func(v string) map[string][]byte {
		m := map[string][]byte{}
		for i := 0; i < files; i++ {
			m[fmt.Sprintf("f%03d.txt", i)] = []byte(v + "\n")
		}
		blob := make([]byte, 8<<20)
		if _, err := rand.Read(blob); err != nil {
			t.Fatal(err)
		}
		m["blob.bin"] = blob
		return m
	}
	writeFiles(t, r.src, version("v1"))
	r.apply()
	old, err := currentRelease(r.dst)
	if err != nil {
		t.Fatal(err)
	}
	reader := startReleaseReader(r.dst, files)
	defer func() {
		if reader != nil {
			reader.finish()
		}
	}()

	writeFiles(t, r.src, version("version 2"))
	r.proxy.SetRate(1 << 20) // 8 MiB of new data: about 8 s on the wire
	killed := make(chan int, 1)
	go func() {
		// Wait for the build to be under way — rsync writing blob.bin
		// (the first file in rsync's order; 8 s at the throttled rate) to
		// its temporary name — then kill the remote rsync.
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			partials, _ := filepath.Glob(filepath.Join(r.dst, "releases", ".partial-*", ".blob.bin.*"))
			if len(partials) > 0 && len(r.remoteProcs(true)) > 0 {
				killed <- r.killRemote(syscall.SIGKILL)
				return
			}
			time.Sleep(20 * time.Millisecond) // polling interval, not a wait for an event
		}
		killed <- 0
	}()
	res := r.tf.exec(2*time.Minute, "apply", "-input=false", "-auto-approve")
	if n := <-killed; n == 0 {
		t.Fatalf("the build never got under way, or no remote rsync was found to kill:\n%s", res.output())
	}
	if res.code == 0 {
		t.Fatalf("the apply succeeded although its remote rsync was killed:\n%s", res.output())
	}
	if !words("was not made current … still points to release " + old).MatchString(res.output()) {
		t.Errorf("the failed apply does not say that current still points to %s:\n%s", old, res.output())
	}
	r.waitRemoteGone()
	if cur, err := currentRelease(r.dst); err != nil || cur != old {
		t.Fatalf("after the failed apply current -> %q (%v), want the old release %s", cur, err, old)
	}
	if partials, _ := filepath.Glob(filepath.Join(r.dst, "releases", ".partial-*")); len(partials) == 0 {
		t.Error("no partial build is left: the kill did not hit the build")
	}

	r.proxy.SetRate(0)
	r.apply()
	cur, err := currentRelease(r.dst)
	if err != nil || cur == old {
		t.Fatalf("after the recovering apply current -> %q (%v), want a new release", cur, err)
	}
	checkConverged(t, r.src, filepath.Join(r.dst, "releases", cur), true)
	if partials, _ := filepath.Glob(filepath.Join(r.dst, "releases", ".partial-*")); len(partials) != 0 {
		t.Errorf("partial builds left after the recovering apply: %v", partials)
	}
	r.planEmpty()

	reads, versions, errs := reader.finish()
	reader = nil
	t.Logf("the reader resolved current %d times: %v", reads, versions)
	if len(errs) > 0 {
		t.Errorf("the reader saw a missing link or a mixed release:\n%s", strings.Join(errs, "\n"))
	}
	if versions["v1"] == 0 || versions["version 2"] == 0 {
		t.Errorf("the reader did not see both releases (%v): it did not run across the switch", versions)
	}
}
