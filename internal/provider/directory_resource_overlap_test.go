package provider

import "testing"

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		inner, outer string
		want         bool
	}{
		{"/srv/www/sub", "/srv/www", true},
		{"/srv/www", "/srv/www", true},
		{"/srv/www-other", "/srv/www", false},
		{"/srv", "/srv/www", false},
		{"/anything", "/", true},
		{"site", ".", true},  // the login directory holds every relative path
		{"/srv", ".", false}, // but not an absolute one
		{"site/a", "site", true},
	} {
		if got := within(tc.inner, tc.outer); got != tc.want {
			t.Errorf("within(%q, %q) = %v, want %v", tc.inner, tc.outer, got, tc.want)
		}
	}
}
