package main

import (
	"os"
	"testing"
)

// quietVars are the levels quietUnlessLogged sets.
var quietVars = []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_RSYNC", "TF_LOG_PROVIDER_RSYNC_ENGINE"}

// unset clears an environment variable for the test (t.Setenv restores it).
func unset(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "")
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}

func TestQuietUnlessLogged(t *testing.T) {
	t.Run("terraform discards the logs", func(t *testing.T) {
		for _, v := range append([]string{"TF_LOG", "TF_LOG_PROVIDER", "TOFU_LOG", "TOFU_LOG_PROVIDER"}, quietVars...) {
			unset(t, v)
		}
		t.Setenv("TF_LOG_SDK_PROTO", "warn") // set by the user: kept
		quietUnlessLogged()
		for _, v := range quietVars {
			want := "off"
			if v == "TF_LOG_SDK_PROTO" {
				want = "warn"
			}
			if got := os.Getenv(v); got != want {
				t.Errorf("%s = %q, want %q", v, got, want)
			}
		}
	})
	for _, enabling := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TOFU_LOG"} {
		t.Run(enabling+" set", func(t *testing.T) {
			for _, v := range append([]string{"TF_LOG", "TF_LOG_PROVIDER", "TOFU_LOG", "TOFU_LOG_PROVIDER"}, quietVars...) {
				unset(t, v)
			}
			t.Setenv(enabling, "DEBUG")
			quietUnlessLogged()
			for _, v := range quietVars {
				if got, set := os.LookupEnv(v); set {
					t.Errorf("%s = %q with %s set; the user's logging must be left alone", v, got, enabling)
				}
			}
		})
	}
}
