package provider

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/terraform-plugin-log/tflogtest"
)

func TestEngineLoggerWritesThroughTflog(t *testing.T) {
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

type errString string

func (e errString) Error() string { return string(e) }
