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
