package detector_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/pipeline"
)

// TestStateMetrics scores transactions of more customers than the state
// keeps on two partitions and checks that the gauges hold each
// partition's state as of its last sweep, within the bound, and that the
// customers forgotten for it are counted.
func TestStateMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	det, err := detector.New(detector.Config{Registerer: reg, State: fraud.StateConfig{MaxCustomers: 100, MaxEntities: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	value := func(name, kind string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "kind" && l.GetValue() == kind {
						return value(m)
					}
				}
			}
		}
		t.Fatalf("no %s{kind=%q}", name, kind)
		return 0
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var scorers []pipeline.Scorer
	for p := range 2 {
		scorers = append(scorers, det.NewPartitionScorer(int32(p)))
	}
	// 512 transactions a partition (two sweeps), each of a new customer
	// on a device of four.
	for i := range 512 {
		for p, ps := range scorers {
			ev := order(fmt.Sprintf("t%d-%d", p, i), fmt.Sprintf("c%d-%d", p, i), at.Add(time.Duration(i)*time.Second), 2500,
				fmt.Sprintf("d%d", i%4), fmt.Sprintf("%04d", i), "US")
			row := pipeline.NewTx(&ev, int32(p), int64(i), ev.EventTime, nil)
			ps.Score(&ev, &row)
		}
	}
	if got := value("shopstream_fraud_state_keys", "customers"); got != 200 {
		t.Errorf("customers kept: %v, want 200 (100 a partition)", got)
	}
	if got := value("shopstream_fraud_state_keys", "devices"); got != 8 {
		t.Errorf("devices kept: %v, want 8", got)
	}
	if got := value("shopstream_fraud_state_keys", "cards"); got != 1024 {
		t.Errorf("cards kept: %v, want 1024 (512 a partition, within the bound of 1000)", got)
	}
	if got := value("shopstream_fraud_state_keys", "ips"); got != 2 {
		t.Errorf("IP addresses kept: %v, want 2", got)
	}
	if got := value("shopstream_fraud_state_bounded_total", "customers"); got != 2*(512-100) {
		t.Errorf("customers forgotten for the bound: %v, want %d", got, 2*(512-100))
	}
	// What the processor sizes a checkpoint's buffer by: the records each
	// partition's state holds (100 customers, 4 devices, 512 cards and an
	// IP address).
	for p, ps := range scorers {
		c, ok := ps.(pipeline.StateCounter)
		if !ok {
			t.Fatalf("the partition scorer is not a pipeline.StateCounter")
		}
		if got := c.StateRecords(); got != 100+4+512+1 {
			t.Errorf("partition %d: StateRecords %d, want %d", p, got, 100+4+512+1)
		}
	}
}

func value(m *dto.Metric) float64 {
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}
