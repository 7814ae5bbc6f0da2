package release

import (
	"reflect"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, ok := range []string{"v42", "a1b2c3d4e5f60718", "2026-12-06_1", "x.y"} {
		if err := ValidName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".history", ".partial-x", "-rf", "a/b", "a b", "it's", "a\nb", "$(x)", "..", string(make([]byte, 200))} {
		if ValidName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDefaultID(t *testing.T) {
	a := DefaultID("xxh128:00ff", "", "")
	if len(a) != 16 || ValidName(a) != nil {
		t.Fatalf("DefaultID = %q", a)
	}
	if DefaultID("xxh128:00ff", "", "") != a {
		t.Error("not deterministic")
	}
	if DefaultID("xxh128:00fe", "", "") == a || DefaultID("xxh128:00ff", "www", "") == a || DefaultID("xxh128:00ff", "", "www") == DefaultID("xxh128:00ff", "www", "") {
		t.Error("other content or settings must give another id")
	}
}

func TestParseLinkTarget(t *testing.T) {
	for target, want := range map[string]string{
		"releases/v1": "v1", "./releases/v1": "v1", "releases/v1/": "v1", "/srv/app/releases/v1": "v1",
		"releases/.partial-v1": "", "releases/a/b": "", "other/v1": "", "/elsewhere/releases/v1": "", "releases/": "", "": "",
		"releases/../../etc": "",
	} {
		got, ok := ParseLinkTarget(target, "releases", "/srv/app/")
		if got != want || ok != (want != "") {
			t.Errorf("ParseLinkTarget(%q) = %q, %v; want %q", target, got, ok, want)
		}
	}
	if _, ok := ParseLinkTarget("/srv/app/releases/v1", "releases", "app"); ok {
		t.Error("an absolute target cannot be matched against a relative root")
	}
}

func TestOrderAndNext(t *testing.T) {
	rel := Order([]string{"c", "a", "b", "old2", "old1"}, []string{"gone", "b", "a", "c", "a"})
	want := []string{"old1", "old2", "b", "a", "c"}
	if !reflect.DeepEqual(rel, want) {
		t.Fatalf("Order = %q, want %q", rel, want)
	}
	kept, prune := Next(rel, "d", 3)
	if !reflect.DeepEqual(kept, []string{"a", "c", "d"}) || !reflect.DeepEqual(prune, []string{"old1", "old2", "b"}) {
		t.Errorf("Next new: kept %q prune %q", kept, prune)
	}
	// A rollback moves the release to the newest place; it is never pruned.
	kept, prune = Next([]string{"a", "b", "c"}, "a", 2)
	if !reflect.DeepEqual(kept, []string{"c", "a"}) || !reflect.DeepEqual(prune, []string{"b"}) {
		t.Errorf("Next rollback: kept %q prune %q", kept, prune)
	}
	kept, prune = Next(nil, "a", 0)
	if !reflect.DeepEqual(kept, []string{"a"}) || prune != nil {
		t.Errorf("Next first: kept %q prune %q", kept, prune)
	}
}

func TestLinkDests(t *testing.T) {
	got := LinkDests([]string{"a", "b", "c", "d"}, "c", "d", 3)
	if want := []string{"../c", "../b", "../a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("LinkDests = %q, want %q", got, want)
	}
	if got := LinkDests(nil, "", "x", 20); got != nil {
		t.Errorf("first release: %q", got)
	}
}

func TestShared(t *testing.T) {
	for in, want := range map[string]string{"uploads/": "uploads", ".env": ".env", "var/cache/": "var/cache"} {
		got, _, err := CleanShared(in)
		if err != nil || got != want {
			t.Errorf("CleanShared(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "/", "/etc", "../x", "a/../b", "a//b", "*.log", "a\nb"} {
		if _, _, err := CleanShared(bad); err == nil {
			t.Errorf("CleanShared(%q) accepted", bad)
		}
	}
	if got := SharedTarget("uploads", 2); got != "../../shared/uploads" {
		t.Error(got)
	}
	if got := SharedTarget("config/.env", 3); got != "../../../../shared/config/.env" {
		t.Error(got)
	}
}
