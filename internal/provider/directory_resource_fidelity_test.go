package provider

import (
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
)

// TestWarningSummary: what devices/specials = false leave out is said as
// a deliberate skip, anything else keeps the side's "partly unreadable".
func TestWarningSummary(t *testing.T) {
	for w, want := range map[string]string{
		`skipping fifo "d/fifo": specials is false`:                 "Special files skipped (specials = false)",
		`skipping socket "s": specials is false`:                    "Special files skipped (specials = false)",
		`skipping device file "null": devices is false`:             "Device files skipped (devices = false)",
		`opendir /src/private failed: permission denied`:            "Source partly unreadable",
		`skipping non-regular file "j" (a junction or mount point)`: "Source partly unreadable",
	} {
		if got := warningSummary(w, "Source partly unreadable"); got != want {
			t.Errorf("%q: %q, want %q", w, got, want)
		}
	}
}

// TestFidelityConfig: null booleans are rsync -a's choice; the options
// reach the engine; a relative backup_dir inside the destination is
// excluded from what is listed, an outside one is not.
func TestFidelityConfig(t *testing.T) {
	var zero fidelityModel
	if c := fidelityConfigOf(zero); c != (fidelityConfig{}) {
		t.Errorf("null attributes: %+v, want rsync -a (the zero value)", c)
	}
	var o rsync.Options
	fidelityConfig{NoSpecials: true, HardLinks: true, Sparse: true, BackupDir: "b", BwLimit: 64}.engineOptions(&o)
	if o.NoDevices || !o.NoSpecials || !o.HardLinks || !o.Sparse || o.BackupDir != "b" || o.BwLimit != 64 {
		t.Errorf("engine options %+v", o)
	}
	for _, tc := range []struct {
		backup, dest string
		exclude      []string
	}{
		{".backup", "/srv/www/", []string{"/.backup"}},
		{"old/bak", "site", []string{"/old/bak"}},
		{"/srv/www/.bak", "/srv/www", []string{"/.bak"}},
		{"../backups", "/srv/www/", nil},
		{"/var/backups", "/srv/www/", nil},
		{"/srv/www/.bak", "www", nil},
	} {
		f := filterSet{Exclude: nil, Fidelity: fidelityConfig{BackupDir: tc.backup}}.withBackupExcluded(tc.dest)
		if len(f.Exclude) != len(tc.exclude) || (len(tc.exclude) > 0 && f.Exclude[0] != tc.exclude[0]) {
			t.Errorf("backup_dir %q into %q: exclude %q, want %q", tc.backup, tc.dest, f.Exclude, tc.exclude)
		}
	}
}
