package rsync

import "testing"

func TestChmod(t *testing.T) {
	cases := []struct {
		spec string
		mode uint32
		dir  bool
		want uint32
	}{
		{"D755,F644", 0o100600, false, 0o100644},
		{"D755,F644", 0o040700, true, 0o040755},
		{"u+rwx,go-w", 0o100666, false, 0o100744},
		{"a+X", 0o100644, false, 0o100644},
		{"a+X", 0o100744, false, 0o100755},
		{"a+X", 0o040700, true, 0o040711},
		{"go=", 0o100755, false, 0o100700},
		{"g=rw", 0o100755, false, 0o100765},
		{"Dg+s", 0o040755, true, 0o042755},
		{"Fo-rwx", 0o100777, false, 0o100770},
		{"+x", 0o100600, false, 0o100711},
		{"0640", 0o100777, false, 0o100640},
	}
	for _, tc := range cases {
		c, err := ParseChmod(tc.spec)
		if err != nil {
			t.Fatalf("ParseChmod(%q): %v", tc.spec, err)
		}
		if got := c.Apply(tc.mode, tc.dir); got != tc.want {
			t.Errorf("%q on %o (dir=%v) = %o, want %o", tc.spec, tc.mode, tc.dir, got, tc.want)
		}
	}
	for _, bad := range []string{"", "D", "u+q", "999", "u", "x+r", "D755,,F644"} {
		if _, err := ParseChmod(bad); err == nil {
			t.Errorf("ParseChmod(%q) accepted", bad)
		}
	}
}
