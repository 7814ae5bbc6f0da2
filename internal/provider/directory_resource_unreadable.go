package provider

// What the SSH user cannot read in the destination: files it cannot
// checksum and directories it cannot list. They are compared by what can
// be seen (tree.Item.Unreadable), so the plan settles, and one warning per
// plan says which they are and what that means.

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	tfpath "github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

// opendirFailed is the remote sender's message for a directory it could
// not open (flist.c:send_directory): rsync: [sender] opendir "PATH" failed: ...
var opendirFailed = regexp.MustCompile(`opendir "([^"]+)" failed`)

// unlistedDirs returns the manifest names of the directories a remote
// listing of listPath (whose tree's root is named prefix) could not open,
// from the server's messages.
func unlistedDirs(messages, listPath, prefix string) []string {
	base := listPath
	if !strings.HasSuffix(base, "/") {
		// "dir" lists dir itself, named prefix: the messages name it
		// from dir's parent.
		base = path.Dir(base) + "/"
		if base == "./" && !strings.HasPrefix(listPath, "./") {
			base = ""
		}
	}
	var names []string
	for _, m := range opendirFailed.FindAllStringSubmatch(messages, -1) {
		rel, ok := strings.CutPrefix(m[1], base)
		if !ok && m[1]+"/" == base {
			rel, ok = ".", true // the listed directory itself
		}
		if !ok {
			continue
		}
		rel = strings.TrimSuffix(rel, "/")
		if rel == "" || rel == "." {
			names = append(names, ".")
			continue
		}
		if prefix != "" {
			if rel == prefix {
				rel = "."
			} else if r, ok := strings.CutPrefix(rel, prefix+"/"); ok {
				rel = r
			} else {
				continue
			}
		}
		names = append(names, rel)
	}
	return names
}

// unreadableShown is how many paths of each kind the warning names.
const unreadableShown = 20

// unreadableWarning is the plan's one warning about what the destination
// listing could not read, or nothing.
func unreadableWarning(c syncConfig, dest *tree.Manifest) diag.Diagnostics {
	var diags diag.Diagnostics
	if dest == nil {
		return nil
	}
	files, dirs := dest.Unreadable()
	if len(files)+len(dirs) == 0 {
		return nil
	}
	who := "the SSH user"
	fix := "run the remote side as a user who may read them (rsync_path = \"sudo rsync\"), or leave them out with exclude"
	if !c.Ends.Dst.Remote {
		who, fix = "the user running Terraform", "give that user read access, or leave them out with exclude"
	}
	var parts []string
	if len(files) > 0 {
		parts = append(parts, fmt.Sprintf("Files it cannot read, compared by size, time and permissions instead of content "+
			"(an edit there that keeps all three is not seen, and the apply does not rewrite them for it): %s.", firstPaths(files, unreadableShown)))
	}
	if len(dirs) > 0 {
		parts = append(parts, fmt.Sprintf("Directories it cannot list, whose contents are not compared, not listed in pending "+
			"and not deleted: %s.", firstPaths(dirs, unreadableShown)))
	}
	diags.AddAttributeWarning(tfpath.Root("destination"), "Destination partly unreadable",
		fmt.Sprintf("Refresh read the destination %s, but %s cannot read all of it. %s\n\nTo compare them fully, %s.",
			c.Ends.Dst.Raw, who, strings.Join(parts, " "), fix))
	return diags
}
