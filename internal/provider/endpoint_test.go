package provider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseEndpointFor checks the endpoint rules of both platforms on
// any OS: Windows path forms are local on Windows (with "/" for "\", so
// the trailing-slash rule holds), a drive letter is never a host there,
// and the same strings keep rsync's Unix meaning elsewhere.
func TestParseEndpointFor(t *testing.T) {
	type want struct {
		remote bool
		local  string     // when !remote
		spec   remoteSpec // when remote
		err    string     // a part of the error, when one is expected
	}
	local := func(p string) want { return want{local: p} }
	remote := func(user, host, p string) want {
		return want{remote: true, spec: remoteSpec{User: user, Host: host, Path: p}}
	}
	fail := func(part string) want { return want{err: part} }
	tests := []struct {
		in           string
		unix, window want
	}{
		// Windows forms.
		{`C:\site\`, remote("", "C", `\site\`), local("C:/site/")},
		{`C:\site`, remote("", "C", `\site`), local("C:/site")},
		{`c:/site/`, remote("", "c", "/site/"), local("c:/site/")},
		{`C:\`, remote("", "C", `\`), local("C:/")},
		{`D:/deploy/site/.`, remote("", "D", "/deploy/site/."), local("D:/deploy/site/.")},
		{`.\site\`, local(`.\site\`), local("./site/")},
		{`site\`, local(`site\`), local("site/")},
		{`..\a\b`, local(`..\a\b`), local("../a/b")},
		{`\\fileserver\share\site\`, local(`\\fileserver\share\site\`), local("//fileserver/share/site/")},
		{`\\fileserver\share`, local(`\\fileserver\share`), local("//fileserver/share")},
		{`C:\Program Files\a:b`, remote("", "C", `\Program Files\a:b`), local("C:/Program Files/a:b")},
		{`sub\dir:x`, remote("", `sub\dir`, "x"), local("sub/dir:x")}, // "\" before ":" is a separator on Windows
		// Drive-relative, device and broken UNC forms are refused on Windows.
		{`C:site`, remote("", "C", "site"), fail("current directory of drive C:")},
		{`C:`, remote("", "C", ""), fail(`write a full path such as C:\site\`)},
		{`h:www`, remote("", "h", "www"), fail("for a host write user@h:www or [h]:path")},
		{`\\?\C:\site`, remote("", `\\?\C`, `\site`), fail("extended-length")},
		{`\\.\pipe\x`, local(`\\.\pipe\x`), fail("device")},
		{`\\server`, local(`\\server`), fail("incomplete UNC")},
		{`\\server\\x`, local(`\\server\\x`), fail("incomplete UNC")},
		// Remote forms are the same on both.
		{`host:C:\site\`, remote("", "host", `C:\site\`), remote("", "host", `C:\site\`)},
		{`deploy@web1:/var/www/`, remote("deploy", "web1", "/var/www/"), remote("deploy", "web1", "/var/www/")},
		{`web1:`, remote("", "web1", ""), remote("", "web1", "")},
		{`u@c:/srv/`, remote("u", "c", "/srv/"), remote("u", "c", "/srv/")}, // a one-letter host, with a user
		{`[c]:/srv/`, remote("", "c", "/srv/"), remote("", "c", "/srv/")},
		{`[::1]:/srv/`, remote("", "::1", "/srv/"), remote("", "::1", "/srv/")},
		{`ab:/srv`, remote("", "ab", "/srv"), remote("", "ab", "/srv")},
		// Unix forms are local on both.
		{`/var/www/`, local("/var/www/"), local("/var/www/")},
		{`site/`, local("site/"), local("site/")},
		{`./a:b`, local("./a:b"), local("./a:b")},
		{`site`, local("site"), local("site")},
		{``, fail("is empty"), fail("is empty")},
		{`h::mod`, fail("daemon"), fail("daemon")},
	}
	for _, tt := range tests {
		for _, p := range []struct {
			windows bool
			want    want
		}{{false, tt.unix}, {true, tt.window}} {
			got, err := parseEndpointFor(tt.in, p.windows)
			what := "unix"
			if p.windows {
				what = "windows"
			}
			switch {
			case p.want.err != "":
				if err == nil || !strings.Contains(err.Error(), p.want.err) {
					t.Errorf("%s: parseEndpointFor(%q) = %+v, %v; want error containing %q", what, tt.in, got, err, p.want.err)
				}
			case err != nil:
				t.Errorf("%s: parseEndpointFor(%q): %v", what, tt.in, err)
			case got.Remote != p.want.remote:
				t.Errorf("%s: parseEndpointFor(%q).Remote = %v, want %v", what, tt.in, got.Remote, p.want.remote)
			case got.Remote && got.Spec != p.want.spec:
				t.Errorf("%s: parseEndpointFor(%q).Spec = %+v, want %+v", what, tt.in, got.Spec, p.want.spec)
			case !got.Remote && got.Path() != p.want.local:
				t.Errorf("%s: parseEndpointFor(%q).Path() = %q, want %q", what, tt.in, got.Path(), p.want.local)
			case got.Raw != tt.in:
				t.Errorf("%s: parseEndpointFor(%q).Raw = %q", what, tt.in, got.Raw)
			}
		}
	}
}

// TestWindowsTrailingSlash: on Windows a trailing "\" is rsync's trailing
// slash — the source's contents land in the destination itself — and
// without it the directory lands by name.
func TestWindowsTrailingSlash(t *testing.T) {
	for _, tt := range []struct {
		src, dst string
		want     destRoot
	}{
		{`C:\site\`, "hh:/var/www/", destRoot{ListPath: "/var/www/", RemovePath: "/var/www/"}},
		{`C:\site`, "hh:/var/www", destRoot{ListPath: "/var/www/site", Prefix: "site", RemovePath: "/var/www/site"}},
		{`\\fs\share\site\`, "hh:www", destRoot{ListPath: "www/", RemovePath: "www"}},
		{`\\fs\share\site`, "hh:www", destRoot{ListPath: "www/site", Prefix: "site", RemovePath: "www/site"}},
		{`.\site\.`, "hh:", destRoot{ListPath: "./", RemovePath: "."}},
	} {
		src, err := parseEndpointFor(tt.src, true)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		dst, err := parseEndpointFor(tt.dst, true)
		if err != nil {
			t.Fatalf("%s: %v", tt.dst, err)
		}
		ends := syncEnds{Src: src, Dst: dst, Dir: dirPush}
		if got := ends.landing(true); got != tt.want {
			t.Errorf("%s -> %s lands %+v, want %+v", tt.src, tt.dst, got, tt.want)
		}
	}
}

// TestLocalRootKind: the local directories delete = true and
// on_destroy = "delete" refuse, by the rules of the platform the test
// runs on (a drive's root on Windows).
func TestLocalRootKind(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.VolumeName(cwd) + string(filepath.Separator)
	for _, tt := range []struct {
		p, want string
	}{
		{root, "the root directory"},
		{"/", "the root directory"},
		{home, "the home directory"},
		{home + string(filepath.Separator), "the home directory"},
		{cwd, "the directory Terraform runs in, or one above it"},
		{".", "the directory Terraform runs in, or one above it"},
		{"..", "the directory Terraform runs in, or one above it"},
		{filepath.Dir(cwd) + "/", "the directory Terraform runs in, or one above it"},
		{filepath.Join(t.TempDir(), "copy"), ""},
		{"sub/dir", ""},
	} {
		if got := localRootKind(tt.p); got != tt.want && (tt.want != "the directory Terraform runs in, or one above it" || got != "the root directory") {
			t.Errorf("localRootKind(%q) = %q, want %q", tt.p, got, tt.want)
		}
	}
}
