package provider

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// logSubsystem is the tflog subsystem the engine logs into. Its level can be
// set apart from the provider's with TF_LOG_PROVIDER_RSYNC_ENGINE.
const logSubsystem = "engine"

// newEngineLogger returns an hclog.Logger (what the engine takes) that writes
// through tflog, so the engine's messages land in Terraform's provider log
// with the request's context fields.
//
// Its level is what Terraform keeps of a provider's log (keptLogLevel):
// below that the engine's messages are dropped before they are formatted,
// as terraform would drop them after reading them. The engine logs a line
// per file at trace level; with logging off that was a third of a
// 300,000-file apply's CPU, the provider's JSON encoding and terraform's
// parsing of lines nobody kept.
func newEngineLogger(ctx context.Context) hclog.Logger {
	ctx = tflog.NewSubsystem(ctx, logSubsystem, tflog.WithLevelFromEnv("TF_LOG_PROVIDER_RSYNC_ENGINE"))
	return &tflogLogger{ctx: ctx, level: keptLogLevel(os.Getenv)}
}

// keptLogLevel is the lowest level of provider log line that Terraform
// keeps, read as Terraform reads it (internal/logging in terraform): from
// TF_LOG_PROVIDER, else TF_LOG; unset is off; a value that names no level
// (e.g. JSON) logs everything. OpenTofu also reads TOFU_LOG_PROVIDER and
// TOFU_LOG, which count the same. A provider process inherits terraform's
// environment, so it sees what terraform sees.
func keptLogLevel(getenv func(string) string) hclog.Level {
	var v string
	for _, name := range []string{"TF_LOG_PROVIDER", "TOFU_LOG_PROVIDER", "TF_LOG", "TOFU_LOG"} {
		if v = getenv(name); v != "" {
			break
		}
	}
	switch v = strings.ToUpper(strings.TrimSpace(v)); v {
	case "":
		return hclog.Off
	case "OFF", "TRACE", "DEBUG", "INFO", "WARN", "ERROR":
		return hclog.LevelFromString(v)
	}
	return hclog.Trace
}

// tflogLogger adapts tflog to hclog.Logger. tflog does its own level
// filtering; level here drops what Terraform would not keep anyway, before
// any formatting, and answers IsTrace and friends.
type tflogLogger struct {
	ctx     context.Context
	name    string
	implied []interface{}
	level   hclog.Level
}

var _ hclog.Logger = (*tflogLogger)(nil)

func (l *tflogLogger) Log(level hclog.Level, msg string, args ...interface{}) {
	if level == hclog.Off || (level != hclog.NoLevel && level < l.level) {
		return
	}
	fields := argsToFields(append(append([]interface{}{}, l.implied...), args...))
	if l.name != "" {
		fields["logger"] = l.name
	}
	switch level {
	case hclog.Trace:
		tflog.SubsystemTrace(l.ctx, logSubsystem, msg, fields)
	case hclog.Debug, hclog.NoLevel:
		tflog.SubsystemDebug(l.ctx, logSubsystem, msg, fields)
	case hclog.Info:
		tflog.SubsystemInfo(l.ctx, logSubsystem, msg, fields)
	case hclog.Warn:
		tflog.SubsystemWarn(l.ctx, logSubsystem, msg, fields)
	default:
		tflog.SubsystemError(l.ctx, logSubsystem, msg, fields)
	}
}

// argsToFields turns hclog's alternating key/value arguments into tflog
// fields; a dangling value goes under "EXTRA_VALUE_AT_END", as hclog does.
func argsToFields(args []interface{}) map[string]interface{} {
	fields := make(map[string]interface{}, len(args)/2+1)
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) {
			fields["EXTRA_VALUE_AT_END"] = args[i]
			break
		}
		key, ok := args[i].(string)
		if !ok {
			key = fmt.Sprint(args[i])
		}
		v := args[i+1]
		switch x := v.(type) {
		case error:
			v = x.Error()
		case fmt.Stringer:
			v = x.String()
		}
		fields[key] = v
	}
	return fields
}

func (l *tflogLogger) Trace(msg string, args ...interface{}) { l.Log(hclog.Trace, msg, args...) }
func (l *tflogLogger) Debug(msg string, args ...interface{}) { l.Log(hclog.Debug, msg, args...) }
func (l *tflogLogger) Info(msg string, args ...interface{})  { l.Log(hclog.Info, msg, args...) }
func (l *tflogLogger) Warn(msg string, args ...interface{})  { l.Log(hclog.Warn, msg, args...) }
func (l *tflogLogger) Error(msg string, args ...interface{}) { l.Log(hclog.Error, msg, args...) }

func (l *tflogLogger) IsTrace() bool { return l.level <= hclog.Trace }
func (l *tflogLogger) IsDebug() bool { return l.level <= hclog.Debug }
func (l *tflogLogger) IsInfo() bool  { return l.level <= hclog.Info }
func (l *tflogLogger) IsWarn() bool  { return l.level <= hclog.Warn }
func (l *tflogLogger) IsError() bool { return l.level <= hclog.Error }

func (l *tflogLogger) ImpliedArgs() []interface{} { return l.implied }

func (l *tflogLogger) With(args ...interface{}) hclog.Logger {
	c := *l
	c.implied = append(append([]interface{}{}, l.implied...), args...)
	return &c
}

func (l *tflogLogger) Name() string { return l.name }

func (l *tflogLogger) Named(name string) hclog.Logger {
	c := *l
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}

func (l *tflogLogger) ResetNamed(name string) hclog.Logger {
	c := *l
	c.name = name
	return &c
}

func (l *tflogLogger) SetLevel(level hclog.Level) { l.level = level }
func (l *tflogLogger) GetLevel() hclog.Level      { return l.level }

func (l *tflogLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

func (l *tflogLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return &logWriter{l: l, level: level}
}

// logWriter logs each line written to it.
type logWriter struct {
	l     *tflogLogger
	level hclog.Level
}

func (w *logWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		w.l.Log(w.level, strings.TrimSpace(string(line)))
	}
	return len(p), nil
}

// sdkLogLevelVars are the levels of the plugin SDK's own loggers (root,
// protocol, framework) and of this provider's, as terraform-plugin-log
// reads them.
var sdkLogLevelVars = []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_RSYNC", "TF_LOG_PROVIDER_RSYNC_ENGINE"}

// QuietUnlessLogged sets those levels to off when Terraform keeps no
// provider log (keptLogLevel is Off: TF_LOG_PROVIDER and TF_LOG unset);
// main calls it before serving. terraform-plugin-log's loggers default to
// TRACE, so every RPC still JSON-encoded dozens of the framework's trace
// lines onto stderr for Terraform to parse and drop: ~20% of the
// provider's CPU in a 10-resource apply walk (issue 15's fleet profile;
// hashicorp/terraform-plugin-framework#1269), Terraform's parsing on top.
// newEngineLogger already drops the engine's lines; this covers the SDK's.
// A level the user set is left alone.
func QuietUnlessLogged() {
	quietUnlessLogged(os.Getenv, os.LookupEnv, os.Setenv)
}

func quietUnlessLogged(getenv func(string) string, lookup func(string) (string, bool), setenv func(string, string) error) {
	if keptLogLevel(getenv) != hclog.Off {
		return
	}
	for _, v := range sdkLogLevelVars {
		if _, set := lookup(v); !set {
			_ = setenv(v, "off")
		}
	}
}
