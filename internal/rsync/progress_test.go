package rsync_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// fakeClock is a progress clock whose ticks the test sends.
type fakeClock struct {
	now   time.Time
	ticks chan time.Time
	made  chan time.Duration // the interval of each ticker made
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) NewTicker(d time.Duration) rsync.Ticker {
	c.made <- d
	return fakeTicker{c.ticks}
}

type fakeTicker struct{ c chan time.Time }

func (t fakeTicker) C() <-chan time.Time { return t.c }
func (fakeTicker) Stop()                 {}

// lineWriter sends each JSON log line to a channel.
type lineWriter struct{ lines chan map[string]any }

func (w lineWriter) Write(p []byte) (int, error) {
	for _, l := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			w.lines <- m
		}
	}
	return len(p), nil
}

// TestProgress: a push or pull slowed by a throttling proxy logs, on each
// tick of its clock, a progress line at INFO with the files and bytes done
// of the total, the rate and the time left; the numbers are those of the
// moment (part of the data, none of it twice). The clock is fake: the test
// sends the tick while the transfer is under way, so no sleep decides what
// is measured. (A pull counts a file's bytes when the file is complete, a
// push as it reads them.)
func TestProgress(t *testing.T) {
	t.Run("push", func(t *testing.T) { testProgress(t, true) })
	t.Run("pull", func(t *testing.T) { testProgress(t, false) })
}

func testProgress(t *testing.T, push bool) {
	srv := sshtest.Start(t)
	proxy := sshtest.StartProxy(t, srv.Addr())
	c, err := sshconn.Dial(context.Background(), sshconn.Config{
		Host: proxy.Host, Port: proxy.Port, User: srv.User,
		PrivateKeyFile: srv.ClientKeyFile, HostKey: srv.HostKeyAuthorized,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tr := sshconn.NewTransport(c)

	src := t.TempDir()
	var total int64
	for _, name := range []string{"a.bin", "b.bin", "c.bin"} {
		b := make([]byte, 4<<20)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		total += int64(len(b))
	}
	if err := os.WriteFile(filepath.Join(src, "small.txt"), []byte("small\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	total += 6
	dst := t.TempDir()

	lines := make(chan map[string]any, 100)
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Info, JSONFormat: true, Output: lineWriter{lines}})
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ticks: make(chan time.Time), made: make(chan time.Duration, 1)}

	verb, dir, rate, under := "push", sshtest.ToTarget, int64(1<<20), int64(1<<20)
	if !push {
		// Wait for the first file to be complete, and part of the second.
		verb, dir, rate, under = "pull", sshtest.ToClient, 4<<20, 5<<20
	}
	proxy.SetRate(rate)
	type result struct {
		res *rsync.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		opts := rsync.Options{Logger: logger, Clock: clock}
		if !push {
			res, err := rsync.Pull(context.Background(), tr, src+"/", dst+"/", opts)
			done <- result{res, err}
			return
		}
		res, err := rsync.Push(context.Background(), tr, src+"/", dst+"/", opts)
		done <- result{res, err}
	}()

	if d := <-clock.made; d != rsync.DefaultProgressInterval {
		t.Errorf("progress interval %v, want %v", d, rsync.DefaultProgressInterval)
	}
	deadline := time.Now().Add(30 * time.Second)
	for proxy.Forwarded(dir) < under {
		if time.Now().After(deadline) {
			t.Fatalf("the %s did not get under way: %d bytes forwarded", verb, proxy.Forwarded(dir))
		}
		time.Sleep(10 * time.Millisecond) // polling the proxy's counter, with a deadline
	}
	clock.ticks <- clock.now.Add(5 * time.Second)
	var line map[string]any
	for line == nil {
		select {
		case m := <-lines:
			if msg, _ := m["@message"].(string); strings.HasPrefix(msg, verb+" progress:") {
				line = m
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no progress line after the tick")
		}
	}
	proxy.SetRate(0)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}

	num := func(k string) int64 { f, _ := line[k].(float64); return int64(f) }
	if line["@level"] != "info" || num("files_total") != 4 || num("bytes_total") != total {
		t.Errorf("progress line %v: want info, 4 files, %d bytes in all", line, total)
	}
	doneBytes := num("bytes_done")
	if doneBytes <= 0 || doneBytes >= total {
		t.Errorf("bytes_done = %d, want part of %d (the transfer was under way)", doneBytes, total)
	}
	if rate := num("bytes_per_second"); rate != doneBytes/5 {
		t.Errorf("bytes_per_second = %d, want %d (bytes done over the 5 s the clock moved)", rate, doneBytes/5)
	}
	if eta, _ := line["eta"].(string); eta == "" || eta == "unknown" {
		t.Errorf("eta = %q", eta)
	}
	if msg := line["@message"].(string); !strings.Contains(msg, "of 4 files") || !strings.Contains(msg, "left") {
		t.Errorf("message %q", msg)
	}
	if r.res.Stats.FilesTransferred != 4 {
		t.Errorf("transferred %d files, want 4", r.res.Stats.FilesTransferred)
	}
}
