package jobs

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string, get func(*dto.Metric) float64) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return get(m)
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	return metricValue(t, reg, name, labels, func(m *dto.Metric) float64 { return m.GetCounter().GetValue() })
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	return metricValue(t, reg, name, labels, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() })
}
