package provider

import (
	"reflect"
	"testing"
)

func TestParseInspect(t *testing.T) {
	out := "present\n" +
		"link lrwxrwxrwx 1 deploy www data 21 Dec  6 08:00 current -> releases/f7ac9f2bb90e6fa0\n" +
		"rel 27d622effe2e760f\nrel f7ac9f2bb90e6fa0\nrel .partial-x\nrel bad name\n" +
		"hist 27d622effe2e760f\nhist f7ac9f2bb90e6fa0\nhist ../etc\n"
	st := parseInspect(out, "current")
	if !st.Exists || !st.LinkIsLink || st.LinkTarget != "releases/f7ac9f2bb90e6fa0" {
		t.Fatalf("%+v", st)
	}
	if want := []string{"27d622effe2e760f", "f7ac9f2bb90e6fa0"}; !reflect.DeepEqual(st.Present, want) || !reflect.DeepEqual(st.History, want) {
		t.Errorf("present %q, history %q", st.Present, st.History)
	}
	if got := st.current("releases", "/srv/app"); got != "f7ac9f2bb90e6fa0" {
		t.Errorf("current = %q", got)
	}
	// A link to a release that is gone, or outside the releases, is no
	// current release.
	st.Present = st.Present[:1]
	if got := st.current("releases", "/srv/app"); got != "" {
		t.Errorf("dangling link: current = %q", got)
	}
	if st := parseInspect("absent\n", "current"); st.Exists {
		t.Error("absent root reported present")
	}
	if st := parseInspect("present\nnotlink\n", "current"); !st.NotLink || st.LinkIsLink {
		t.Errorf("%+v", st)
	}
}

func TestPlanRelease(t *testing.T) {
	c := syncConfig{Release: &releaseConfig{Keep: 2, ID: "v3", Current: "v2", Releases: []string{"v1", "v2"}}}
	rp := planRelease(c, true, "xxh128:00")
	if rp.Target != "v3" || !rp.Work || !reflect.DeepEqual(rp.Kept, []string{"v2", "v3"}) || !reflect.DeepEqual(rp.Prune, []string{"v1"}) {
		t.Errorf("new release: %+v", rp)
	}
	c.Release = &releaseConfig{Keep: 2, ID: "v2", Current: "v2", Releases: []string{"v1", "v2"}}
	if rp := planRelease(c, true, "xxh128:00"); rp.Work {
		t.Errorf("nothing to do, but %+v", rp)
	}
	c.Release.Keep = 1
	if rp := planRelease(c, true, "xxh128:00"); !rp.Work || !reflect.DeepEqual(rp.Prune, []string{"v1"}) {
		t.Errorf("keep lowered: %+v", rp)
	}
	c.Release = &releaseConfig{Keep: 5}
	created := planRelease(c, false, "xxh128:00")
	if !created.Work || created.Kept != nil || len(created.Target) != 16 {
		t.Errorf("create: %+v", created)
	}
	c.Owner = "www"
	if planRelease(c, false, "xxh128:00").Target == created.Target {
		t.Error("owner must change the default id")
	}
}
