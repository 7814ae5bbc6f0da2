package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshconn"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/tree"
)

func priorValues() computedValues {
	return computedValues{
		SourceHash:      types.StringValue("xxh128:aaaa"),
		DestinationHash: types.StringValue("xxh128:aaaa"),
		Pending:         pendingValue(pendingOf(tree.Changes{Update: []string{"old.txt"}}), nil),
		LastSync:        lastSyncValue(rsync.Stats{FilesTransferred: 1}),
	}
}

func TestPlanComputed(t *testing.T) {
	empty := pendingOf(tree.Changes{})
	edit := pendingOf(tree.Changes{Update: []string{"index.html"}})
	tests := []struct {
		name     string
		in       planInput
		wantWork bool
		check    func(t *testing.T, out computedValues)
	}{
		{
			name:     "nothing to do keeps every prior value",
			in:       planInput{Prior: priorValues(), PriorExists: true, SourceHash: "xxh128:aaaa", Diff: empty, Drift: driftChecksum},
			wantWork: false,
			check: func(t *testing.T, out computedValues) {
				if !reflect.DeepEqual(out, priorValues()) {
					t.Errorf("out = %+v, want the prior values", out)
				}
			},
		},
		{
			name:     "a diff plans pending and leaves the rest to apply",
			in:       planInput{Prior: priorValues(), PriorExists: true, SourceHash: "xxh128:aaaa", Diff: edit, Drift: driftChecksum},
			wantWork: true,
			check: func(t *testing.T, out computedValues) {
				if !out.Pending.Equal(pendingValue(edit, nil)) {
					t.Errorf("pending = %v", out.Pending)
				}
				if !out.DestinationHash.IsUnknown() || !out.LastSync.IsUnknown() {
					t.Errorf("destination_hash %v, last_sync %v: want unknown", out.DestinationHash, out.LastSync)
				}
				if out.SourceHash.ValueString() != "xxh128:aaaa" {
					t.Errorf("source_hash = %v", out.SourceHash)
				}
			},
		},
		{
			name:     "a source change with an empty diff is still work",
			in:       planInput{Prior: priorValues(), PriorExists: true, SourceHash: "xxh128:bbbb", Diff: empty, Drift: driftChecksum},
			wantWork: true,
			check: func(t *testing.T, out computedValues) {
				if out.SourceHash.ValueString() != "xxh128:bbbb" || !out.Pending.Equal(pendingValue(pendingOf(tree.Changes{}), nil)) {
					t.Errorf("out = %+v", out)
				}
			},
		},
		{
			name:     "another algorithm with an empty diff is not a change",
			in:       planInput{Prior: priorValues(), PriorExists: true, SourceHash: "md5:cccc", Diff: empty, Drift: driftChecksum},
			wantWork: false,
			check: func(t *testing.T, out computedValues) {
				if out.SourceHash.ValueString() != "xxh128:aaaa" {
					t.Errorf("source_hash = %v, want the prior one", out.SourceHash)
				}
			},
		},
		{
			name:     "a changed listing definition is work",
			in:       planInput{Prior: priorValues(), PriorExists: true, SourceHash: "xxh128:aaaa", Diff: empty, ListingChanged: true, Drift: driftChecksum},
			wantWork: true,
		},
		{
			name:     "drift none: an unchanged source is no work",
			in:       planInput{Prior: priorValues(), PriorExists: true, SourceHash: "xxh128:aaaa", Drift: driftNone},
			wantWork: false,
		},
		{
			name:     "drift none: a changed source leaves pending to apply and destination_hash null",
			in:       planInput{Prior: priorValues(), PriorExists: true, SourceHash: "xxh128:bbbb", Drift: driftNone},
			wantWork: true,
			check: func(t *testing.T, out computedValues) {
				if !out.Pending.IsUnknown() || !out.DestinationHash.IsNull() {
					t.Errorf("pending %v, destination_hash %v", out.Pending, out.DestinationHash)
				}
			},
		},
		{
			name:     "create",
			in:       planInput{SourceHash: "xxh128:aaaa", Drift: driftChecksum},
			wantWork: true,
			check: func(t *testing.T, out computedValues) {
				if !out.Pending.IsUnknown() || out.SourceHash.ValueString() != "xxh128:aaaa" {
					t.Errorf("out = %+v", out)
				}
			},
		},
		{
			name: "after import: a matching tree sets source_hash only",
			in: planInput{
				Prior: computedValues{
					SourceHash: types.StringNull(), DestinationHash: types.StringValue("xxh128:aaaa"),
					Pending: types.ObjectNull(pendingAttrTypes), LastSync: types.ObjectNull(lastSyncAttrTypes),
				},
				PriorExists: true, SourceHash: "xxh128:aaaa", Diff: empty, Drift: driftChecksum,
			},
			wantWork: false,
			check: func(t *testing.T, out computedValues) {
				if out.SourceHash.ValueString() != "xxh128:aaaa" || !out.Pending.IsNull() || !out.LastSync.IsNull() ||
					out.DestinationHash.ValueString() != "xxh128:aaaa" {
					t.Errorf("out = %+v", out)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, work := planComputed(tt.in)
			if work != tt.wantWork {
				t.Fatalf("work = %v, want %v", work, tt.wantWork)
			}
			if tt.check != nil {
				tt.check(t, out)
			}
		})
	}
}

func TestPendingValueCaps(t *testing.T) {
	var c tree.Changes
	for i := 0; i < 250; i++ {
		c.Create = append(c.Create, filepath.Join("d", strings.Repeat("x", i%7+1)))
	}
	v := pendingValue(pendingOf(c), nil)
	attrs := v.Attributes()
	if n := len(attrs["create"].(types.List).Elements()); n != pendingCap {
		t.Errorf("create lists %d paths, want %d", n, pendingCap)
	}
	if got := attrs["create_count"].(types.Int64).ValueInt64(); got != 250 {
		t.Errorf("create_count = %d", got)
	}
	if n := len(attrs["delete"].(types.List).Elements()); n != 0 {
		t.Errorf("delete lists %d", n)
	}
}

func TestChangeTallyDeletions(t *testing.T) {
	tally := newChangeTally(context.Background(), false)
	tally.addAll([]rsync.Change{{Path: "x", Kind: rsync.ChangeDelete}, {Path: "y", Kind: rsync.ChangeCreate}, {Path: "z/", Kind: rsync.ChangeDelete}})
	for i := range 20 {
		tally.add(rsync.Change{Path: fmt.Sprintf("more%d", i), Kind: rsync.ChangeDelete})
	}
	if tally.deleted != 22 || tally.created != 1 || len(tally.firstDeleted) != maxDeletedNamed || tally.firstDeleted[1] != "z/" {
		t.Errorf("tally = %+v", tally)
	}
	first := tally.firstDeleted[:2]
	msg := maxDeleteError(2, 1, first)
	for _, w := range []string{"delete 2", "max_delete = 1", "nothing was changed", "x, z/", "raise max_delete"} {
		if !strings.Contains(msg, w) {
			t.Errorf("max_delete message lacks %q: %s", w, msg)
		}
	}
}

func TestContentAlgo(t *testing.T) {
	null := types.StringNull()
	if a := contentAlgo(nil, null, null); a != csum.XXH128 {
		t.Errorf("default = %v", a)
	}
	if a := contentAlgo(nil, types.StringValue("md5:00"), types.StringValue("xxh128:00")); a != csum.MD5 {
		t.Errorf("from destination_hash = %v", a)
	}
	if a := contentAlgo(nil, types.StringValue("meta:00"), types.StringValue("md5:00")); a != csum.MD5 {
		t.Errorf("meta destination_hash falls back to source_hash: %v", a)
	}
	m := &tree.Manifest{Mode: tree.Content, Algo: csum.XXH64}
	if a := contentAlgo(m, types.StringValue("md5:00"), null); a != csum.XXH64 {
		t.Errorf("from the destination manifest = %v", a)
	}
}

func TestLanding(t *testing.T) {
	tests := []struct {
		source, dest string
		known        bool
		want         destRoot
	}{
		{"site/", "/var/www/", true, destRoot{ListPath: "/var/www/", RemovePath: "/var/www/"}},
		{"site/", "/var/www", true, destRoot{ListPath: "/var/www/", RemovePath: "/var/www"}},
		{"./a/site", "/var/www", true, destRoot{ListPath: "/var/www/site", Prefix: "site", RemovePath: "/var/www/site"}},
		{"site", "", true, destRoot{ListPath: "site", Prefix: "site", RemovePath: "site"}},
		{"site/", "", true, destRoot{ListPath: "./", RemovePath: "."}},
		{"", "/x", true, destRoot{ListPath: "/x/", RemovePath: "/x"}},
		{".", "/x", true, destRoot{ListPath: "/x/", RemovePath: "/x"}},
		{"", "/srv/site/", false, destRoot{ListPath: "/srv/site/", RemovePath: "/srv/site/"}},
	}
	for _, tt := range tests {
		if got := landing(tt.source, tt.known, tt.dest, true); got != tt.want {
			t.Errorf("landing(%q, %v, %q) = %+v, want %+v", tt.source, tt.known, tt.dest, got, tt.want)
		}
	}
}

func TestParseEnds(t *testing.T) {
	tests := []struct {
		src, dst string
		dir      direction
		badAttr  string
	}{
		{"site/", "hh:/x", dirPush, ""},
		{"hh:/x/", "./out/", dirPull, ""},
		{"a/", "b/", dirLocal, ""},
		{"h1:/x", "h2:/y", 0, "source"},
		{"hh::mod", "/x", 0, "source"},
		{"a/", "hh::mod", 0, "destination"},
	}
	for _, tt := range tests {
		e, attr, err := parseEnds(tt.src, tt.dst)
		if tt.badAttr != "" {
			if err == nil || attr != tt.badAttr {
				t.Errorf("parseEnds(%q, %q) = %v, %q; want an error on %s", tt.src, tt.dst, err, attr, tt.badAttr)
			}
			continue
		}
		if err != nil || e.Dir != tt.dir {
			t.Errorf("parseEnds(%q, %q) = %v %v, want %v", tt.src, tt.dst, e.Dir, err, tt.dir)
		}
	}
	_, _, err := parseEnds("h1:/x", "h2:/y")
	if !strings.Contains(err.Error(), "both remote") {
		t.Errorf("two remotes: %v", err)
	}
}

func TestUnsafeRemovePath(t *testing.T) {
	for _, p := range []string{"", " ", "/", "//", ".", "./", "..", "~", "~/", "~deploy", "/var/../", "a/../.."} {
		if unsafeRemovePath(p) == nil {
			t.Errorf("unsafeRemovePath(%q) = nil, want refusal", p)
		}
	}
	for _, p := range []string{"/var/www/site", "/var/www/site/", "site", "~/site", "./site"} {
		if err := unsafeRemovePath(p); err != nil {
			t.Errorf("unsafeRemovePath(%q) = %v", p, err)
		}
	}
	if got := removeCommand("/var/www/it's", "sudo -n rsync"); got != `sudo -n rm -rf -- '/var/www/it'\''s'` {
		t.Errorf("removeCommand = %s", got)
	}
	if got := removeCommand("~/site", "'/opt/rsync 3/bin/rsync'"); got != `rm -rf -- ~/'site'` {
		t.Errorf("removeCommand = %s", got)
	}
	for in, want := range map[string]string{
		"rsync": "", "sudo rsync": "sudo", "sudo -u www /usr/bin/rsync --x": "sudo -u www", "/opt/x": "",
	} {
		if got := privilegePrefix(in); got != want {
			t.Errorf("privilegePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUnprotectedPaths: protect patterns take a protected path, its
// subtree and the directories above it out of the planned deletions;
// a directory copied by name is matched as the transfer names it.
func TestUnprotectedPaths(t *testing.T) {
	del := []string{"extra.txt", "old/", "old/.env", "old/x", "uploads/", "uploads/a/", "uploads/a/x.jpg"}
	got, err := unprotectedPaths(del, []string{"/uploads/", ".env"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"extra.txt", "old/x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unprotectedPaths = %v, want %v", got, want)
	}
	got, _ = unprotectedPaths(del, []string{"/site/uploads/"}, "site")
	if want := []string{"extra.txt", "old/", "old/.env", "old/x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("prefixed: %v, want %v", got, want)
	}
	got, _ = unprotectedPaths(del, nil, "")
	if !reflect.DeepEqual(got, del) {
		t.Errorf("no protect: %v", got)
	}
}

// TestWithChmod: the source manifest is compared with the chmod applied,
// as the transfer applies it (never to symlinks), without changing the
// manifest it was given.
func TestWithChmod(t *testing.T) {
	m := &tree.Manifest{Mode: tree.Content, Items: []tree.Item{
		{Name: ".", Kind: tree.Dir, Perm: 0o700},
		{Name: "a", Kind: tree.File, Perm: 0o600},
		{Name: "x", Kind: tree.File, Perm: 0o700},
		{Name: "l", Kind: tree.Symlink},
	}}
	got := withChmod(m, "D755,Fgo+rX")
	var perms []uint32
	for _, it := range got.Items {
		perms = append(perms, it.Perm)
	}
	if want := []uint32{0o755, 0o644, 0o755, 0}; !reflect.DeepEqual(perms, want) {
		t.Errorf("perms %o, want %o", perms, want)
	}
	if m.Items[1].Perm != 0o600 {
		t.Errorf("the manifest given was changed")
	}
	if withChmod(m, "") != m {
		t.Errorf("no chmod should return the manifest as is")
	}
}

// TestDeleteRootError: delete = true into the root or a login directory
// (remote), or into the root, home, current directory or one above it
// (local), is refused; a directory of its own, or a source copied by
// name, is not.
func TestDeleteRootError(t *testing.T) {
	cwd, _ := os.Getwd()
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		source, dest string
		refused      bool
	}{
		{"site/", "hh:/", true}, {"site/", "hh://", true}, {"site/", "hh:/.", true}, {"site/", "hh:", true},
		{"site/", "hh:.", true}, {"site/", "hh:~", true}, {"site/", "hh:~/", true}, {"site/", "hh:~www", true},
		{"site/", "hh:/var/www/", false}, {"site/", "hh:www", false}, {"site", "hh:/", false}, {"site", "hh:", false},
		{"hh:/srv/", "/", true}, {"hh:/srv/", cwd, true}, {"hh:/srv/", filepath.Dir(cwd) + "/", true},
		{"hh:/srv/", filepath.Join(t.TempDir(), "copy") + "/", false}, {"hh:/srv", "/", false},
		{"hh:/srv/", home, true}, {"hh:/srv/", home + "/", true}, {"hh:/srv", home, false},
	} {
		ends, _, err := parseEnds(tc.source, tc.dest)
		if err != nil {
			t.Fatalf("%s -> %s: %v", tc.source, tc.dest, err)
		}
		err = deleteRootError(ends.landing(true), ends.Dst.Remote, tc.dest)
		if (err != nil) != tc.refused {
			t.Errorf("%s -> %s: refused = %v (%v), want %v", tc.source, tc.dest, err != nil, err, tc.refused)
		}
	}
}

// TestDisplayPath: paths Terraform cannot carry or show as they are
// (invalid UTF-8, control characters) are quoted with Go escapes; a path
// starting with a quote is quoted too, so the rendering is unambiguous.
func TestDisplayPath(t *testing.T) {
	for in, want := range map[string]string{
		"a/b.txt": "a/b.txt", "café/ü": "café/ü", "two\nlines": `"two\nlines"`, "bad\xff.txt": `"bad\xff.txt"`,
		`"quoted"`: `"\"quoted\""`, "tab\there/": `"tab\there/"`,
	} {
		if got := displayPath(in); got != want {
			t.Errorf("displayPath(%q) = %s, want %s", in, got, want)
		}
	}
	if got := safeText("open \xff\xfe: no"); got != `open \xff\xfe: no` {
		t.Errorf("safeText = %q", got)
	}
}

func TestFilterSetKey(t *testing.T) {
	a := filterSet{Exclude: []string{"a", "b"}}
	b := filterSet{Exclude: []string{"a|b"}}
	c := filterSet{Include: []string{"a", "b"}}
	if a.key() == b.key() || a.key() == c.key() {
		t.Errorf("keys collide: %q %q %q", a.key(), b.key(), c.key())
	}
	// protect does not change what a listing holds.
	if p := (filterSet{Exclude: []string{"a", "b"}, Protect: []string{"p"}}); p.key() != a.key() {
		t.Errorf("protect changed the listing key: %q %q", p.key(), a.key())
	}
	inc, exc := filterSet{Include: []string{"i"}, Exclude: []string{"e"}, Protect: []string{"p"}}.engineFilters()
	if !reflect.DeepEqual(inc, []string{"i"}) || !reflect.DeepEqual(exc, []string{"e"}) {
		t.Errorf("engineFilters = %v %v", inc, exc)
	}
}

func TestQuickCheckBlind(t *testing.T) {
	src := &tree.Manifest{Mode: tree.Content, Items: []tree.Item{
		tree.Item{Name: "same", Kind: tree.File, Size: 3, ModTime: 10}.WithDigest([]byte{1}),
		tree.Item{Name: "blind", Kind: tree.File, Size: 3, ModTime: 10}.WithDigest([]byte{1}),
		tree.Item{Name: "seen", Kind: tree.File, Size: 3, ModTime: 10}.WithDigest([]byte{1}),
		tree.Item{Name: "new", Kind: tree.File, Size: 3, ModTime: 10}.WithDigest([]byte{1}),
	}}
	dst := &tree.Manifest{Mode: tree.Content, Items: []tree.Item{
		tree.Item{Name: "same", Kind: tree.File, Size: 3, ModTime: 10}.WithDigest([]byte{1}),
		tree.Item{Name: "blind", Kind: tree.File, Size: 3, ModTime: 10}.WithDigest([]byte{2}),
		tree.Item{Name: "seen", Kind: tree.File, Size: 3, ModTime: 11}.WithDigest([]byte{2}),
	}}
	if got := quickCheckBlind(tree.Pair(src, dst)); !reflect.DeepEqual(got, []string{"blind"}) {
		t.Errorf("quickCheckBlind = %v", got)
	}
	dst.Mode = tree.Metadata
	if got := quickCheckBlind(tree.Pair(src, dst)); got != nil {
		t.Errorf("metadata mode: %v", got)
	}
}

func TestRemoveLocal(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	for _, p := range []string{"/", cwd, ".", filepath.Dir(cwd), home} {
		if p == "" {
			continue
		}
		if d := removeLocal(p); !d.HasError() {
			t.Fatalf("removeLocal(%q) removed it", p)
		}
	}
	dir := filepath.Join(t.TempDir(), "copy")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if d := removeLocal(dir + "/"); d.HasError() {
		t.Fatalf("removeLocal: %v", d)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still there: %v", dir, err)
	}
}

// TestLeftoverTemps: ".NAME.XXXXXX" beside a source file NAME is an
// interrupted rsync's temporary file; other dot files are not.
func TestLeftoverTemps(t *testing.T) {
	src := &tree.Manifest{Items: []tree.Item{
		{Name: ".", Kind: tree.Dir}, {Name: "big.bin", Kind: tree.File}, {Name: "d", Kind: tree.Dir},
		{Name: "d/a.txt", Kind: tree.File}, {Name: ".env.abcdef", Kind: tree.File},
	}}
	dest := &tree.Manifest{Items: []tree.Item{
		{Name: ".big.bin.Ab12Cd", Kind: tree.File}, {Name: "d/.a.txt.zZ9yY8", Kind: tree.File},
		{Name: ".env.abcdef", Kind: tree.File}, {Name: ".other.Ab12Cd", Kind: tree.File},
		{Name: ".big.bin.toolong1", Kind: tree.File}, {Name: ".big.bin.Ab12Cd.d", Kind: tree.Dir},
	}}
	if got, want := leftoverTemps(tree.Pair(src, dest)), []string{".big.bin.Ab12Cd", "d/.a.txt.zZ9yY8"}; !reflect.DeepEqual(got, want) {
		t.Errorf("leftoverTemps = %v, want %v", got, want)
	}
}

// TestPushHintInterrupted: a lost connection and a remote rsync stopped
// by a signal are explained as interruptions (old or new files, apply
// again), not as a missing rsync or a permission problem.
func TestPushHintInterrupted(t *testing.T) {
	lost := fmt.Errorf("send big.bin: %w", &sshconn.LostError{Addr: "h:22", Reason: "the connection was closed (EOF)"})
	for _, err := range []error{lost, &rsync.ExitError{Code: 137}, &rsync.ExitError{Code: 20}} {
		h := pushHint(err)
		if !strings.Contains(h, "Nothing is left half-written") || strings.Contains(h, "installed") {
			t.Errorf("pushHint(%v) = %q", err, h)
		}
	}
	if h := pushHint(&rsync.ExitError{Code: 137}); !strings.Contains(h, "SIGKILL") {
		t.Errorf("the hint for a killed rsync does not mention its temporary file: %q", h)
	}
}
