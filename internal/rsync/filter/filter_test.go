package filter

import (
	"strings"
	"testing"
)

func TestExcluded(t *testing.T) {
	cases := []struct {
		incl, excl []string
		name       string
		dir        bool
		want       bool
	}{
		{nil, []string{"*.tmp"}, "a.tmp", false, true},
		{nil, []string{"*.tmp"}, "sub/deep/a.tmp", false, true},
		{nil, []string{"*.tmp"}, "a.tmpx", false, false},
		{nil, []string{".git/"}, ".git", true, true},
		{nil, []string{".git/"}, ".git", false, false},
		{nil, []string{".git/"}, "sub/.git", true, true},
		{nil, []string{"/logs"}, "logs", true, true},
		{nil, []string{"/logs"}, "sub/logs", true, false},
		{nil, []string{"sub/*.c"}, "sub/x.c", false, true},
		{nil, []string{"sub/*.c"}, "a/sub/x.c", false, true},
		{nil, []string{"sub/*.c"}, "sub/y/x.c", false, false},
		{nil, []string{"/sub/**"}, "sub/y/x.c", false, true},
		{nil, []string{"**/cache"}, "a/b/cache", true, true},
		{nil, []string{"dir/***"}, "dir", true, true},
		{nil, []string{"dir/***"}, "dir/x/y", false, true},
		{nil, []string{"file?.txt"}, "file1.txt", false, true},
		{nil, []string{"file?.txt"}, "file10.txt", false, false},
		{nil, []string{"[ab]*.log"}, "b1.log", false, true},
		{nil, []string{"[!ab]*.log"}, "b1.log", false, false},
		{nil, []string{"[a-c]x"}, "bx", false, true},
		{nil, []string{`\*`}, "*", false, true},
		{nil, []string{`\*`}, "a", false, false},
		{[]string{"keep.tmp"}, []string{"*.tmp"}, "keep.tmp", false, false},
		{[]string{"keep.tmp"}, []string{"*.tmp"}, "other.tmp", false, true},
		{[]string{"*/", "*.html"}, []string{"*"}, "sub", true, false},
		{[]string{"*/", "*.html"}, []string{"*"}, "sub/a.css", false, true},
		{[]string{"*/", "*.html"}, []string{"*"}, "sub/a.html", false, false},
		{nil, []string{"*"}, "a/b", false, true},
		{nil, nil, "x", false, false},
	}
	for _, tc := range cases {
		l, err := New(tc.incl, tc.excl)
		if err != nil {
			t.Fatalf("New(%v, %v): %v", tc.incl, tc.excl, err)
		}
		if got := l.Excluded(tc.name, tc.dir); got != tc.want {
			t.Errorf("incl %v excl %v: Excluded(%q, dir=%v) = %v, want %v", tc.incl, tc.excl, tc.name, tc.dir, got, tc.want)
		}
	}
}

func TestInvalidPatterns(t *testing.T) {
	for _, p := range []string{"", "[abc", "a\nb", "- foo", "/", `abc\`} {
		if err := Validate(p); err == nil {
			t.Errorf("Validate(%q) = nil, want an error", p)
		}
	}
	for _, p := range []string{"*.tmp", "/x/", "[]]", `a\\`, "dir/***"} {
		if err := Validate(p); err != nil {
			t.Errorf("Validate(%q) = %v", p, err)
		}
	}
}

func TestRulesWireForm(t *testing.T) {
	l, err := New([]string{"keep/"}, []string{".git/", "*.tmp"})
	if err != nil {
		t.Fatal(err)
	}
	got := l.Rules()
	want := []string{"+ keep/", "- .git/", "- *.tmp"}
	if len(got) != len(want) {
		t.Fatalf("Rules() = %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rule %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestStarsDoNotExplode(t *testing.T) {
	p := "*a*a*a*a*a*a*a*a*a*a*a*b"
	s := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	if wildmatch(p, s) {
		t.Fatal("matched")
	}
}

func TestProtect(t *testing.T) {
	l, err := New([]string{"*.html"}, []string{"*.log"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AddProtect([]string{"/uploads/", "keep.html"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                string
		dir                 bool
		excluded, protected bool
	}{
		{"uploads", true, false, true},
		{"uploads/a/b.jpg", false, false, true},
		{"keep.html", false, false, true}, // protect wins over the include for deletion...
		{"x.html", false, false, false},
		{"x.log", false, true, true}, // excluded files are spared from deletion too
		{"other.txt", false, false, false},
	}
	for _, tc := range cases {
		if got := l.Excluded(tc.name, tc.dir); got != tc.excluded {
			t.Errorf("Excluded(%q) = %v, want %v", tc.name, got, tc.excluded)
		}
		if got := l.Protected(tc.name, tc.dir); got != tc.protected {
			t.Errorf("Protected(%q) = %v, want %v", tc.name, got, tc.protected)
		}
	}
	got := strings.Join(l.Rules(), "|")
	want := "-r /uploads/|-r /uploads/***|-r keep.html|-r keep.html/***|+ *.html|- *.log"
	if got != want {
		t.Errorf("Rules() = %q, want %q", got, want)
	}
}
