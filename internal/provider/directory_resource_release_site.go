package provider

// The app root of a release deploy (issue 14) and the operations on it
// outside the transfer itself: reading what is there, preparing, finishing
// a build, switching the link, pruning and removing. One implementation
// runs shell commands on the remote host, with rsync_path's privilege
// prefix and every path quoted (only names that release.ValidName accepts
// are ever taken from the server); the other works on a local app root.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/release"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// siteState is what an app root holds.
type siteState struct {
	Exists bool // the app root exists
	// LinkTarget is the link's target; LinkIsLink is false when the link
	// is missing, and NotLink set when something else stands there.
	LinkTarget string
	LinkIsLink bool
	NotLink    bool
	Present    []string // release directories (valid names only)
	History    []string // the history file's ids, oldest first
}

// current is the release the link points to, "" when it points to none
// that is present.
func (s siteState) current(dir, root string) string {
	if !s.LinkIsLink {
		return ""
	}
	id, ok := release.ParseLinkTarget(s.LinkTarget, dir, root)
	if !ok {
		return ""
	}
	for _, p := range s.Present {
		if p == id {
			return id
		}
	}
	return ""
}

// sharedLink is a shared path and whether it is a directory.
type sharedLink struct {
	Path string
	Dir  bool
}

// site carries out the release operations on one app root.
type site interface {
	inspect(ctx context.Context) (siteState, error)
	// prepare creates the app root and the releases directory when
	// missing and refuses a link name taken by something else.
	prepare(ctx context.Context) error
	// count is the number of files and directories in the releases.
	count(ctx context.Context, ids []string) (int, error)
	// linkShared creates the tree's root (relRoot, relative to the app
	// root, depth directories below it) when missing, and in it the links
	// of the shared paths (and shared/<path> when missing), before the
	// transfer: rsync then sets the directories' times and modes as the
	// source has them.
	linkShared(ctx context.Context, relRoot string, depth int, shared []sharedLink) error
	// finish renames a build made under a partial name to the release's.
	finish(ctx context.Context, partial, id string) error
	// switchTo points the link at the release, in one rename.
	switchTo(ctx context.Context, id string) error
	// prune writes the history and removes the releases given and any
	// leftover partial build.
	prune(ctx context.Context, kept, remove []string) error
	// destroy removes the link and the releases directory.
	destroy(ctx context.Context) error
}

// remoteSite is an app root on the remote host.
type remoteSite struct {
	t         rsync.Transport
	root      string // the app root's path on the host ("" = login directory)
	dir, link string
	rsyncPath string
	opts      rsync.Options // for the link's push: rsync_path, owner, group, logger
	mode      uint32        // of directories it creates, when chmodOK
	chmodOK   bool
}

func (s *remoteSite) run(ctx context.Context, script string) (string, error) {
	cmd := privileged(script, s.rsyncPath)
	out, code, msg, err := runCommandOutput(ctx, s.t, cmd)
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("exited with status %d: %s", code, msg)
	}
	return out, nil
}

func (s *remoteSite) cd() string { return "cd -- " + scriptPath(s.root) }

func (s *remoteSite) inspect(ctx context.Context) (siteState, error) {
	d, l := shellQuote(s.dir), shellQuote(s.link)
	script := s.cd() + " 2>/dev/null || { echo absent; exit 0; }\n" +
		"echo present\n" +
		"if [ -L " + l + " ]; then printf 'link %s\\n' \"$(ls -ld -- " + l + " | head -n 1)\"; elif [ -e " + l + " ]; then echo notlink; fi\n" +
		"for d in " + d + "/*; do n=${d#" + d + "/}; case $n in *[!" + release.NameChars + "]*) continue ;; esac\n" +
		"  if [ -d \"$d\" ] && [ ! -L \"$d\" ]; then printf 'rel %s\\n' \"$n\"; fi; done\n" +
		"if [ -f " + d + "/" + release.HistoryFile + " ]; then sed -e 's/^/hist /' " + d + "/" + release.HistoryFile + "; fi\n"
	out, err := s.run(ctx, script)
	if err != nil {
		return siteState{}, err
	}
	return parseInspect(out, s.link), nil
}

// parseInspect reads inspect's output. Only valid names count; the link's
// target is what `ls -ld` shows after "LINK -> ".
func parseInspect(out, link string) siteState {
	var st siteState
	for _, line := range strings.Split(out, "\n") {
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "present":
			st.Exists = true
		case "notlink":
			st.NotLink = true
		case "link":
			st.LinkIsLink = true
			if i := strings.Index(rest, " "+link+" -> "); i >= 0 {
				st.LinkTarget = rest[i+len(link)+5:]
			}
		case "rel":
			if release.ValidName(rest) == nil {
				st.Present = append(st.Present, rest)
			}
		case "hist":
			if release.ValidName(rest) == nil {
				st.History = append(st.History, rest)
			}
		}
	}
	sort.Strings(st.Present)
	return st
}

