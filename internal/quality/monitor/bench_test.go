package monitor

import (
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
)

// BenchmarkObserve is the processor's cost per record: one poll of 5,000
// records of one partition observed and merged, reported per record.
func BenchmarkObserve(b *testing.B) {
	m := New(Config{})
	now := t0
	txs := make([]event.Transaction, 64)
	for i := range txs {
		txs[i] = event.Transaction{EventTime: now.Add(-time.Duration(i) * time.Second), TotalCents: event.Cents(100 + 997*i),
			Items: make([]event.Item, 1+i%5), Channel: [...]string{"web", "app", "mobile_web"}[i%3]}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 5000 {
		sk := m.Begin(now)
		for j := range min(5000, b.N-i) {
			if j%100 == 0 {
				sk.Observe(quality.MalformedJSON, nil, nil, now)
				continue
			}
			sk.Observe(quality.OK, nil, &txs[j%len(txs)], now.Add(-time.Millisecond))
		}
		sk.Done()
	}
}
