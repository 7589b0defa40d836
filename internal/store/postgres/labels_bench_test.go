package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// BenchmarkWriteLabels compares, in one run, the two ways a batch of
// 5,000 scored transactions (2% fraud) gets its truth: a label row for
// every transaction written with the batch (every_tx, as before the
// labels topic), and label rows only where labels exist (where_labels_exist:
// the batch with no label, then the label events of its fraud, written
// as the labels consumer does). It reports the WAL bytes and the label
// rows (labels and label_events) written per transaction.
func BenchmarkWriteLabels(b *testing.B) {
	for _, mode := range []string{"every_tx", "where_labels_exist"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			url := pgtest.URL(b)
			s, err := postgres.Open(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(ctx)
			lsn := func() int64 {
				var n int64
				if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").Scan(&n); err != nil {
					b.Fatal(err)
				}
				return n
			}
			const batch = 5000
			base := time.Now().Add(-time.Hour)
			var off, labelOff, wal int64
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				p := storetest.LabelledPart(base, off, batch)
				var events []store.LabelEvent
				if mode == "where_labels_exist" {
					for _, l := range p.Labels {
						if l.Fraud {
							events = append(events, store.LabelEvent{LabelID: "cb-" + l.TransactionID, TransactionID: l.TransactionID,
								Kind: "chargeback", Fraud: true, Scenario: l.Scenario, ReasonCode: "10.4", EventTime: base.Add(21 * 24 * time.Hour),
								Offset: labelOff + int64(len(events))})
						}
					}
					p.Labels = nil
				}
				before := lsn()
				b.StartTimer()
				if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{p}}); err != nil {
					b.Fatal(err)
				}
				if len(events) > 0 {
					lb := &store.Batch{Group: "g", Topic: "labels", Parts: []store.Part{{Partition: 0, From: labelOff,
						To: labelOff + int64(len(events)), LabelEvents: events}}}
					if _, err := s.WriteLabels(ctx, lb, store.LabelOptions{ExpireBefore: time.Now().Add(-time.Hour)}); err != nil {
						b.Fatal(err)
					}
					labelOff += int64(len(events))
				}
				b.StopTimer()
				wal += lsn() - before
				b.StartTimer()
				off += batch
			}
			b.StopTimer()
			var rows int64
			if err := conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM labels) + (SELECT count(*) FROM label_events)").Scan(&rows); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(wal)/float64(off), "WAL-B/tx")
			b.ReportMetric(float64(rows)/float64(off), "label-rows/tx")
			b.ReportMetric(float64(off)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}
