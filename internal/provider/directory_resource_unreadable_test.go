package provider

import (
	"reflect"
	"testing"
)

func TestUnlistedDirs(t *testing.T) {
	msgs := `rsync: [sender] opendir "/srv/www/lost+found" failed: Permission denied (13); ` +
		`rsync: [sender] opendir "/srv/www/a/b" failed: Permission denied (13); ` +
		`rsync: [sender] opendir "/elsewhere/x" failed: Permission denied (13); ` +
		`rsync error: some files/attrs were not transferred (see previous errors) (code 23)`
	for _, tc := range []struct {
		listPath, prefix string
		want             []string
	}{
		{"/srv/www/", "", []string{"lost+found", "a/b"}},
		{"/srv/www", "www", []string{"lost+found", "a/b"}},
		{"/srv/", "", []string{"www/lost+found", "www/a/b"}},
	} {
		if got := unlistedDirs(msgs, tc.listPath, tc.prefix); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("unlistedDirs(%q, %q) = %q, want %q", tc.listPath, tc.prefix, got, tc.want)
		}
	}
	if got := unlistedDirs(`rsync: [sender] opendir "site/private" failed: Permission denied (13)`, "site", "site"); !reflect.DeepEqual(got, []string{"private"}) {
		t.Errorf("relative: %q", got)
	}
	if got := unlistedDirs(`rsync: [sender] opendir "/srv/www" failed: Permission denied (13)`, "/srv/www/", ""); !reflect.DeepEqual(got, []string{"."}) {
		t.Errorf("root: %q", got)
	}
}
