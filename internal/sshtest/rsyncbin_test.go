package sshtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRsync327(t *testing.T) {
	bin := Rsync327(t)
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "version 3.2.7 ") {
		t.Fatalf("%s --version: %s", bin, firstLine(out))
	}
	// The env override is honoured, and a wrong binary there is an error
	// rather than a silent fallback.
	t.Setenv("RSYNC_327_PATH", bin)
	if got := Rsync327(t); got != bin {
		t.Errorf("with RSYNC_327_PATH=%s got %s", bin, got)
	}
	// Another rsync, made up here: the system's may well be 3.2.7 itself
	// (Debian 12's is, as on CI).
	other := filepath.Join(t.TempDir(), "rsync")
	if err := os.WriteFile(other, []byte("#!/bin/sh\necho 'rsync  version 3.5.0  protocol version 32'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RSYNC_327_PATH", other)
	if _, err := Rsync327Path(); err == nil || !strings.Contains(err.Error(), "not rsync 3.2.7") {
		t.Errorf("RSYNC_327_PATH=%s (3.5.0): err = %v", other, err)
	}
}

// TestRsync327CacheLocation checks the XDG rule the shell script shares.
func TestRsync327CacheLocation(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if got, _ := rsync327CacheDir(); got != "/x/cache/terraform-provider-rsync/rsync-3.2.7" {
		t.Errorf("with XDG_CACHE_HOME: %s", got)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/h")
	if got, _ := rsync327CacheDir(); got != "/h/.cache/terraform-provider-rsync/rsync-3.2.7" {
		t.Errorf("with HOME only: %s", got)
	}
}

// TestFetchRsync327Script runs .ci/fetch-rsync327 against the cache that
// Rsync327 filled: it must agree on the path and not refetch.
func TestFetchRsync327Script(t *testing.T) {
	bin := Rsync327(t)
	script, err := filepath.Abs("../../.ci/fetch-rsync327")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", script).Output()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	if got := strings.TrimSpace(string(out)); got != bin {
		t.Errorf("script printed %q, Rsync327 returned %q", got, bin)
	}
}
