//go:build unix

package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// TestAccSourceVanished: a source file that disappears after the apply
// walked the source, while the file list is on its way, is rsync's "some
// files vanished" (exit 24): the apply succeeds with a warning naming the
// file, everything else arrives, and the next apply and plan settle.
func TestAccSourceVanished(t *testing.T) {
	srv := accSetup(t)
	r := newFaultRig(t, srv, rigOptions{})
	files := map[string][]byte{"index.html": []byte("<h1>hi</h1>\n"), "gone.txt": []byte("here at plan time\n")}
	for i := 0; i < 3000; i++ {
		files[fmt.Sprintf("many/%04d-%s.txt", i, randomHex(6))] = []byte("x")
	}
	writeFiles(t, r.src, files)
	// 3,000 names make a file list of some 60 KB; at 30 KB into it the
	// sender has walked the source but not yet opened any file.
	fired := r.proxy.At(sshtest.ToTarget, 30_000, func(*sshtest.ProxyConn) {
		if err := os.Remove(filepath.Join(r.src, "gone.txt")); err != nil {
			t.Error(err)
		}
	})
	res := r.tf.exec(5*time.Minute, "apply", "-input=false", "-auto-approve")
	if res.code != 0 || !fired() {
		t.Fatalf("apply exited %d (file removed: %v):\n%s", res.code, fired(), res.output())
	}
	record(t, "input/source-vanished", textFrom(res.output(), "Warning:"))
	if !outcome("input/source-vanished").MatchString(res.output()) {
		t.Errorf("the apply does not warn as %q:\n%s", outcomes["input/source-vanished"], res.output())
	}
	if err := mustNotExist(filepath.Join(r.dst, "gone.txt")); err != nil {
		t.Error(err)
	}
	r.apply()
	checkConverged(t, r.src, r.dst, true)
	r.planEmpty()
}

// TestAccSourceUnreadable: run as an unprivileged user (nobody), a source
// file or directory it may not read fails the plan, naming the path and
// the cause: unlike a vanished file, an unreadable one is not skipped
// (rsync itself exits 23 for it). Root reads anything, hence the user.
func TestAccSourceUnreadable(t *testing.T) {
	srv := accSetup(t)
	if os.Geteuid() != 0 {
		t.Fatal("this test runs terraform as nobody and needs root (CI runs as root)")
	}
	for _, tc := range []struct {
		id   string
		make func(t *testing.T, src string)
	}{
		{"input/source-unreadable-file", func(t *testing.T, src string) {
			writeFileBytes(t, filepath.Join(src, "secret.txt"), []byte("root only\n"))
			if err := os.Chmod(filepath.Join(src, "secret.txt"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"input/source-unreadable-dir", func(t *testing.T, src string) {
			writeFileBytes(t, filepath.Join(src, "private/secret.txt"), []byte("root only\n"))
			if err := os.Chmod(filepath.Join(src, "private"), 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(strings.TrimPrefix(tc.id, "input/"), func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "site")
			writeFileBytes(t, filepath.Join(src, "index.html"), []byte("<h1>public</h1>\n"))
			tc.make(t, src)
			openPath(t, src)
			dst := t.TempDir()
			tf := newBinRunner(t, map[string]string{"id_test": srv.ClientKeyPEM})
			config := providerConfig(srv, map[string]string{
				"private_key_file": hclString(filepath.Join(tf.dir, "id_test")), "known_hosts_file": "",
				"host_key": hclString(srv.HostKeyAuthorized),
			}) + rsyncDir("test", map[string]string{"source": hclString(src + "/"), "destination": hclString(remoteDest(srv, dst+"/"))})
			if err := os.WriteFile(filepath.Join(tf.dir, "main.tf"), []byte(config), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(tf.dir, "id_test"), 0o600); err != nil {
				t.Fatal(err)
			}
			tf.asUser(65534, 65534)
			res := tf.run(1, "plan", "-input=false")
			record(t, tc.id, errorText(res.output()))
			if !outcome(tc.id).MatchString(res.output()) {
				t.Errorf("the plan's error does not match %q:\n%s", outcomes[tc.id], res.output())
			}
			if des, _ := os.ReadDir(dst); len(des) != 0 {
				t.Errorf("something was copied: %d entries in the destination", len(des))
			}
		})
	}
}
