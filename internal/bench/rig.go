package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// rig is the server side every run talks to: one throwaway sshd on
// 127.0.0.1, and two proxies in front of it, one plain (loopback) and one
// shaped like a WAN link. Both tools connect through a proxy, never to
// sshd directly, so that the proxy counts their bytes alike.
type rig struct {
	sshd       *sshtest.Server
	lan, wan   *Proxy
	knownHosts string // both proxies' addresses with sshd's host key, for OpenSSH
}

// noBashrc is the sshd setting that keeps bash from sourcing the login
// user's ~/.bashrc before every remote command. bash does that when sshd
// runs it (SSH_SOURCE_BASHRC, on in Debian's bash) unless SHLVL says it
// is nested; sshd's SetEnv puts SHLVL=2 in every session. Without it, a
// heavy ~/.bashrc (on the development machine root's runs pyenv init:
// ~100 ms) adds the same fixed cost to every SSH session of every tool,
// which says nothing about the tools and drowns the short scenarios.
const noBashrc = "SetEnv SHLVL=2"

func startRig(ctx context.Context, dir, sshd string, wan Link, withBashrc bool) (_ *rig, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var opts []sshtest.Option
	if sshd != "" {
		opts = append(opts, sshtest.WithSSHD(sshd))
	}
	if !withBashrc {
		opts = append(opts, sshtest.WithExtraConfig(noBashrc))
	}
	r := &rig{}
	defer func() {
		if err != nil {
			_ = r.Close()
		}
	}()
	if r.sshd, err = sshtest.StartServer(dir, opts...); err != nil {
		return nil, err
	}
	if r.lan, err = StartProxy(ctx, r.sshd.Addr(), Link{}); err != nil {
		return nil, err
	}
	if r.wan, err = StartProxy(ctx, r.sshd.Addr(), wan); err != nil {
		return nil, err
	}
	r.knownHosts = filepath.Join(dir, "proxies_known_hosts")
	var lines []string
	for _, p := range []*Proxy{r.lan, r.wan} {
		addr := fmt.Sprintf("127.0.0.1:%d", p.Port())
		lines = append(lines, knownhosts.Line([]string{knownhosts.Normalize(addr)}, r.sshd.HostPublicKey))
	}
	if err := os.WriteFile(r.knownHosts, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write known_hosts: %w", err)
	}
	return r, nil
}

// Close stops the proxies and sshd.
func (r *rig) Close() error {
	var errs []error
	for _, p := range []*Proxy{r.lan, r.wan} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	if r.sshd != nil {
		errs = append(errs, r.sshd.Stop())
	}
	return errors.Join(errs...)
}
