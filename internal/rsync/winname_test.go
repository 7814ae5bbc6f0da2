package rsync

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

func TestWindowsNameProblem(t *testing.T) {
	bad := []string{
		"aux", "AUX", "Aux.txt", "con", "CON.tar.gz", "nul", "prn.log", "com1", "COM9.txt", "lpt1", "Lpt9.x", "con .txt",
		"COM¹", "conin$", "a:b", "a<b", "a>b", `a"b`, `a\b`, "a|b", "a?b", "a*b", "tab\there", "nl\n", "x\x1f",
		"trailing.", "trailing ", "..a.", "caf\xe9", strings.Repeat("a", 256), strings.Repeat("😀", 128),
	}
	good := []string{
		"a", "aux_", "auxiliary", "console.log", "com", "com0", "com10", "lpt", "COMA", "nul1", ".hidden", "a.b.c",
		"with space", " leading", "ünïcödé", "日本語", strings.Repeat("a", 255), strings.Repeat("😀", 127), "a;b", "a,b", "a%b",
	}
	for _, n := range bad {
		if windowsNameProblem(n) == "" {
			t.Errorf("windowsNameProblem(%q) = \"\", want a problem", n)
		}
	}
	for _, n := range good {
		if p := windowsNameProblem(n); p != "" {
			t.Errorf("windowsNameProblem(%q) = %q, want none", n, p)
		}
	}
}

func entries(names ...string) []*flist.Entry {
	out := make([]*flist.Entry, len(names))
	for i, n := range names {
		out[i] = &flist.Entry{Name: n}
	}
	return out
}

func TestCheckWindowsNames(t *testing.T) {
	if err := checkWindowsNames(entries(".", "a", "a/b.txt", "B", "dir/sub/x")); err != nil {
		t.Errorf("a tree Windows can hold: %v", err)
	}
	for _, tc := range []struct {
		names []string
		want  []string // parts of the error
	}{
		{[]string{".", "ok", "site/aux"}, []string{`"site/aux"`, "AUX is a reserved device name"}},
		{[]string{".", "dir/a:b/c"}, []string{`"dir/a:b/c"`, `":"`}},
		{[]string{".", "x."}, []string{`"x."`, "ends in a dot"}},
		{[]string{".", "Readme.md", "README.md"}, []string{`"Readme.md" and "README.md" differ only in case`}},
		{[]string{".", "Dir", "Dir/x", "dir", "dir/x"}, []string{`"Dir" and "dir"`, `"Dir/x" and "dir/x"`}},
		{[]string{"a.", "b.", "c.", "d.", "e.", "f.", "g."}, []string{"7 remote name(s)", "and 2 more", "nothing was written"}},
	} {
		err := checkWindowsNames(entries(tc.names...))
		if err == nil {
			t.Errorf("%q: no error", tc.names)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", tc.names, err, w)
			}
		}
	}
}

// TestCheckLocalNames: the seam refuses on Windows what Windows cannot
// hold, and accepts every name elsewhere.
func TestCheckLocalNames(t *testing.T) {
	err := checkLocalNames(entries(".", "aux", "a:b"))
	if windows := filepath.Separator == '\\'; windows != (err != nil) {
		t.Errorf("checkLocalNames(aux, a:b) = %v on a platform where windows = %v", err, windows)
	}
}
