package provider

// Guards and conversions of rsync_directory that sit between the
// configuration and the engine: the delete-root guard, chmod and protect
// applied to what the plan compares, and text made safe for Terraform
// (whose strings must be valid UTF-8).

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	fwpath "github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// deleteRootError refuses a sync with delete = true whose deletions would
// happen in a directory that holds far more than the copy: the root, the
// login directory (remote "", ".", "~", "~user"), or locally the root, the
// home directory, the current directory or one of its ancestors. Only a
// contents copy ("dir/") deletes in the destination itself; a directory
// copied by name deletes only inside destination/dir.
func deleteRootError(root destRoot, remote bool, destination string) error {
	if root.Prefix != "" {
		return nil
	}
	p := strings.TrimSpace(root.RemovePath)
	what := ""
	if remote {
		c := path.Clean(p)
		switch {
		case p == "" || c == ".":
			what = "the login directory"
		case c == "/":
			what = "the root directory"
		case c == "~" || (strings.HasPrefix(c, "~") && !strings.Contains(c, "/")):
			what = "a login directory"
		}
	} else {
		what = localRootKind(p)
	}
	if what == "" {
		return nil
	}
	return fmt.Errorf("destination %q is %s, and with delete = true the sync would delete everything there that is "+
		"not in the source. Point destination at a directory of its own (e.g. \"host:/var/www/site/\"), copy the source "+
		"directory by name (no trailing slash: it lands in destination/NAME and deletes only there), or set "+
		"allow_delete_root = true if deleting everything else there is really intended", destination, what)
}

// localRootKind says which directory that holds far more than a copy the
// local path p is — "the root directory", "the home directory", "the
// directory Terraform runs in, or one above it" — or "" when it is none of
// them. filepath does the comparisons, so they follow the platform: a
// drive's root (C:\) or a UNC share's is a root on Windows, and names
// compare without regard to case there.
func localRootKind(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	inside := func(child, parent string) bool { // child is parent or below it
		rel, err := filepath.Rel(parent, child)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	cwd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	switch {
	case filepath.Dir(abs) == abs:
		return "the root directory"
	case home != "" && inside(abs, home) && inside(home, abs):
		return "the home directory"
	case cwd != "" && inside(cwd, abs):
		return "the directory Terraform runs in, or one above it"
	}
	return ""
}

// withChmod returns m with a --chmod string applied to the permissions of
// its files and directories, as the transfer applies it: what the
// destination will hold. m itself (possibly cached) is not changed.
func withChmod(m *tree.Manifest, spec string) *tree.Manifest {
	if m == nil || spec == "" {
		return m
	}
	apply := chmodOf(spec)
	if apply == nil {
		return m
	}
	out := &tree.Manifest{Mode: m.Mode, Algo: m.Algo, Items: make([]tree.Item, len(m.Items))}
	copy(out.Items, m.Items)
	for i := range out.Items {
		apply(&out.Items[i])
	}
	return out
}

// chmodOf is chmod (spec) applied to one item as the transfer applies it:
// to every kind but symlinks (devices and specials too). nil when spec
// changes nothing.
func chmodOf(spec string) func(*tree.Item) {
	if spec == "" {
		return nil
	}
	ch, err := rsync.ParseChmod(spec)
	if err != nil {
		return nil // validated at plan time; never here
	}
	return func(it *tree.Item) {
		if it.Kind != tree.Symlink {
			it.Perm = ch.Apply(it.Perm, it.Kind == tree.Dir) & 0o7777
		}
	}
}

// unprotected removes from planned deletions (tree.Diff's display paths,
// directories with a trailing "/") what protect patterns spare: a
// protected path, everything below a protected directory, and the
// directories above a protected path (rsync cannot remove a directory that
// keeps something). Names are matched as the transfer names them: below
// the source directory's name when it is copied by name.
func unprotected(paths []string, c syncConfig) ([]string, diag.Diagnostics) {
	var diags diag.Diagnostics
	out, err := unprotectedPaths(paths, c.Filters.Protect, c.root().Prefix)
	if err != nil {
		diags.AddAttributeError(fwpath.Root("protect"), "Invalid protect pattern", err.Error())
	}
	return out, diags
}

func unprotectedPaths(paths, protect []string, prefix string) ([]string, error) {
	if len(protect) == 0 || len(paths) == 0 {
		return paths, nil
	}
	rules, err := filter.New(nil, nil)
	if err != nil {
		return nil, err
	}
	if err := rules.AddProtect(protect); err != nil {
		return nil, err
	}
	kept := map[string]bool{} // names (no trailing slash) that stay
	for _, p := range paths {
		name := strings.TrimSuffix(p, "/")
		if name == "." || name == "" {
			continue
		}
		transfer := name
		if prefix != "" {
			transfer = prefix + "/" + name
		}
		if rules.Protected(transfer, strings.HasSuffix(p, "/")) {
			kept[name] = true
			for d := path.Dir(name); d != "." && d != "/" && !kept[d]; d = path.Dir(d) {
				kept[d] = true
			}
		}
	}
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if !kept[strings.TrimSuffix(p, "/")] {
			out = append(out, p)
		}
	}
	return out, nil
}

