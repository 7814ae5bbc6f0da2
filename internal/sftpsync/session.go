// Package sftpsync is the provider's second engine, for hosts where rsync
// does not run: it syncs a tree over the SSH File Transfer Protocol
// (github.com/pkg/sftp), whole files at a time, with the rsync engine's
// options and result types (internal/rsync). It never imports Terraform.
//
// What it does as rsync -a does: the quick check (size and mtime) decides
// what is sent; each file is written to ".NAME.XXXXXX" beside NAME, given
// its permissions and time, then renamed over NAME (posix-rename@openssh.com
// where the server has it), so no reader sees a torn file; delete,
// exclude/include/protect, chmod, symlinks (with their own times where the
// server has lsetstat@openssh.com), directory times. What SFTP cannot
// do (owners, hard links, devices, sparse files, deltas) the caller must
// refuse before it gets here.
package sftpsync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// Starter opens an SSH subsystem (here "sftp") as a process whose stdin
// and stdout carry it.
type Starter interface {
	StartSubsystem(ctx context.Context, name string) (rsync.Process, error)
}

// Session is an SFTP session to one server.
type Session struct {
	proc    rsync.Process
	client  *sftp.Client
	remote  *remoteFS
	starter Starter
	exec    rsync.Transport

	hashOnce sync.Once
	hasher   *Hasher

	rawMu  sync.Mutex
	raw    *rawSFTP
	rawErr error
}

// Open starts the server's sftp subsystem. exec, when not nil, runs
// commands on the server beside it (a hash command for content digests);
// a server that runs none is fine.
func Open(ctx context.Context, st Starter, exec rsync.Transport) (*Session, error) {
	p, err := st.StartSubsystem(ctx, "sftp")
	if err != nil {
		return nil, fmt.Errorf("start the sftp subsystem: %w", err)
	}
	s, err := NewSession(ctx, p, exec)
	if err != nil {
		return nil, err
	}
	s.starter = st
	return s, nil
}

// NewSession speaks SFTP over a process already started (the subsystem,
// or a local sftp-server in tests).
func NewSession(ctx context.Context, p rsync.Process, exec rsync.Transport) (*Session, error) {
	go drain(p)
	type res struct {
		c   *sftp.Client
		err error
	}
	ch := make(chan res, 1)
	go func() {
		// Writes of one file go out several at once: over a link with
		// latency, one request per round trip would crawl.
		c, err := sftp.NewClientPipe(p.Stdout(), p.Stdin(), sftp.UseConcurrentWrites(true))
		ch <- res{c, err}
	}()
	var r res
	select {
	case r = <-ch:
	case <-ctx.Done():
		_ = p.Kill()
		return nil, fmt.Errorf("sftp: %w", ctx.Err())
	}
	if r.err != nil {
		_ = p.Kill()
		return nil, fmt.Errorf("sftp: the server did not start an SFTP session: %w", r.err)
	}
	_, posix := r.c.HasExtension("posix-rename@openssh.com")
	s := &Session{proc: p, client: r.c, exec: exec, remote: &remoteFS{c: r.c, posixRename: posix}}
	if _, ok := r.c.HasExtension("lsetstat@openssh.com"); ok {
		s.remote.lset = s.lsetstat
	}
	return s, nil
}

// drain reads the subsystem's stderr, which must not fill up.
func drain(p rsync.Process) {
	buf := make([]byte, 4096)
	for {
		if _, err := p.Stderr().Read(buf); err != nil {
			return
		}
	}
}

// Close ends the session.
func (s *Session) Close() error {
	// Every call has returned, so nothing is lost by ending the session
	// first: the client's Close then returns at once, where a graceful
	// close waits for the server to notice our EOF and could block.
	_ = s.proc.Kill()
	err := s.client.Close()
	_, _ = s.proc.Wait()
	s.rawMu.Lock()
	if s.raw != nil {
		s.raw.close()
	}
	s.rawMu.Unlock()
	return err
}

// PosixRename reports whether the server replaces files atomically
// (posix-rename@openssh.com).
func (s *Session) PosixRename() bool { return s.remote.posixRename }

// Hasher is the server's hash command, found on first use; nil when the
// server runs none.
func (s *Session) Hasher(ctx context.Context) *Hasher {
	s.hashOnce.Do(func() { s.hasher = FindHasher(ctx, s.exec) })
	return s.hasher
}

// lsetstat sets a symlink's own times on a second SFTP session, opened
// on first use (pkg/sftp has no call for the extension).
func (s *Session) lsetstat(p string, mtime time.Time) error {
	s.rawMu.Lock()
	if s.raw == nil && s.rawErr == nil {
		if s.starter == nil {
			s.rawErr = errUnsupported
		} else if proc, err := s.starter.StartSubsystem(context.Background(), "sftp"); err != nil {
			s.rawErr = err
		} else if s.raw, err = newRawSFTP(proc); err != nil {
			_ = proc.Kill()
			s.rawErr = err
		}
	}
	raw, err := s.raw, s.rawErr
	s.rawMu.Unlock()
	if err != nil {
		return err
	}
	return raw.lsetstat(p, mtime)
}

// watch kills the session when ctx ends while a call runs, so that every
// blocked read and write returns.
func (s *Session) watch(ctx context.Context) func() bool {
	return context.AfterFunc(ctx, func() { _ = s.proc.Kill() })
}