// mkdirStep creates q when missing, with the configured mode.
func (s *remoteSite) mkdirStep(q string) string {
	create := "mkdir -- " + q
	if s.chmodOK {
		create += fmt.Sprintf(" && chmod %o -- %s", s.mode, q)
	}
	return "{ [ -d " + q + " ] || { " + create + "; } || [ -d " + q + " ]; }"
}

func (s *remoteSite) prepare(ctx context.Context) error {
	l := shellQuote(s.link)
	script := s.mkdirStep(scriptPath(s.root)) + " && " + s.cd() + " && " + s.mkdirStep(shellQuote(s.dir)) +
		" && { [ -L " + l + " ] || [ ! -e " + l + " ] || { echo " + shellQuote(s.link+" exists and is not a symlink") + " >&2; exit 3; }; }"
	_, err := s.run(ctx, script)
	return err
}

func (s *remoteSite) count(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	paths := make([]string, len(ids))
	for i, id := range ids {
		paths[i] = shellQuote(s.dir + "/" + id)
	}
	out, err := s.run(ctx, s.cd()+" && find "+strings.Join(paths, " ")+" | wc -l")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("count the files of %s: unexpected output %q", strings.Join(ids, ", "), out)
	}
	return n, nil
}

func (s *remoteSite) linkShared(ctx context.Context, relRoot string, depth int, shared []sharedLink) error {
	steps := []string{s.cd(), "mkdir -p -- " + shellQuote(relRoot)}
	for _, sh := range shared {
		sp := shellQuote(release.SharedDir + "/" + sh.Path)
		create := "mkdir -p -- " + shellQuote(path.Dir(release.SharedDir+"/"+sh.Path)) + " && : >> " + sp
		if sh.Dir {
			create = "mkdir -p -- " + sp
		}
		lp := shellQuote(relRoot + "/" + sh.Path)
		target := shellQuote(release.SharedTarget(sh.Path, depth))
		steps = append(steps, "{ [ -e "+sp+" ] || [ -L "+sp+" ] || { "+create+"; }; }",
			"{ [ -L "+lp+" ] || { mkdir -p -- "+shellQuote(path.Dir(relRoot+"/"+sh.Path))+" && rm -rf -- "+lp+" && ln -s -- "+target+" "+lp+"; }; }")
	}
	_, err := s.run(ctx, strings.Join(steps, " && "))
	return err
}

func (s *remoteSite) finish(ctx context.Context, partial, id string) error {
	if partial == "" {
		return nil
	}
	final := shellQuote(s.dir + "/" + id)
	_, err := s.run(ctx, s.cd()+" && { [ ! -e "+final+" ] || { echo "+shellQuote("release "+id+" appeared while it was built")+" >&2; exit 3; }; }"+
		" && mv -- "+shellQuote(s.dir+"/"+partial)+" "+final)
	return err
}

func (s *remoteSite) switchTo(ctx context.Context, id string) error {
	e := &flist.Entry{Name: s.link, Mode: flist.SIFLNK | 0o777, LinkTarget: release.LinkTarget(s.dir, id), ModTime: time.Now().Unix()}
	opts := s.opts
	opts.LinkDest, opts.Delete, opts.Chmod, opts.Checksum, opts.DryRun = nil, false, "", false, false
	dst := s.root
	if dst == "" {
		dst = "."
	}
	_, err := rsync.PushEntries(ctx, s.t, []*flist.Entry{e}, strings.TrimSuffix(dst, "/")+"/", opts)
	return err
}

func (s *remoteSite) prune(ctx context.Context, kept, remove []string) error {
	d := shellQuote(s.dir)
	hist := shellQuote(s.dir + "/" + release.HistoryFile)
	tmp := shellQuote(s.dir + "/" + release.HistoryFile + ".tmp")
	ids := make([]string, len(kept))
	for i, id := range kept {
		ids[i] = shellQuote(id)
	}
	script := s.cd() + " && printf '%s\\n' " + strings.Join(ids, " ") + " > " + tmp + " && mv -f -- " + tmp + " " + hist
	for _, id := range remove {
		script += " && rm -rf -- " + shellQuote(s.dir+"/"+id)
	}
	script += " && for p in " + d + "/" + release.PartialPrefix + "*; do if [ -e \"$p\" ]; then rm -rf -- \"$p\"; fi; done"
	_, err := s.run(ctx, script)
	return err
}

func (s *remoteSite) destroy(ctx context.Context) error {
	_, err := s.run(ctx, s.cd()+" 2>/dev/null || exit 0; rm -f -- "+shellQuote(s.link)+" && rm -rf -- "+shellQuote(s.dir))
	return err
}

// localSite is an app root on this machine.
type localSite struct {
	root      string
	dir, link string
	opts      rsync.Options // chmod, owner, group of created directories
}

