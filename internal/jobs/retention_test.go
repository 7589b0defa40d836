package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// The retention job deletes what is past each age, counts it per table,
// and skips while another instance leads.
func TestRetention(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) testStore{
		"sqlite":   func(t *testing.T) testStore { return openSQLite(t) },
		"postgres": func(t *testing.T) testStore { return openPostgres(t, pgtest.URL(t)) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
			var txs []store.Tx
			// 3 days, 2 days and 1 hour old, and new.
			for i, age := range []time.Duration{72 * time.Hour, 48 * time.Hour, time.Hour, 0} {
				txs = append(txs, storetest.Tx(fmt.Sprintf("t%d", i), "c1", now.Add(-age), 100, 0, int64(i)))
			}
			if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions",
				Parts: []store.Part{{Partition: 0, From: 0, To: 4, Txs: txs, CheckedAt: now.Add(-48 * time.Hour)}}}); err != nil {
				t.Fatal(err)
			}
			q := s.(store.Quality)
			if err := q.AddQualityFindings(ctx, []store.QualityFinding{{DetectedAt: now.Add(-48 * time.Hour), Detector: "volume"},
				{DetectedAt: now, Detector: "volume"}}, nil); err != nil {
				t.Fatal(err)
			}
			a := s.(store.Auth)
			for _, at := range []time.Time{now.Add(-400 * 24 * time.Hour), now} {
				if _, err := a.RecordAudit(ctx, &store.AuditEntry{At: at, Actor: "test", Action: "test.change"}); err != nil {
					t.Fatal(err)
				}
			}
			// Fraud forests retrained a month ago, each a shadow retiring
			// the one before: ModelsKept+2 retired, one shadow.
			for i := range ModelsKept + 3 {
				if _, err := s.(store.Fraud).SaveFraudModel(ctx, store.FraudModel{Status: store.StatusShadow, Params: []byte{1},
					CreatedAt: now.Add(-30*24*time.Hour + time.Duration(i)*time.Minute)}); err != nil {
					t.Fatal(err)
				}
			}
			reg := prometheus.NewRegistry()
			r, err := NewRetention(RetentionConfig{Store: s.(RetentionStore), Transactions: 36 * time.Hour,
				MinuteWindows: 30 * time.Minute, Rollups: 36 * time.Hour, Quality: 36 * time.Hour, Audit: 365 * 24 * time.Hour,
				Models: 7 * 24 * time.Hour, Batch: 1, Now: func() time.Time { return now }, Logger: quiet, Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := r.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// PostgreSQL: the old days are in the default partition (no
			// partition was made for them), deleted row by row.
			if rep.Deleted["transactions"] != 2 || rep.Deleted["window_metrics"] != 3 {
				t.Fatalf("report %+v; want 2 transactions and 3 minute windows deleted", rep)
			}
			// The minute rollups of the 2 old transactions (an outcome and a
			// histogram row each), every quality minute (all checked 2 days
			// ago), the old finding and the old audit entry.
			if rep.Deleted["fraud_rollups"] != 4 || rep.Deleted["quality_minutes"] == 0 || rep.Deleted["quality_findings"] != 1 ||
				rep.Deleted["audit"] != 1 {
				t.Fatalf("report %+v; want 4 minute rollups, the quality minutes, 1 finding and 1 audit entry deleted", rep)
			}
			// The two oldest retired forests; the newest ModelsKept retired
			// and the shadow stay.
			if rep.Deleted["models"] != 2 {
				t.Fatalf("report %+v; want the 2 oldest of %d retired model versions deleted", rep, ModelsKept+2)
			}
			if ms, err := s.(store.Fraud).FraudModels(ctx); err != nil || len(ms) != ModelsKept+1 || ms[len(ms)-1].Version != 3 {
				t.Fatalf("fraud models left: %+v, %v; want versions 3 to %d", ms, err, ModelsKept+3)
			}
			if ms, err := q.QualityMinutes(ctx, now.Add(-72*time.Hour), now.Add(time.Hour)); err != nil || len(ms) != 0 {
				t.Fatalf("quality minutes left: %+v, %v; want none", ms, err)
			}
			if es, err := a.AuditEntries(ctx, store.AuditFilter{Action: "test.change"}); err != nil || len(es) != 1 || !es[0].At.Equal(now) {
				t.Fatalf("audit entries left: %+v, %v; want the new one", es, err)
			}
			if got := testutil.ToFloat64(r.deleted.WithLabelValues("audit")); got != 1 {
				t.Fatalf("shopstream_retention_deleted_rows_total{table=audit} = %v, want 1", got)
			}
			if got := testutil.ToFloat64(r.deleted.WithLabelValues("transactions")); got != 2 {
				t.Fatalf("shopstream_retention_deleted_rows_total{table=transactions} = %v, want 2", got)
			}
			left := 0
			if err := s.RecentTransactions(ctx, 0, 0, time.Time{}, func(*store.Tx) error { left++; return nil }); err != nil || left != 2 {
				t.Fatalf("%d transactions left, %v; want 2", left, err)
			}
			release, ok, err := s.TryLead(ctx, RetentionName)
			if err != nil || !ok {
				t.Fatalf("taking the lead: %v, %v", ok, err)
			}
			defer release()
			if _, err := r.RunOnce(ctx); !errors.Is(err, ErrSkipped) {
				t.Fatalf("a run while another leads = %v, want ErrSkipped", err)
			}
		})
	}
}

func TestRetentionRefusesNegativeAges(t *testing.T) {
	st := openSQLite(t).(RetentionStore)
	if _, err := NewRetention(RetentionConfig{Store: st, Alerts: -time.Hour}); err == nil {
		t.Fatal("a negative age was accepted")
	}
	if _, err := NewRetention(RetentionConfig{Store: st, Models: -time.Hour}); err == nil || !strings.Contains(err.Error(), "models") {
		t.Fatalf("a negative age of models: %v, want an error naming them", err)
	}
}