// RemotePath is a destination path as the SFTP server takes it: the
// login directory for "" and "~", relative to it for "~/x" (SFTP
// sessions start there).
func RemotePath(p string) string {
	switch {
	case p == "" || p == "~" || p == "~/":
		return "."
	case strings.HasPrefix(p, "~/"):
		return p[2:]
	}
	return p
}

func dirPath(p string) string {
	p = RemotePath(p)
	if t := strings.TrimRight(p, "/"); t != "" {
		return t
	}
	return "/"
}

func (s *Session) remoteSide(ctx context.Context, checksum bool) side {
	sd := side{fs: s.remote}
	if checksum {
		if h := s.Hasher(ctx); h != nil {
			sd.digest = h.Digests
		}
	}
	return sd
}

// Push syncs the local source (rsync's trailing-slash rule) into the
// remote directory destDir.
func (s *Session) Push(ctx context.Context, source, destDir string, opts rsync.Options) (*rsync.Result, error) {
	defer s.watch(ctx)()
	j, err := newJob(side{fs: localFS{}, digest: localDigests}, s.remoteSide(ctx, opts.Checksum), source, dirPath(destDir), opts)
	if err != nil {
		return nil, err
	}
	res, err := j.run(ctx)
	return res, s.wrap(ctx, err)
}

// Pull syncs the remote source into the local directory localDest.
func (s *Session) Pull(ctx context.Context, remoteSource, localDest string, opts rsync.Options) (*rsync.Result, error) {
	defer s.watch(ctx)()
	src := RemotePath(remoteSource)
	if strings.HasSuffix(remoteSource, "/") && !strings.HasSuffix(src, "/") {
		src += "/"
	}
	j, err := newJob(s.remoteSide(ctx, opts.Checksum), side{fs: localFS{}, digest: localDigests}, src,
		strings.TrimRight(filepath.ToSlash(localDest), "/"), opts)
	if err != nil {
		return nil, err
	}
	if j.dstDir == "" {
		j.dstDir = "/"
	}
	res, err := j.run(ctx)
	if res != nil {
		// File data came from the server.
		res.Stats.BytesReceived, res.Stats.BytesSent = res.Stats.BytesSent, 0
	}
	return res, s.wrap(ctx, err)
}

// wrap says that a failure came from a cancelled operation.
func (s *Session) wrap(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// List lists the remote tree at remotePath as rsync --list-only would
// (trailing-slash rule), leaving out what the filters exclude. With
// opts.Checksum and a hash command on the server, regular files carry
// its md5 and Listing.Checksum is "md5"; a file it could not digest
// carries zeros (as rsync lists a file it could not read). Without one,
// Listing.Checksum is "" and files carry no digest.
func (s *Session) List(ctx context.Context, remotePath string, opts rsync.Options) (*rsync.Listing, error) {
	defer s.watch(ctx)()
	j, err := newJob(s.remoteSide(ctx, opts.Checksum), side{}, RemotePath(remotePath), ".", opts)
	if err != nil {
		return nil, err
	}
	entries, err := walk(s.remote, j.srcPath, j.prefix, walkOpts{rules: j.rules, devices: true, specials: true})
	if err != nil {
		return nil, s.wrap(ctx, err)
	}
	l := &rsync.Listing{Entries: entries}
	if opts.Checksum && j.src.digest != nil {
		var files []*flist.Entry
		var paths []string
		for _, e := range entries {
			if e.IsRegular() {
				files = append(files, e)
				paths = append(paths, j.srcAt(e.Name))
			}
		}
		sums, err := j.src.digest(ctx, paths)
		if err != nil {
			return nil, err
		}
		for i, e := range files {
			e.Checksum = sums[paths[i]]
			if e.Checksum == nil {
				e.Checksum = make([]byte, 16) // unreadable: compared by size and time
			}
		}
		l.Checksum = "md5"
	}
	return l, nil
}

// Exists reports whether p exists on the server (a dangling symlink
// counts).
func (s *Session) Exists(ctx context.Context, p string) (bool, error) {
	defer s.watch(ctx)()
	_, err := s.client.Lstat(RemotePath(p))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, s.wrap(ctx, err)
}

// RemoveAll removes p and everything below it.
func (s *Session) RemoveAll(ctx context.Context, p string) error {
	defer s.watch(ctx)()
	return s.wrap(ctx, removeAll(s.remote, dirPath(p)))
}

// MkdirAll creates the missing directories of dir, each with perm, and
// returns those it created.
func (s *Session) MkdirAll(ctx context.Context, dir string, perm uint32) ([]string, error) {
	defer s.watch(ctx)()
	dir = dirPath(dir)
	var missing []string
	for d := dir; d != "." && d != "/"; d = path.Dir(d) {
		_, err := s.client.Lstat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, s.wrap(ctx, err)
		}
		missing = append(missing, d)
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := s.client.Mkdir(d); err != nil {
			return made, s.wrap(ctx, fmt.Errorf("create %s: %w", d, err))
		}
		if err := s.remote.Chmod(d, perm); err != nil {
			return made, s.wrap(ctx, fmt.Errorf("set the permissions of %s: %w", d, err))
		}
		made = append(made, d)
	}
	return made, nil
}