// ownershipChanged reports whether owner or group differ between the
// prior state and the plan: they are not in the hashes, so the plan must
// sync to apply them.
func ownershipChanged(prior, plan directoryModel) bool {
	return !prior.Owner.Equal(plan.Owner) || !prior.Group.Equal(plan.Group)
}

// displayPath is a path as Terraform may show and store it. Terraform
// strings must be valid UTF-8, and a newline or other control character
// would garble plan output, so such a path — and, to keep the rendering
// unambiguous, any path starting with a double quote — is shown quoted
// with Go escapes (strconv.Quote: "a\nb", "caf\xe9"). Other paths are
// shown as they are.
func displayPath(p string) string {
	if needsQuoting(p) {
		return strconv.Quote(p)
	}
	return p
}

func needsQuoting(p string) bool {
	if !utf8.ValidString(p) || strings.HasPrefix(p, `"`) {
		return true
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// safeText makes engine and server text (which may quote file names in
// any encoding) valid UTF-8 for a diagnostic: each invalid byte becomes
// \xNN.
func safeText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// chmodValidator checks an rsync --chmod string with the engine's parser.
type chmodValidator struct{}

func (chmodValidator) Description(context.Context) string {
	return `must be an rsync --chmod string such as "D755,F644" or "u+rwX,go-w"`
}

func (v chmodValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (chmodValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := rsync.ParseChmod(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid chmod",
			fmt.Sprintf("%s: %q is not an rsync --chmod string: %v. Write comma-separated clauses, each an octal mode or "+
				"[ugoa]*[+-=][rwxXst]*, optionally prefixed with D (directories only) or F (files only), e.g. \"D755,F644\" or \"u+rwX,go-w\".",
				req.Path, req.ConfigValue.ValueString(), err))
	}
}

// rsyncTempName matches the name of a receiving rsync's temporary file,
// ".NAME.XXXXXX" (receiver.c:get_tmpname, mkstemp's six characters).
var rsyncTempName = regexp.MustCompile(`^\.(.+)\.[A-Za-z0-9]{6}$`)

// leftoverTemps lists the destination files that look like temporary
// files of an rsync killed before it could remove them: ".NAME.XXXXXX"
// beside a file NAME of the source, and not in the source themselves.
func leftoverTemps(pairs *tree.Pairing) []string {
	if pairs == nil {
		return nil
	}
	src := pairs.Src
	// The source's files by name, made only once a candidate turns up.
	var files map[string]bool
	var out []string
	pairs.Each(func(s, d *tree.Item) {
		if d == nil || d.Kind != tree.File || (s != nil && s.Kind == tree.File) {
			return
		}
		dir, base := path.Split(d.Name)
		m := rsyncTempName.FindStringSubmatch(base)
		if m == nil {
			return
		}
		if files == nil {
			files = make(map[string]bool)
			for _, it := range src.Items {
				if it.Kind == tree.File {
					files[it.Name] = true
				}
			}
		}
		if files[dir+m[1]] {
			out = append(out, displayPath(d.Name))
		}
	})
	return out
}

// checkSSH checks the SSH settings of the remote side at plan time, as the
// connection would before dialing (keys readable and parseable, the
// passphrase right, the host key policy usable), so that a mistake in them
// fails the plan rather than the apply. A key or known_hosts file that does
// not exist yet only warns: another resource may create it during the
// apply.
func (r *directoryResource) checkSSH(ctx context.Context, c syncConfig) diag.Diagnostics {
	ep, ok := c.Ends.remote()
	if !ok {
		return nil
	}
	attr := "destination"
	if c.Ends.Dir == dirPull {
		attr = "source"
	}
	cfg, diags := r.settings.resolve(ctx, c.Connection, ep.Spec.User, ep.Spec.Host)
	if diags.HasError() {
		return diags
	}
	err := sshconn.CheckSettings(cfg)
	if err == nil {
		return diags
	}
	msg := strings.TrimPrefix(err.Error(), "ssh: ")
	if errors.Is(err, fs.ErrNotExist) {
		diags.AddAttributeWarning(fwpath.Root(attr), "SSH settings name a missing file",
			fmt.Sprintf("The SSH settings for %s name a file that does not exist (yet): %s. The apply will fail "+
				"unless something creates it first.", displayHost(cfg), msg)+sshConfigNote(cfg))
		return diags
	}
	diags.AddAttributeError(fwpath.Root(attr), "Unusable SSH settings",
		fmt.Sprintf("The SSH settings for %s cannot be used: %s.", displayHost(cfg), msg)+sshConfigNote(cfg))
	return diags
}
