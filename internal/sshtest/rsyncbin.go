package sshtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Rsync327DebVersion is the Debian package that provides rsync 3.2.7: the
// bookworm release version, which stays in bookworm's main archive beside
// the 3.5.0 security update that is installed as /usr/bin/rsync. If a
// point release replaces it, Rsync327Path falls back to whatever 3.2.7-*
// version apt offers.
const Rsync327DebVersion = "3.2.7-1+deb12u6"

// rsync327Version is what `rsync --version` must report.
var rsync327Version = regexp.MustCompile(`\bversion 3\.2\.7\s`)

// Rsync327 returns the path of an rsync 3.2.7 binary for interop tests,
// unpacking it on first use (see Rsync327Path). It fails the test, never
// skips: CI must test against both rsync versions.
func Rsync327(t testing.TB) string {
	t.Helper()
	path, err := Rsync327Path()
	if err != nil {
		t.Fatalf("rsync 3.2.7 is needed for this test: %v", err)
	}
	return path
}

// Rsync327Path returns the path of an rsync 3.2.7 binary. It uses
// $RSYNC_327_PATH if set; else the copy unpacked in
// ${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-rsync/rsync-3.2.7/;
// else it fetches the Debian package with apt-get download (running
// apt-get update first if apt has no lists) and unpacks it there with
// dpkg -x. The binary is verified to run and report version 3.2.7; it
// uses the same Debian 12 shared libraries as the installed rsync 3.5.0.
// .ci/fetch-rsync327 does the same from a shell.
func Rsync327Path() (string, error) {
	if p := os.Getenv("RSYNC_327_PATH"); p != "" {
		if err := verifyRsync327(p); err != nil {
			return "", fmt.Errorf("RSYNC_327_PATH=%s: %w", p, err)
		}
		return p, nil
	}
	root, err := rsync327CacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "usr", "bin", "rsync")
	if _, err := os.Stat(bin); err == nil {
		if err := verifyRsync327(bin); err == nil {
			return bin, nil
		}
		// A broken cache (interrupted by hand, libraries changed) is
		// refetched rather than reported: the cache is ours to manage.
		if err := os.RemoveAll(root); err != nil {
			return "", fmt.Errorf("remove broken rsync 3.2.7 cache %s: %w", root, err)
		}
	}
	if err := fetchRsync327(root); err != nil {
		return "", fmt.Errorf("fetch rsync 3.2.7 into %s: %w (or set RSYNC_327_PATH to an rsync 3.2.7 binary)", root, err)
	}
	if err := verifyRsync327(bin); err != nil {
		return "", err
	}
	return bin, nil
}

// rsync327CacheDir follows the XDG rule on every OS, not os.UserCacheDir,
// so that the Go helper and .ci/fetch-rsync327 agree on the location.
func rsync327CacheDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory for rsync 3.2.7: set XDG_CACHE_HOME or HOME (%w)", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "terraform-provider-rsync", "rsync-3.2.7"), nil
}

func verifyRsync327(bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version failed (missing shared library?): %w: %s", bin, err, firstLine(out))
	}
	if !rsync327Version.Match(out) {
		return fmt.Errorf("%s is not rsync 3.2.7: it reports %q", bin, firstLine(out))
	}
	return nil
}

// fetchRsync327 downloads and unpacks the package into a temporary
// directory beside root and renames it into place, so a concurrent test
// process (go test runs packages in parallel) or an interrupted fetch never
// leaves a half-unpacked tree at root.
func fetchRsync327(root string) error {
	parent := filepath.Dir(root)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "rsync-3.2.7.tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	deb, err := downloadRsync327(ctx, tmp)
	if err != nil {
		return err
	}
	unpacked := filepath.Join(tmp, "root")
	if out, err := exec.CommandContext(ctx, "dpkg", "-x", deb, unpacked).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg -x %s: %w: %s", filepath.Base(deb), err, bytes.TrimSpace(out))
	}
	if err := os.Rename(unpacked, root); err != nil {
		if _, statErr := os.Stat(filepath.Join(root, "usr", "bin", "rsync")); statErr == nil {
			return nil // another process got there first
		}
		return err
	}
	return nil
}

// downloadRsync327 runs apt-get download in dir and returns the .deb path.
// It tries the pinned version, then after apt-get update (a fresh machine
// may have no lists), then any 3.2.7 version apt knows of.
func downloadRsync327(ctx context.Context, dir string) (string, error) {
	download := func(version string) error {
		cmd := exec.CommandContext(ctx, "apt-get", "download", "rsync="+version)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get download rsync=%s: %w: %s", version, err, bytes.TrimSpace(out))
		}
		return nil
	}
	err := download(Rsync327DebVersion)
	if err != nil {
		cmd := exec.CommandContext(ctx, "apt-get", "-o", "DPkg::Lock::Timeout=120", "update")
		if out, uerr := cmd.CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("%w; then apt-get update failed (root needed): %w: %s", err, uerr, lastLines(out, 5))
		}
		err = download(Rsync327DebVersion)
	}
	if err != nil {
		v, verr := aptRsync327Version(ctx)
		if verr != nil {
			return "", fmt.Errorf("%w; %w", err, verr)
		}
		if err = download(v); err != nil {
			return "", err
		}
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "rsync_*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download left %d rsync .deb files in %s, want 1", len(debs), dir)
	}
	return debs[0], nil
}

// aptRsync327Version asks apt which 3.2.7 package versions it can fetch.
func aptRsync327Version(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "apt-cache", "madison", "rsync").Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache madison rsync: %w", err)
	}
	// Lines look like: "     rsync | 3.2.7-1+deb12u6 | http://... Packages".
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Split(line, "|")
		if len(fields) >= 2 {
			if v := strings.TrimSpace(fields[1]); strings.HasPrefix(v, "3.2.7-") {
				return v, nil
			}
		}
	}
	return "", errors.New("apt offers no rsync 3.2.7 package (is Debian 12 bookworm main in the apt sources?)")
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
