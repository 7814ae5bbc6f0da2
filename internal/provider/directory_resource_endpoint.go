package provider

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// endpoint is one side of a sync: a local path, or a remote location
// `[user@]host:path` (rsync's rule: a ":" before any "/" makes it remote).
type endpoint struct {
	Raw    string
	Remote bool
	Spec   remoteSpec // when Remote
}

// Path is the local path, or the path on the remote host.
func (e endpoint) Path() string {
	if e.Remote {
		return e.Spec.Path
	}
	return e.Raw
}

// parseEndpoint parses a source or destination.
func parseEndpoint(s string) (endpoint, error) {
	if s == "" {
		return endpoint{}, &remoteError{Value: s, Reason: "is empty"}
	}
	spec, err := parseRemote(s)
	if err == nil {
		return endpoint{Raw: s, Remote: true, Spec: spec}, nil
	}
	var re *remoteError
	if errors.As(err, &re) && re.NoHost {
		return endpoint{Raw: s}, nil
	}
	return endpoint{}, err
}

// direction of a sync.
type direction int

const (
	dirPush  direction = iota // local source, remote destination
	dirPull                   // remote source, local destination
	dirLocal                  // both local
)

func (d direction) String() string {
	switch d {
	case dirPull:
		return "pull"
	case dirLocal:
		return "local"
	}
	return "push"
}

// syncEnds are the parsed source and destination.
type syncEnds struct {
	Src, Dst endpoint
	Dir      direction
}

// remote is the remote side, if any.
func (e syncEnds) remote() (endpoint, bool) {
	switch e.Dir {
	case dirPush:
		return e.Dst, true
	case dirPull:
		return e.Src, true
	}
	return endpoint{}, false
}

// parseEnds parses source and destination and checks that at most one of
// them is remote. The error names the attribute at fault.
func parseEnds(source, destination string) (syncEnds, string, error) {
	src, err := parseEndpoint(source)
	if err != nil {
		return syncEnds{}, "source", err
	}
	dst, err := parseEndpoint(destination)
	if err != nil {
		return syncEnds{}, "destination", err
	}
	e := syncEnds{Src: src, Dst: dst}
	switch {
	case src.Remote && dst.Remote:
		return syncEnds{}, "source", errors.New("source and destination are both remote; rsync copies between a local path and a remote host, " +
			"or between two local paths, but not between two remote hosts. Make one of them a local path " +
			"(or run the sync on one of the hosts)")
	case src.Remote:
		e.Dir = dirPull
	case dst.Remote:
		e.Dir = dirPush
	default:
		e.Dir = dirLocal
	}
	return e, "", nil
}

// destRoot says where on the destination side the source's tree lands
// and how to read it back: ListPath is the path to list or hash (with a
// trailing "/" for a contents copy) and Prefix the name the listing gives
// the tree's root (tree.FromEntries strips it). RemovePath is what
// on_destroy = "delete" removes.
type destRoot struct {
	ListPath   string
	Prefix     string
	RemovePath string
}

// landing computes destRoot for a source path (rsync's trailing-slash rule
// applies: "dir/" lands as destination itself, "dir" as destination/dir)
// and a destination path. A null source (after import) is taken as a
// contents copy: the destination itself is the tree. remote says whether
// destPath is a remote path.
func landing(source string, sourceKnown bool, destPath string, remote bool) destRoot {
	join := path.Join
	if !remote {
		join = filepath.Join
	}
	if source == "" {
		source = "." // "host:" is the login directory: its contents
	}
	if !sourceKnown || copiesContents(source) {
		p := destPath
		if p == "" {
			p = "."
		}
		lp := p
		if !strings.HasSuffix(lp, "/") {
			lp += "/"
		}
		return destRoot{ListPath: lp, Prefix: "", RemovePath: p}
	}
	name := path.Base(path.Clean(source))
	p := name
	if destPath != "" {
		p = join(destPath, name)
	}
	return destRoot{ListPath: p, Prefix: name, RemovePath: p}
}

// sourceLanding is landing for the configured ends: the source's path
// (local or remote) against the destination's path.
func (e syncEnds) landing(sourceKnown bool) destRoot {
	return landing(e.Src.Path(), sourceKnown, e.Dst.Path(), e.Dst.Remote)
}

// existsCommand is the remote shell command that exits 0 when p exists.
func existsCommand(p string) string {
	if t := strings.TrimRight(p, "/"); t != "" {
		p = t
	}
	return "test -e " + remoteShellPath(p)
}

// unsafeRemovePath refuses paths that on_destroy = "delete" must never
// remove: empty, the root, the current or login directory, and anything
// that resolves to one of them.
func unsafeRemovePath(p string) error {
	t := strings.TrimSpace(p)
	if t == "" {
		return errors.New("the path is empty")
	}
	c := path.Clean(t)
	switch c {
	case "/", ".", "..", "~", "//":
		return fmt.Errorf("%q is the root, the current or the login directory", p)
	}
	if strings.HasPrefix(c, "~") && !strings.Contains(c, "/") {
		return fmt.Errorf("%q is a login directory", p)
	}
	for _, comp := range strings.Split(c, "/") {
		if comp == ".." {
			return fmt.Errorf("%q contains \"..\"", p)
		}
	}
	return nil
}

// removeCommand is the remote shell command that removes the tree at p,
// run with the privilege prefix of rsync_path (e.g. "sudo" from
// "sudo rsync"), since that is who wrote it.
func removeCommand(p, rsyncPath string) string {
	cmd := "rm -rf -- " + remoteShellPath(p)
	if pre := privilegePrefix(rsyncPath); pre != "" {
		cmd = pre + " " + cmd
	}
	return cmd
}

// privilegePrefix is what rsync_path puts before the rsync program: the
// words before the first word whose base name starts with "rsync", e.g.
// "sudo" in "sudo rsync" or "sudo -u www" in "sudo -u www /usr/bin/rsync".
func privilegePrefix(rsyncPath string) string {
	words := strings.Fields(rsyncPath)
	for i, w := range words {
		b := path.Base(strings.Trim(w, `'"`))
		if strings.HasPrefix(b, "rsync") {
			return strings.Join(words[:i], " ")
		}
	}
	return ""
}

// endpointValidator checks that a string is a local path or a remote
// location `[user@]host:path`.
type endpointValidator struct{}

func (endpointValidator) Description(context.Context) string {
	return "must be a local path or a remote location of the form [user@]host:path"
}

func (endpointValidator) MarkdownDescription(context.Context) string {
	return "must be a local path or a remote location of the form `[user@]host:path`"
}

func (endpointValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := parseEndpoint(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(), endpointDetail(req.Path.String(), err))
	}
}

// endpointDetail words a parseEndpoint error.
func endpointDetail(attr string, err error) string {
	return fmt.Sprintf("%s %s. Write a local path (\"${path.module}/site/\") or a remote location [user@]host:path, "+
		"for example \"deploy@web1.example.com:/var/www/site/\" (an IPv6 address goes in brackets: \"[2001:db8::1]:/var/www/site/\"; "+
		"an empty path after \":\" means the login directory).", attr, err)
}