func (s *localSite) p(rel ...string) string {
	return filepath.Join(append([]string{s.root}, rel...)...)
}

func (s *localSite) inspect(context.Context) (siteState, error) {
	var st siteState
	if fi, err := os.Stat(s.root); err != nil || !fi.IsDir() {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return st, err
		}
		return st, nil
	}
	st.Exists = true
	if fi, err := os.Lstat(s.p(s.link)); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			st.LinkIsLink = true
			if st.LinkTarget, err = os.Readlink(s.p(s.link)); err != nil {
				return st, err
			}
			st.LinkTarget = filepath.ToSlash(st.LinkTarget)
		} else {
			st.NotLink = true
		}
	}
	entries, err := os.ReadDir(s.p(s.dir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return st, err
	}
	for _, e := range entries {
		if e.IsDir() && release.ValidName(e.Name()) == nil {
			st.Present = append(st.Present, e.Name())
		}
	}
	if b, err := os.ReadFile(s.p(s.dir, release.HistoryFile)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if release.ValidName(l) == nil {
				st.History = append(st.History, l)
			}
		}
	}
	return st, nil
}

func (s *localSite) prepare(context.Context) error {
	// Like rsync, the app root is created but not its parents (mkpath
	// does that, before).
	if parent := filepath.Dir(filepath.Clean(s.root)); parent != "" {
		if _, err := os.Stat(parent); err != nil {
			return fmt.Errorf("the app root's parent: %w (set mkpath = true to create it)", err)
		}
	}
	for _, d := range []string{s.root, s.p(s.dir)} {
		if _, err := rsync.MkdirParents(filepath.Join(d, "x"), s.opts); err != nil {
			return err
		}
	}
	if fi, err := os.Lstat(s.p(s.link)); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("%s exists and is not a symlink", s.p(s.link))
	}
	return nil
}

func (s *localSite) count(_ context.Context, ids []string) (int, error) {
	n := 0
	for _, id := range ids {
		err := filepath.WalkDir(s.p(s.dir, id), func(_ string, _ fs.DirEntry, err error) error {
			n++
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (s *localSite) linkShared(_ context.Context, relRoot string, depth int, shared []sharedLink) error {
	if err := os.MkdirAll(s.p(filepath.FromSlash(relRoot)), 0o755); err != nil {
		return err
	}
	for _, sh := range shared {
		sp := s.p(release.SharedDir, filepath.FromSlash(sh.Path))
		if _, err := os.Lstat(sp); errors.Is(err, fs.ErrNotExist) {
			if sh.Dir {
				err = os.MkdirAll(sp, 0o755)
			} else if err = os.MkdirAll(filepath.Dir(sp), 0o755); err == nil {
				var f *os.File
				if f, err = os.OpenFile(sp, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
					err = f.Close()
				}
			}
			if err != nil {
				return fmt.Errorf("create shared path %s: %w", sp, err)
			}
		}
		lp := s.p(filepath.FromSlash(relRoot), filepath.FromSlash(sh.Path))
		if fi, err := os.Lstat(lp); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(lp), 0o755); err != nil {
			return err
		}
		if err := os.RemoveAll(lp); err != nil {
			return err
		}
		if err := os.Symlink(release.SharedTarget(sh.Path, depth), lp); err != nil {
			return fmt.Errorf("link shared path %s: %w", sh.Path, err)
		}
	}
	return nil
}

func (s *localSite) finish(_ context.Context, partial, id string) error {
	if partial == "" {
		return nil
	}
	final := s.p(s.dir, id)
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("release %s appeared while it was built", id)
	}
	return os.Rename(s.p(s.dir, partial), final)
}

func (s *localSite) switchTo(_ context.Context, id string) error {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	tmp := s.p("." + s.link + ".tmp-" + hex.EncodeToString(b[:]))
	if err := os.Symlink(release.LinkTarget(s.dir, id), tmp); err != nil {
		return err
	}
	// rename(2) replaces the old link in one step.
	if err := os.Rename(tmp, s.p(s.link)); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

func (s *localSite) prune(_ context.Context, kept, remove []string) error {
	hist := s.p(s.dir, release.HistoryFile)
	//nolint:gosec // as readable as the releases it lists (the remote one is made under the umask too)
	if err := os.WriteFile(hist+".tmp", []byte(strings.Join(kept, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(hist+".tmp", hist); err != nil {
		return err
	}
	for _, id := range remove {
		if err := os.RemoveAll(s.p(s.dir, id)); err != nil {
			return err
		}
	}
	partials, _ := filepath.Glob(s.p(s.dir, release.PartialPrefix+"*"))
	for _, p := range partials {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

func (s *localSite) destroy(context.Context) error {
	if err := os.Remove(s.p(s.link)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(s.p(s.dir))
}
