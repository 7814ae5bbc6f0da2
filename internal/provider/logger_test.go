package provider

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/terraform-plugin-log/tflogtest"
)

func TestEngineLoggerWritesThroughTflog(t *testing.T) {
	t.Setenv("TF_LOG_PROVIDER", "")
	t.Setenv("TF_LOG", "trace")
	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &buf)
	l := newEngineLogger(ctx).Named("push").With("host", "web1")
	l.Debug("sent file list", "files", 3, "err", errString("boom"))
	l.Info("dangling", "only-key")
	l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}).Print("from std logger")

	entries, err := tflogtest.MultilineJSONDecode(&buf)
	if err != nil {
		t.Fatalf("decoding log: %v\n%s", err, buf.String())
	}
	if len(entries) != 3 {
		t.Fatalf("got %d entries, want 3: %s", len(entries), buf.String())
	}
	first := entries[0]
	checks := map[string]string{
		"@message": "sent file list", "@level": "debug", "host": "web1",
		"files": "3", "err": "boom", "logger": "push", "@module": "provider.engine",
	}
	for k, want := range checks {
		if got := fmt.Sprint(first[k]); got != want {
			t.Errorf("entry[%q] = %#v, want %#v (entry %v)", k, first[k], want, first)
		}
	}
	if entries[1]["EXTRA_VALUE_AT_END"] != "only-key" {
		t.Errorf("dangling value not kept: %v", entries[1])
	}
	if entries[2]["@level"] != "warn" || entries[2]["@message"] != "from std logger" {
		t.Errorf("standard logger entry = %v", entries[2])
	}
}

// With Terraform's logging off, the engine's lines are dropped before
// they are formatted: terraform would discard them.
func TestEngineLoggerQuietWhenTerraformKeepsNothing(t *testing.T) {
	t.Setenv("TF_LOG_PROVIDER", "")
	t.Setenv("TF_LOG", "")
	var buf bytes.Buffer
	l := newEngineLogger(tflogtest.RootLogger(context.Background(), &buf))
	l.Trace("sent file", "path", "a")
	l.Error("remote rsync", "message", "x")
	if buf.Len() != 0 || l.IsError() {
		t.Errorf("logged %q (IsError %v) with TF_LOG unset; want nothing", buf.String(), l.IsError())
	}
	t.Setenv("TF_LOG", "warn")
	l = newEngineLogger(tflogtest.RootLogger(context.Background(), &buf))
	l.Info("dropped")
	l.Warn("kept")
	if got := buf.String(); strings.Contains(got, "dropped") || !strings.Contains(got, "kept") {
		t.Errorf("TF_LOG=warn logged %q; want only the warning", got)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestKeptLogLevel(t *testing.T) {
	for _, tc := range []struct {
		provider, all string
		want          hclog.Level
	}{
		{"", "", hclog.Off},
		{"", "trace", hclog.Trace},
		{"", "INFO", hclog.Info},
		{"warn", "trace", hclog.Warn},
		{"", "json", hclog.Trace},
		{"", "bogus", hclog.Trace},
		{"off", "trace", hclog.Off},
		{"tofu:debug", "", hclog.Debug},
		{"", "tofu:info", hclog.Info},
	} {
		env := map[string]string{"TF_LOG_PROVIDER": tc.provider, "TF_LOG": tc.all}
		if v, ok := strings.CutPrefix(tc.provider, "tofu:"); ok {
			env = map[string]string{"TOFU_LOG_PROVIDER": v}
		}
		if v, ok := strings.CutPrefix(tc.all, "tofu:"); ok {
			env = map[string]string{"TOFU_LOG": v}
		}
		if got := keptLogLevel(func(k string) string { return env[k] }); got != tc.want {
			t.Errorf("TF_LOG_PROVIDER=%q TF_LOG=%q: level %v, want %v", tc.provider, tc.all, got, tc.want)
		}
	}
}

func TestQuietUnlessLogged(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		quiet bool
	}{
		{"terraform keeps nothing", map[string]string{}, true},
		{"TF_LOG=OFF", map[string]string{"TF_LOG": "OFF"}, true},
		{"TF_LOG set", map[string]string{"TF_LOG": "DEBUG"}, false},
		{"TF_LOG_PROVIDER set", map[string]string{"TF_LOG_PROVIDER": "trace"}, false},
		{"TF_LOG=JSON", map[string]string{"TF_LOG": "JSON"}, false},
		{"TOFU_LOG set", map[string]string{"TOFU_LOG": "debug"}, false},
		{"a level the user set is kept", map[string]string{"TF_LOG_SDK_PROTO": "warn"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tc.env {
				env[k] = v
			}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			quietUnlessLogged(func(k string) string { return env[k] }, lookup,
				func(k, v string) error { env[k] = v; return nil })
			for _, v := range sdkLogLevelVars {
				got, set := env[v]
				switch {
				case tc.env[v] != "":
					if got != tc.env[v] {
						t.Errorf("%s = %q; the user's %q must be kept", v, got, tc.env[v])
					}
				case tc.quiet && got != "off":
					t.Errorf("%s = %q, want off", v, got)
				case !tc.quiet && set:
					t.Errorf("%s = %q; with logging asked for nothing may change", v, got)
				}
			}
		})
	}
}
