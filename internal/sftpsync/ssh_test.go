package sftpsync

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/testtree"
)

// TestOverSSH pushes, then lists with digests, over a real sshd's
// internal-sftp: the SFTP session, the lsetstat session and the hash
// command's sessions share one connection.
func TestOverSSH(t *testing.T) {
	srv := sshtest.Start(t, sshtest.WithExtraConfig("Subsystem sftp internal-sftp"))
	client, err := ssh.Dial("tcp", srv.Addr(), srv.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	tr := sshconn.NewTransport(client)
	ctx := context.Background()
	s, err := Open(ctx, tr.(Starter), tr)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testtree.Write(t, src, testtree.Rich())
	dst := filepath.Join(t.TempDir(), "dst")
	for i := range 2 {
		if _, err := s.Push(ctx, src+"/", dst, rsync.Options{Delete: true}); err != nil {
			t.Fatal(err)
		}
		l, err := s.List(ctx, dst+"/", rsync.Options{Checksum: true})
		if err != nil {
			t.Fatal(err)
		}
		if l.Checksum != "md5" {
			t.Fatalf("checksum %q", l.Checksum)
		}
		rsyncOracle(t, src, dst)
		if i == 0 {
			testtree.Mutate(t, src)
		}
	}
}

// TestCutConnectionMidFile cuts the TCP connection under the SFTP session
// (a proxy between us and sshd) after 8 MiB of a 64 MiB file: the push
// fails, the destination file is still the old one, whole, and the next
// push over a new connection removes the temporary file and lands the new
// content.
func TestCutConnectionMidFile(t *testing.T) {
	srv := sshtest.Start(t, sshtest.WithExtraConfig("Subsystem sftp internal-sftp"))
	proxy := sshtest.StartProxy(t, srv.Addr())
	src := filepath.Join(t.TempDir(), "src")
	dst := filepath.Join(t.TempDir(), "dst")
	for _, d := range []string{src, dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := []byte("the old content, whole\n")
	if err := os.WriteFile(filepath.Join(dst, "big.bin"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = byte(i*31 + i>>12)
	}
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	push := func(addr string) error {
		client, err := ssh.Dial("tcp", addr, srv.ClientConfig())
		if err != nil {
			return err
		}
		defer client.Close()
		tr := sshconn.NewTransport(client)
		s, err := Open(ctx, tr.(Starter), tr)
		if err != nil {
			return err
		}
		defer s.Close()
		_, err = s.Push(ctx, src+"/", dst, rsync.Options{})
		return err
	}
	fired := proxy.CutAt(sshtest.ToTarget, 8<<20)
	if err := push(proxy.Addr()); err == nil {
		t.Fatal("the push over a cut connection reported success")
	}
	if !fired() {
		t.Fatal("the proxy never cut the connection")
	}
	got, err := os.ReadFile(filepath.Join(dst, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(old) {
		t.Fatalf("big.bin is torn after the cut: %d bytes", len(got))
	}
	// What the cut left: the old file and our temporary file beside it
	// (nobody could remove it), which the next push removes.
	ents, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 || !tempRe.MatchString(ents[0].Name()) || ents[1].Name() != "big.bin" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("after the cut the destination holds %v, want a .big.bin.XXXXXX temporary file and big.bin", names)
	}
	if err := push(srv.Addr()); err != nil {
		t.Fatal(err)
	}
	ents, err = os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("destination holds %v after the second push, want only big.bin", names)
	}
	rsyncOracle(t, src, dst)
}
