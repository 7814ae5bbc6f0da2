package bench

import (
	"testing"
	"time"
)

func TestThroughputLimitIsAFloor(t *testing.T) {
	res := []ScenarioResult{{Name: "hash", Op: OpHash, Ours: []Run{{HashBytes: 2e9, Work: time.Second}}}}
	v := Evaluate([]Limit{{"hash", Throughput, 1.5, "test"}, {"hash", Throughput, 2.5, "test"}}, res)
	if len(v) != 2 || !v[0].OK || v[1].OK || v[0].Value != 2 {
		t.Errorf("got %+v", v)
	}
}

// TestFullSizeIsMakeBench: the measured gates apply to make bench's
// defaults (cmd/bench's flags) and to nothing smaller.
func TestFullSizeIsMakeBench(t *testing.T) {
	size, err := ParseSize("400MB")
	if err != nil {
		t.Fatal(err)
	}
	rate, err := ParseRate("100Mbit")
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Files: 10000, Size: size, BigSize: size / 4, EditFrac: 0.01, BigEdit: 31, TinyFiles: 100000,
		HashSize: size * 5 / 2, WAN: Link{BitsPerSec: rate, Delay: 10 * time.Millisecond}}
	if !c.FullSize() {
		t.Error("make bench's defaults are not full size")
	}
	c.Files = 500
	if c.FullSize() {
		t.Error("500 files is full size")
	}
	gate, issue := Limit{"x", Wall, 1, "regression gate"}, Limit{"x", LiteralBlocks, 2, "issue 3: literal data ≤ 2 blocks"}
	if !gate.measured() || issue.measured() {
		t.Error("measured(): regression gates are measured, the issues' bounds are not")
	}
}

// TestFleetGoals: the fleet scenarios are judged on wall time against
// issue 15's 1.2, and not by the "*" wire gate (refresh's listing and the
// push are two file lists to rsync -ac's one).
func TestFleetGoals(t *testing.T) {
	run := func(wall time.Duration, wire int64) Run { return Run{Client: Usage{Wall: wall}, Up: wire} }
	res := []ScenarioResult{
		{Name: FleetPlan, Op: OpFleet, Ours: []Run{run(11*time.Second, 300)}, Rsync: []Run{run(10*time.Second, 100)}},
		{Name: FleetApply, Op: OpFleet, Ours: []Run{run(13*time.Second, 300)}, Rsync: []Run{run(10*time.Second, 100)}},
	}
	got := map[string]Verdict{}
	for _, v := range Evaluate(append(append([]Limit{}, Goals...), Thresholds...), res) {
		if v.Metric == Wire {
			t.Errorf("%s judged on wire bytes: %s", v.Scenario, v)
		}
		if v.Metric == Wall {
			got[v.Scenario] = v
		}
	}
	if v, ok := got[FleetPlan]; !ok || !v.OK || v.Max != 1.2 {
		t.Errorf("fleet-plan at 1.1: %+v, want met against 1.2", v)
	}
	if v, ok := got[FleetApply]; !ok || v.OK {
		t.Errorf("fleet-apply at 1.3: %+v, want not met", v)
	}
}
