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
	// Local is the local path as the engine takes it: Raw, or on Windows
	// Raw with "/" for "\" (see windowsLocal).
	Local string
}

// Path is the local path, or the path on the remote host.
func (e endpoint) Path() string {
	if e.Remote {
		return e.Spec.Path
	}
	return e.Local
}

// parseEndpoint parses a source or destination by the rules of the
// platform the provider runs on.
func parseEndpoint(s string) (endpoint, error) {
	return parseEndpointFor(s, windowsPaths)
}

// parseEndpointFor parses a source or destination; windows selects the
// rules of a Windows runner, where "\" separates path components and a
// letter followed by ":" is a drive (windowsLocal). It is a function of
// the platform rather than of the build so that one test checks both.
func parseEndpointFor(s string, windows bool) (endpoint, error) {
	if s == "" {
		return endpoint{}, &remoteError{Value: s, Reason: "is empty"}
	}
	if windows {
		local, isLocal, err := windowsLocal(s)
		if err != nil {
			return endpoint{}, err
		}
		if isLocal {
			return endpoint{Raw: s, Local: local}, nil
		}
	}
	spec, err := parseRemote(s)
	if err == nil {
		return endpoint{Raw: s, Remote: true, Spec: spec}, nil
	}
	var re *remoteError
	if errors.As(err, &re) && re.NoHost {
		return endpoint{Raw: s, Local: s}, nil
	}
	return endpoint{}, err
}

// windowsLocal recognises the local path forms of Windows that rsync's
// own rule would misread: a drive (`C:\site\`, `C:/site/`), which has a
// ":" before any "/", and paths separated by "\" (`.\site\`, `site\`, UNC
// `\\server\share\site\`). It returns the path with "/" for every "\":
// Go on Windows accepts "/", and the engine reads rsync's trailing-slash
// rule ("dir/" copies the contents) from it; a UNC path becomes
// "//server/share/...", which Windows (and Go's filepath) still reads as
// UNC. isLocal is false for everything else, which is then parsed as on
// any platform: "host:path" is remote, "site/" local. A one-letter host
// stays reachable as "user@c:path" or "[c]:path".
func windowsLocal(s string) (local string, isLocal bool, err error) {
	fail := func(reason string) (string, bool, error) {
		return "", false, &remoteError{Value: s, Reason: reason}
	}
	switch {
	case strings.HasPrefix(s, `\\?\`), strings.HasPrefix(s, `\\.\`), strings.HasPrefix(s, `//?/`), strings.HasPrefix(s, `//./`):
		return fail(`is a Windows device or extended-length path; write the plain path (C:\site\ or \\server\share\site\): ` +
			`long paths work without the \\?\ prefix`)
	case len(s) >= 3 && s[1] == ':' && s[2] == ':':
		return "", false, nil // "h::module": parseRemote names the daemon form
	case len(s) >= 2 && s[1] == ':' && isASCIILetter(s[0]):
		if len(s) == 2 || (s[2] != '\\' && s[2] != '/') {
			return fail(fmt.Sprintf(`is either a path relative to the current directory of drive %s (which depends on how `+
				`Terraform was started) or a one-letter host; for a local path write a full path such as %s\site\ or one relative `+
				`to the directory Terraform runs in such as .\site\, for a host write user@%s or [%s]:path`,
				s[:2], s[:2], s, s[:1]))
		}
	case strings.HasPrefix(s, `\\`):
		srv, share, _ := strings.Cut(s[2:], `\`)
		if srv == "" || strings.Trim(share, `\/`) == "" || strings.HasPrefix(share, `\`) {
			return fail(`is an incomplete UNC path; write \\server\share\dir\`)
		}
	default:
		c := strings.IndexByte(s, ':')
		b := strings.IndexByte(s, '\\')
		if b < 0 || (c >= 0 && c < b) {
			return "", false, nil
		}
	}
	return strings.ReplaceAll(s, `\`, "/"), true, nil
}

func isASCIILetter(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

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
	local := `"${path.module}/site/"`
	if windowsPaths {
		local += ` or C:\site\, .\site\, \\server\share\site\ (a trailing \ copies the contents)`
	}
	return fmt.Sprintf("%s %s. Write a local path (%s) or a remote location [user@]host:path, "+
		"for example \"deploy@web1.example.com:/var/www/site/\" (an IPv6 address goes in brackets: \"[2001:db8::1]:/var/www/site/\"; "+
		"an empty path after \":\" means the login directory).", attr, err, local)
}
