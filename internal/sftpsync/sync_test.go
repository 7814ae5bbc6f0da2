package sftpsync

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// sftpServer is OpenSSH's sftp-server, run locally as the peer: the same
// server program sshd's "Subsystem sftp" runs (internal-sftp is it, in
// process).
func sftpServer(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" || os.Getenv("TF_ACC") != "" {
		t.Fatal("OpenSSH's sftp-server is not installed (Debian: openssh-sftp-server)")
	}
	t.Skip("OpenSSH's sftp-server is not installed")
	return ""
}

// localStarter starts sftp-server as a local process for each subsystem.
type localStarter struct{ server string }

func (l localStarter) StartSubsystem(ctx context.Context, _ string) (rsync.Process, error) {
	return rsync.ExecTransport{}.Start(ctx, "exec "+l.server)
}

func openLocal(t *testing.T) *Session {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, localStarter{sftpServer(t)}, rsync.ExecTransport{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// rsyncOracle asks the stock rsync what it would still change (by
// checksum, deleting too): nothing after an exact sync.
func rsyncOracle(t *testing.T, src, dst string) {
	t.Helper()
	out, err := exec.Command("rsync", "-rlptnic", "--delete", src+"/", dst+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("rsync: %v: %s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Fatalf("rsync -rlptnic --delete %s/ %s/ would still change:\n%s", src, dst, s)
	}
}

func TestPushRichTreeAndMutate(t *testing.T) {
	s := openLocal(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())
	dst := filepath.Join(t.TempDir(), "site")
	// Something to delete, and a stale temporary file of an earlier run.
	if err := os.MkdirAll(filepath.Join(dst, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "old", "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, ".index.html.a1B2c3"), []byte("torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := s.Push(ctx, src+"/", dst, rsync.Options{Delete: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Deleted != 2 {
		t.Errorf("deleted %d, want 2 (old/x and old/): %+v", res.Stats.Deleted, res.Changes)
	}
	if err := testtree.Compare(src, dst); err != nil {
		t.Fatal(err)
	}
	rsyncOracle(t, src, dst)

	// A second push changes nothing.
	res, err = s.Push(ctx, src+"/", dst, rsync.Options{Delete: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 0 || res.Stats.FilesTransferred != 0 {
		t.Fatalf("second push changed %+v", res.Changes)
	}

	testtree.Mutate(t, src)
	dry, err := s.Push(ctx, src+"/", dst, rsync.Options{Delete: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Stats.Deleted == 0 || len(dry.Changes) == 0 {
		t.Fatalf("dry run saw nothing to do: %+v", dry.Changes)
	}
	if testtree.Compare(src, dst) == nil {
		t.Fatal("the dry run changed the destination")
	}
	res, err = s.Push(ctx, src+"/", dst, rsync.Options{Delete: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Deleted != dry.Stats.Deleted || len(res.Changes) != len(dry.Changes) {
		t.Errorf("dry run planned %+v, the push did %+v", dry.Changes, res.Changes)
	}
	if err := testtree.Compare(src, dst); err != nil {
		t.Fatal(err)
	}
	rsyncOracle(t, src, dst)
}

func TestPushFiltersChmodAndDirectoryItself(t *testing.T) {
	s := openLocal(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "app")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, []testtree.Entry{
		{Path: "a.txt", Mode: 0o600, Content: []byte("a")},
		{Path: "skip.tmp", Mode: 0o644, Content: []byte("tmp")},
		{Path: "d", Dir: true, Mode: 0o700},
		{Path: "d/b.txt", Mode: 0o600, Content: []byte("b")},
	})
	dst := t.TempDir()
	keep := filepath.Join(dst, "app", "keep.log")
	if err := os.MkdirAll(filepath.Dir(keep), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keep, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dst, "sibling")
	if err := os.WriteFile(other, []byte("not in the transfer"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.Push(ctx, src, dst, rsync.Options{Delete: true, Exclude: []string{"*.tmp"}, Protect: []string{"*.log"}, Chmod: "D755,F644"})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{"app": 0o755, "app/a.txt": 0o644, "app/d": 0o755, "app/d/b.txt": 0o644, "app/keep.log": 0o644, "sibling": 0o644} {
		fi, err := os.Lstat(filepath.Join(dst, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "app", "skip.tmp")); !os.IsNotExist(err) {
		t.Errorf("excluded skip.tmp was sent: %v", err)
	}
}

func TestPullAndList(t *testing.T) {
	s := openLocal(t)
	ctx := context.Background()
	remote := filepath.Join(t.TempDir(), "remote")
	if err := os.Mkdir(remote, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, remote, testtree.Rich())
	local := filepath.Join(t.TempDir(), "local")
	if _, err := s.Pull(ctx, remote+"/", local, rsync.Options{Delete: true}); err != nil {
		t.Fatal(err)
	}
	if err := testtree.Compare(remote, local); err != nil {
		t.Fatal(err)
	}
	rsyncOracle(t, remote, local)

	l, err := s.List(ctx, remote+"/", rsync.Options{Checksum: true})
	if err != nil {
		t.Fatal(err)
	}
	if l.Checksum != "md5" {
		t.Fatalf("listing checksum %q, want md5 (md5sum runs here)", l.Checksum)
	}
	files := 0
	for _, e := range l.Entries {
		if e.IsRegular() {
			files++
			if len(e.Checksum) != 16 || string(e.Checksum) == string(make([]byte, 16)) {
				t.Errorf("%s: no digest", e.Name)
			}
		}
	}
	if files != 9 {
		t.Errorf("listed %d files, want 9", files)
	}
}

// TestPushCutMidFileLeavesNoTornFile cuts the SFTP session in the middle
// of a large file: the destination keeps the old file whole, only a
// temporary file is left beside it, and the next push removes it and
// lands the new file.
func TestPushCutMidFileLeavesNoTornFile(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	dst := filepath.Join(t.TempDir(), "dst")
	for _, d := range []string{src, dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := []byte(strings.Repeat("old content\n", 1000))
	if err := os.WriteFile(filepath.Join(dst, "big.bin"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 256<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}

	s := openLocal(t)
	pushed := make(chan error, 1)
	go func() {
		_, err := s.Push(ctx, src+"/", dst, rsync.Options{})
		pushed <- err
	}()
	// Wait for the temporary file to hold part of the data, then cut.
	deadline := time.Now().Add(60 * time.Second)
	var tmp string
	for tmp == "" {
		if time.Now().After(deadline) {
			t.Fatal("no temporary file grew within 60s")
		}
		ents, _ := os.ReadDir(dst)
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), ".big.bin.") && fi.Size() > 1<<20 {
				tmp = e.Name()
			}
		}
		select {
		case err := <-pushed:
			t.Fatalf("the push ended before it could be cut: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	_ = s.proc.Kill()
	if err := <-pushed; err == nil {
		t.Fatal("the cut push reported success")
	}
	got, err := os.ReadFile(filepath.Join(dst, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(old) {
		t.Fatalf("big.bin is torn: %d bytes, neither the old (%d) nor the new (%d) content", len(got), len(old), len(big))
	}
	if _, err := os.Stat(filepath.Join(dst, tmp)); err != nil {
		t.Fatalf("the temporary file %s is gone already: %v", tmp, err)
	}

	s2 := openLocal(t)
	if _, err := s2.Push(ctx, src+"/", dst, rsync.Options{}); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "big.bin" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("destination holds %v, want only big.bin (the temporary file removed)", names)
	}
	rsyncOracle(t, src, dst)
}

// TestPushIntoSymlinkedRoot: a destination that is a symlink to a
// directory is followed, as rsync follows it: the link stays, the files
// land in the directory it names.
func TestPushIntoSymlinkedRoot(t *testing.T) {
	s := openLocal(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, []testtree.Entry{{Path: "a.txt", Mode: 0o644, Content: []byte("a")}})
	base := t.TempDir()
	target := filepath.Join(base, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "current")
	if err := os.Symlink("target", link); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Push(context.Background(), src+"/", link, rsync.Options{Delete: true}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlinked root was replaced: %v %v", fi, err)
	}
	rsyncOracle(t, src, target)
}
