package bench

import (
	"fmt"
	"sort"
)

// Metric is a quantity compared between the tools, or checked for ours.
type Metric string

// Ratios are median(ours) / median(rsync) over the rounds; the absolute
// metrics are medians of our engine alone.
const (
	Wall Metric = "wall" // ratio of wall-clock times
	CPU  Metric = "cpu"  // ratio of client CPU times (user+sys)
	Wire Metric = "wire" // ratio of bytes through the proxy, both directions
	RSS  Metric = "rss"  // ratio of client peak RSS
	Sent Metric = "sent" // ratio of bytes sent as each tool counts them
	Up   Metric = "up"   // ratio of client→server bytes through the proxy

	LiteralBlocks Metric = "literal-blocks" // ours: literal bytes / block length
	Literal       Metric = "literal"        // ours: literal bytes
	Throughput    Metric = "GB/s"           // ours: bytes hashed per second of tree.Local (10^9 bytes)
)

func (m Metric) isRatio() bool { return m != LiteralBlocks && m != Literal && m != Throughput }

// atLeast reports whether the metric's limit is a floor (more is better).
func (m Metric) atLeast() bool { return m == Throughput }

// Limit bounds a metric in one scenario ("*": every scenario).
type Limit struct {
	Scenario string
	Metric   Metric
	Max      float64
	Source   string // where the bound comes from
}

// Thresholds are the regression gates: make bench exits non-zero when a
// measured value exceeds one (falls below one, for throughput). Ratios
// start permissive, to be tightened from measurements; the
// delta-efficiency bounds are issue 3's Done-when and hold from the start.
var Thresholds = []Limit{
	{"*", Wall, 3.0, "regression gate"},
	{"*", CPU, 5.0, "regression gate"},
	{"*", Wire, 1.10, "regression gate"},
	{"*", RSS, 20.0, "regression gate"},
	{"noop", Literal, 0, "issue 3: a no-change run sends only the file list"},
	{"delta-31b", LiteralBlocks, 2, "issue 3: literal data ≤ 2 blocks"},
	{"delta-31b", Sent, 1.05, "issue 3: total bytes sent ≤ 1.05× rsync"},
	{"delta-31b", Up, 1.05, "issue 3: total bytes sent ≤ 1.05× rsync (on the wire)"},
}

// Goals are the issues' targets. The report says which are met; they do
// not change the exit status.
var Goals = []Limit{
	{"noop", Wall, 0.8, "issue 6"},
	{"initial", Wall, 1.0, "issue 6"},
	{"edit-1pct", Wall, 1.0, "issue 6"},
	{"drift", Wall, 0.7, "issue 6: hash locally in parallel while the server hashes its side"},
	{"drift-changed", Wall, 0.7, "issue 6: hash locally in parallel while the server hashes its side"},
	{"manifest", Wall, 1.0, "issue 6"},
	{"tiny-initial", Wall, 1.0, "issue 6 (aim: faster everywhere)"},
	{"tiny-initial", RSS, 1.0, "issue 6"},
	{"wan-initial", Wall, 1.0, "issue 6: no slower than the rsync CLI on the WAN link"},
	{"wan-edit-1pct", Wall, 1.0, "issue 6: no slower than the rsync CLI on the WAN link"},
	{"wan-tf-edit-1pct", Wall, 0.05, "issue 6: re-apply ≥ 20× faster than the file provisioner's re-copy"},
	{"delta-31b", Wall, 1.0, "issue 6 (aim: faster everywhere)"},
	{"*", Wire, 1.05, "issue 6"},
	{"delta-31b", LiteralBlocks, 2, "issue 3"},
	{"delta-31b", Sent, 1.05, "issue 3"},
}

// Verdict is one limit checked against one scenario.
type Verdict struct {
	Limit
	Scenario string
	Value    float64
	OK       bool
}

func (v Verdict) String() string {
	op, word := "≤", "ok"
	if !v.OK {
		op, word = ">", "FAILED"
	}
	what := string(v.Metric)
	if v.Metric.isRatio() {
		what += " ratio"
	}
	if v.Metric.atLeast() {
		op = "≥"
		if !v.OK {
			op = "<"
		}
	}
	return fmt.Sprintf("%s: %s %s %s %s (%s) — %s", v.Scenario, what, formatValue(v.Metric, v.Value), op, formatValue(v.Metric, v.Max), v.Source, word)
}

func formatValue(m Metric, v float64) string {
	if m == Literal {
		return FormatBytes(int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

// Evaluate checks limits against the scenarios that ran successfully.
func Evaluate(limits []Limit, results []ScenarioResult) []Verdict {
	var out []Verdict
	for _, r := range results {
		if r.Err != nil {
			continue
		}
		for _, l := range limits {
			if l.Scenario != "*" && l.Scenario != r.Name {
				continue
			}
			v, ok := r.Value(l.Metric)
			if !ok {
				continue
			}
			ok = v <= l.Max
			if l.Metric.atLeast() {
				ok = v >= l.Max
			}
			out = append(out, Verdict{Limit: l, Scenario: r.Name, Value: v, OK: ok})
		}
	}
	return out
}

// Value is a metric's value in this scenario (false when not measurable,
// e.g. a ratio over a zero).
func (r ScenarioResult) Value(m Metric) (float64, bool) {
	if m == Throughput {
		if len(r.Ours) == 0 {
			return 0, false
		}
		v := median(r.Ours, func(x Run) float64 {
			if x.Work <= 0 {
				return 0
			}
			return float64(x.HashBytes) / x.Work.Seconds() / 1e9
		})
		return v, v > 0
	}
	if len(r.Ours) == 0 || len(r.Rsync) == 0 {
		return 0, false
	}
	pick := map[Metric]func(Run) float64{
		Wall:          func(x Run) float64 { return x.Client.Wall.Seconds() },
		CPU:           func(x Run) float64 { return x.Client.CPU().Seconds() },
		Wire:          func(x Run) float64 { return float64(x.Wire()) },
		RSS:           func(x Run) float64 { return float64(x.Client.MaxRSS) },
		Sent:          func(x Run) float64 { return float64(x.Sent) },
		Up:            func(x Run) float64 { return float64(x.Up) },
		Literal:       func(x Run) float64 { return float64(x.Literal) },
		LiteralBlocks: func(x Run) float64 { return float64(x.Literal) },
	}[m]
	if pick == nil {
		return 0, false
	}
	ours := median(r.Ours, pick)
	switch m {
	case Literal:
		return ours, true
	case LiteralBlocks:
		if r.BlockLen == 0 {
			return 0, false
		}
		return ours / float64(r.BlockLen), true
	}
	theirs := median(r.Rsync, pick)
	if theirs == 0 {
		return 0, false
	}
	return ours / theirs, true
}

// median of f over runs (the mean of the middle two for an even count).
func median(runs []Run, f func(Run) float64) float64 {
	if len(runs) == 0 {
		return 0
	}
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
