package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

func TestTransportMode(t *testing.T) {
	var none *connSettings
	if got := none.transportMode(nil); got != transportAuto {
		t.Errorf("default transport %q, want auto", got)
	}
	s := &connSettings{Transport: transportSFTP}
	if got := s.transportMode(nil); got != transportSFTP {
		t.Errorf("provider's transport %q, want sftp", got)
	}
	conn := &connectionModel{Transport: types.StringValue(transportRsync)}
	if got := s.transportMode(conn); got != transportRsync {
		t.Errorf("ssh block's transport %q, want rsync (it wins)", got)
	}
	if got := s.transportMode(&connectionModel{Transport: types.StringNull()}); got != transportSFTP {
		t.Errorf("an unset ssh.transport gave %q, want the provider's sftp", got)
	}
}

func TestSFTPRefusals(t *testing.T) {
	var c syncConfig
	if d := sftpRefusals(c); d.HasError() {
		t.Fatalf("rsync -a's defaults refused over SFTP: %v", d)
	}
	c.Filters.Fidelity = fidelityConfig{HardLinks: true, Sparse: true, BackupDir: "b", BwLimit: 10}
	c.Owner, c.Group, c.Compress, c.Release = "www", "www", true, &releaseConfig{}
	d := sftpRefusals(c)
	if len(d.Errors()) != 8 {
		t.Fatalf("%d refusals, want 8 (hard_links, sparse, backup_dir, bwlimit, release, owner, group, compress): %v", len(d.Errors()), d)
	}
	var paths []string
	for _, e := range d.Errors() {
		if !strings.Contains(e.Detail(), "over SFTP") {
			t.Errorf("refusal does not name the transport: %s", e.Detail())
		}
		if wp, ok := e.(diag.DiagnosticWithPath); ok {
			paths = append(paths, wp.Path().String())
		}
	}
	if got := strings.Join(paths, " "); got != "hard_links sparse backup_dir bwlimit release owner group compress" {
		t.Errorf("refusals on %q", got)
	}
}

func TestSFTPSpecials(t *testing.T) {
	m := &tree.Manifest{Items: []tree.Item{
		{Name: "a", Kind: tree.File}, {Name: "p", Kind: tree.Fifo}, {Name: "s", Kind: tree.Socket, Ignored: true},
		{Name: "dev", Kind: tree.CharDevice},
	}}
	d := sftpSpecials(m)
	if len(d.Errors()) != 2 || !strings.Contains(d.Errors()[0].Detail(), "(dev)") || !strings.Contains(d.Errors()[1].Detail(), "1 fifos or sockets (p)") {
		t.Fatalf("refusals %v", d)
	}
	m.Items = m.Items[:1]
	if d := sftpSpecials(m); d.HasError() {
		t.Fatalf("a plain tree refused: %v", d)
	}
}
