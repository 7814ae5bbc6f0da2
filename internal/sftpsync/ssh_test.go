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
