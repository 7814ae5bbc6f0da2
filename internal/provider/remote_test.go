package provider

import (
	"errors"
	"os/exec"
	"testing"
)

func TestParseRemote(t *testing.T) {
	tests := []struct {
		in      string
		want    remoteSpec
		wantErr bool
		noHost  bool
	}{
		{in: "host:/var/www", want: remoteSpec{Host: "host", Path: "/var/www"}},
		{in: "deploy@web1.example.com:/var/www/site/", want: remoteSpec{User: "deploy", Host: "web1.example.com", Path: "/var/www/site/"}},
		{in: "host:", want: remoteSpec{Host: "host"}},
		{in: "host:relative/dir", want: remoteSpec{Host: "host", Path: "relative/dir"}},
		{in: "host:~/site", want: remoteSpec{Host: "host", Path: "~/site"}},
		{in: "127.0.0.1:/srv", want: remoteSpec{Host: "127.0.0.1", Path: "/srv"}},
		{in: "[::1]:/srv/x", want: remoteSpec{Host: "::1", Path: "/srv/x"}},
		{in: "me@[fe80::1%eth0]:p", want: remoteSpec{User: "me", Host: "fe80::1%eth0", Path: "p"}},
		{in: "host:/path/with:colon@and at", want: remoteSpec{Host: "host", Path: "/path/with:colon@and at"}},
		{in: "u@h:/a@b", want: remoteSpec{User: "u", Host: "h", Path: "/a@b"}},
		{in: "host:/ünïcödé dir/", want: remoteSpec{Host: "host", Path: "/ünïcödé dir/"}},

		{in: "", wantErr: true},
		{in: "/var/www", wantErr: true, noHost: true},
		{in: "relative/dir", wantErr: true, noHost: true},
		{in: "./a:b", wantErr: true, noHost: true},
		{in: "site", wantErr: true, noHost: true},
		{in: "user@site", wantErr: true, noHost: true},
		{in: ":/var/www", wantErr: true},
		{in: "@host:/x", wantErr: true},
		{in: "user@:/x", wantErr: true},
		{in: "[::1]/x", wantErr: true},
		{in: "[::1:/x", wantErr: true},
		{in: "[]:/x", wantErr: true},
		{in: "host::module/path", wantErr: true},
		{in: "rsync://host/module", wantErr: true},
		{in: "bad host:/x", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseRemote(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("parseRemote(%q) = %+v, want error", tt.in, got)
				continue
			}
			var re *remoteError
			if !errors.As(err, &re) {
				t.Errorf("parseRemote(%q) error %T, want *remoteError", tt.in, err)
				continue
			}
			if re.NoHost != tt.noHost {
				t.Errorf("parseRemote(%q) NoHost = %v, want %v (%v)", tt.in, re.NoHost, tt.noHost, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseRemote(%q) error: %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("parseRemote(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := map[string]string{
		"":             "''",
		"/var/www":     "'/var/www'",
		"it's":         `'it'\''s'`,
		"a b$(c)`d`\n": "'a b$(c)`d`\n'",
	}
	for in, want := range tests {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestShellQuoteRoundTrip checks with a real shell that quoting preserves
// every byte of awkward names.
func TestShellQuoteRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh not found: %v", err)
	}
	for _, s := range []string{"plain", "with space", "it's", `"dq"`, "$HOME", "`id`", "a\nb", "ünï 'x' \\"} {
		out, err := exec.Command(sh, "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if string(out) != s {
			t.Errorf("round trip of %q gave %q", s, out)
		}
	}
}

func TestRemoteShellPath(t *testing.T) {
	tests := map[string]string{
		"":           ".",
		"~":          "~",
		"~/":         "~/",
		"~/site dir": "~/'site dir'",
		"/srv/www":   "'/srv/www'",
		"rel":        "'rel'",
		"~user/x":    "'~user/x'",
	}
	for in, want := range tests {
		if got := remoteShellPath(in); got != want {
			t.Errorf("remoteShellPath(%q) = %q, want %q", in, got, want)
		}
	}
}
