package storetest

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// remaining lists the ids of the stored transactions of partition p.
func remaining(t *testing.T, s store.Store, p int32) []string {
	t.Helper()
	var ids []string
	err := s.RecentTransactions(context.Background(), p, 0, time.Time{}, func(tx *store.Tx) error {
		ids = append(ids, tx.TransactionID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	return ids
}

// Retention deletes transactions by event time, minute windows by their
// start and alerts by creation time, in bounded batches, and nothing
// younger; hourly windows (the totals) stay.
func testRetention(t *testing.T, s store.Store) {
	ctx := context.Background()
	r, ok := s.(store.Retention)
	if !ok {
		t.Fatalf("%T does not implement store.Retention", s)
	}
	advance := fakeClock(s, t)
	var txs []store.Tx
	for i, age := range []time.Duration{72 * time.Hour, 48 * time.Hour, 47 * time.Hour, 90 * time.Minute, 10 * time.Minute, 0} {
		tx := Tx(fmt.Sprintf("t%d", i), "c1", base.Add(-age), 100, 0, int64(i))
		tx.Decision = "review"
		txs = append(txs, tx)
	}
	p := part(0, 0, txs[:3]...)
	for _, tx := range txs[:3] {
		p.Alerts = append(p.Alerts, store.Alert{TransactionID: tx.TransactionID, CustomerID: "c1", EventTime: tx.EventTime,
			Risk: 0.5, Decision: "review", ReasonsJSON: []byte("[]"), AmountCents: 100})
	}
	write(t, s, p)
	advance(2 * time.Hour)
	p = part(0, 3, txs[3:]...)
	for _, tx := range txs[3:] {
		p.Alerts = append(p.Alerts, store.Alert{TransactionID: tx.TransactionID, CustomerID: "c1", EventTime: tx.EventTime,
			Risk: 0.5, Decision: "review", ReasonsJSON: []byte("[]"), AmountCents: 100})
	}
	write(t, s, p)

	got, err := r.PruneTransactions(ctx, base.Add(-time.Hour), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows+got.PartitionRows < 4 && got.Partitions == 0 {
		t.Fatalf("pruned %+v, want the 4 transactions older than an hour", got)
	}
	if ids := remaining(t, s, 0); fmt.Sprint(ids) != "[t4 t5]" {
		t.Fatalf("after pruning transactions older than an hour: %v, want [t4 t5]", ids)
	}
	if again, err := r.PruneTransactions(ctx, base.Add(-time.Hour), 1); err != nil || again.Rows != 0 || again.Partitions != 0 {
		t.Fatalf("pruning again = %+v, %v; want nothing", again, err)
	}

	// Minute windows of the 4 old ones go; the hours stay, and so do the
	// totals.
	n, err := r.PruneWindows(ctx, store.Minute, base.Add(-time.Hour), 1)
	if err != nil || n != 4 {
		t.Fatalf("pruned %d minute windows, %v; want 4", n, err)
	}
	mins, _ := s.Windows(ctx, store.Minute, time.Time{})
	if len(mins) != 2 {
		t.Fatalf("minute windows left: %d, want 2", len(mins))
	}
	sum, err := s.Summary(ctx)
	if err != nil || sum.TransactionsTotal != 6 || sum.RevenueCents != 600 {
		t.Fatalf("summary after pruning = %+v, %v; want the 6 transactions' totals kept", sum, err)
	}

	// Alerts: the first 3 were created 2 hours before the others.
	n, err = r.PruneAlerts(ctx, time.Now().Add(time.Hour), 2)
	if err != nil || n != 3 {
		t.Fatalf("pruned %d alerts, %v; want the 3 created first", n, err)
	}
	if f, ok := s.(store.Fraud); ok {
		as, err := f.Alerts(ctx, store.AlertFilter{Limit: 100})
		if err != nil || len(as) != 3 {
			t.Fatalf("alerts left: %d, %v; want 3", len(as), err)
		}
	}
}

// The aggregates that grow by the minute have ages of their own: the
// minute rows of the fraud rollups (by event time; the hour and day rows
// stay, so an open window still counts every stored transaction), the
// quality minutes and findings, and the audit trail, each deleted in
// bounded batches and nothing younger.
func testRetentionAggregates(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := s.(store.Retention)
	f, ok := s.(store.Fraud)
	if !ok {
		t.Fatalf("%T does not implement store.Fraud", s)
	}
	q := qualityOf(t, s)
	a, ok := s.(store.Auth)
	if !ok {
		t.Fatalf("%T does not implement store.Auth", s)
	}
	old1, old2 := base.Add(-72*time.Hour+5*time.Minute), base.Add(-49*time.Hour+7*time.Minute)
	cutoff := base.Add(-time.Hour)
	p0 := part(0, 0, Tx("a0", "c1", old1, 100, 0, 0), Tx("a1", "c1", old2, 100, 0, 1))
	p0.CheckedAt = old1
	write(t, s, p0)
	p1 := part(0, 2, Tx("a2", "c1", base.Add(-10*time.Minute), 100, 0, 2), Tx("a3", "c1", base, 100, 0, 3))
	p1.CheckedAt = base
	write(t, s, p1)
	total := func(c map[string]int64) (n int64) {
		for _, v := range c {
			n += v
		}
		return n
	}

	// Fraud rollups: the two old minutes go (each an outcome row and a
	// risk histogram row), one row per batch.
	n, err := r.PruneRollups(ctx, store.Minute, cutoff, 1)
	if err != nil || n != 4 {
		t.Fatalf("pruned %d minute rollups, %v; want the 4 rows of the 2 old minutes", n, err)
	}
	if n, err := r.PruneRollups(ctx, store.Minute, cutoff, 1); err != nil || n != 0 {
		t.Fatalf("pruning the rollups again deleted %d, %v; want nothing", n, err)
	}
	if c, _ := rollupCounts(t, f, store.RollupQuery{Since: old1.Add(-time.Hour), Until: cutoff, OutcomesBy: store.Minute}); len(c) != 0 {
		t.Fatalf("minute rollups before the cutoff: %v, want none", c)
	}
	all, rr := rollupCounts(t, f, store.RollupQuery{})
	if total(all) != 4 || !rr.Oldest.Equal(old1.Truncate(time.Hour)) || !rr.AsOf.Equal(base.Add(time.Minute)) {
		t.Fatalf("all rollups after pruning the old minutes: %v, oldest %v, as of %v; want 4 transactions from %v to %v",
			all, rr.Oldest, rr.AsOf, old1.Truncate(time.Hour), base.Add(time.Minute))
	}
	if hours, _ := rollupCounts(t, f, store.RollupQuery{Since: old1.Truncate(time.Hour), Until: old2.Truncate(time.Hour).Add(time.Hour)}); total(hours) != 2 {
		t.Fatalf("the old hours read %v, want their 2 transactions", hours)
	}
	// Every minute gone: the hours alone.
	if n, err := r.PruneRollups(ctx, store.Minute, base.Add(time.Hour), 1000); err != nil || n != 4 {
		t.Fatalf("pruned %d minute rollups, %v; want the 4 rows left", n, err)
	}
	all, rr = rollupCounts(t, f, store.RollupQuery{})
	if total(all) != 4 || !rr.Oldest.Equal(old1.Truncate(time.Hour)) || !rr.AsOf.Equal(base.Add(time.Hour)) {
		t.Fatalf("all rollups from the hours alone: %v, oldest %v, as of %v", all, rr.Oldest, rr.AsOf)
	}

	// Quality minutes, by the minute checked.
	before, err := q.QualityMinutes(ctx, old1.Add(-time.Hour), base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var oldRows int64
	for _, m := range before {
		if m.Minute.Before(cutoff) {
			oldRows++
		}
	}
	if oldRows == 0 || oldRows == int64(len(before)) {
		t.Fatalf("quality minutes %+v: want rows before and after the cutoff", before)
	}
	if n, err := r.PruneQualityMinutes(ctx, cutoff, 2); err != nil || n != oldRows {
		t.Fatalf("pruned %d quality minutes, %v; want %d", n, err, oldRows)
	}
	after, err := q.QualityMinutes(ctx, old1.Add(-time.Hour), base.Add(time.Hour))
	if err != nil || int64(len(after)) != int64(len(before))-oldRows || !after[0].Minute.Equal(base) {
		t.Fatalf("quality minutes left: %+v, %v; want the %d of %v", after, err, int64(len(before))-oldRows, base)
	}

	// Quality findings, by the time detected.
	var fs []store.QualityFinding
	for i, at := range []time.Time{old1, old2, cutoff.Add(-time.Second), cutoff, base} {
		fs = append(fs, store.QualityFinding{DetectedAt: at, Detector: "volume", Subject: fmt.Sprint(i), Severity: "warn", Message: "m", Source: "stream"})
	}
	if err := q.AddQualityFindings(ctx, fs, nil); err != nil {
		t.Fatal(err)
	}
	// And drift samples, pruned with them.
	var ds []store.DriftSample
	for _, at := range []time.Time{old1, cutoff.Add(-time.Second), cutoff} {
		ds = append(ds, store.DriftSample{At: at, Source: "p1", Field: "amount", PSI: 0.1, Ref: 1, Cur: 1})
	}
	qd := s.(store.QualityDrift)
	if err := qd.AddDriftSamples(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if n, err := r.PruneQualityFindings(ctx, cutoff, 2); err != nil || n != 3+2 {
		t.Fatalf("pruned %d quality findings and drift samples, %v; want the 3 and 2 before the cutoff", n, err)
	}
	if left, err := qd.DriftSamples(ctx, old1.Add(-time.Hour), base.Add(time.Hour), "", 10); err != nil || len(left) != 1 || !left[0].At.Equal(cutoff) {
		t.Fatalf("drift samples left: %+v, %v; want the one at the cutoff", left, err)
	}
	left, err := q.QualityFindings(ctx, old1.Add(-time.Hour), base.Add(time.Hour), 0)
	if err != nil || len(left) != 2 || left[1].Subject != "3" || left[0].Subject != "4" {
		t.Fatalf("quality findings left: %+v, %v; want those at and after the cutoff", left, err)
	}

	// The audit trail, by the time recorded.
	for i, at := range []time.Time{old1, old2, cutoff.Add(-time.Second), cutoff, base} {
		if _, err := a.RecordAudit(ctx, &store.AuditEntry{At: at, Actor: "test", Action: "test.change", Target: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := r.PruneAudit(ctx, cutoff, 2); err != nil || n != 3 {
		t.Fatalf("pruned %d audit entries, %v; want the 3 before the cutoff", n, err)
	}
	es, err := a.AuditEntries(ctx, store.AuditFilter{Action: "test.change"})
	if err != nil || len(es) != 2 || es[0].Target != "4" || es[1].Target != "3" {
		t.Fatalf("audit entries left: %+v, %v; want those at and after the cutoff", es, err)
	}
}

// testMinuteHorizon: with store.MinuteHorizon's ages set, a batch of old
// and recent transactions writes minute windows and minute rollups for
// the recent minutes only, and every hour; what is stored is what a
// store that wrote them all holds once the retention job has pruned the
// minutes with the same ages, so a pass after it finds nothing to delete.
func testMinuteHorizon(t *testing.T, s store.Store) {
	ctx := context.Background()
	h, ok := s.(store.MinuteHorizon)
	if !ok {
		t.Fatalf("%T does not implement store.MinuteHorizon", s)
	}
	c, ok := s.(interface{ SetClock(func() time.Time) })
	if !ok {
		t.Fatalf("%T has no SetClock", s)
	}
	c.SetClock(func() time.Time { return base.Add(time.Minute) })
	f := s.(store.Fraud)
	r := s.(store.Retention)
	const keepWindows, keepRollups = 2 * time.Hour, 48 * time.Hour
	h.KeepMinutes(keepWindows, keepRollups)
	old1, old2 := base.Add(-72*time.Hour+5*time.Minute), base.Add(-30*time.Hour+7*time.Minute)
	write(t, s, part(0, 0, Tx("h0", "c1", old1, 100, 0, 0), Tx("h1", "c1", old2, 200, 0, 1),
		Tx("h2", "c1", base.Add(-10*time.Minute), 300, 0, 2), Tx("h3", "c1", base, 400, 0, 3)))

	// Windows: the minutes of the last two hours, and every hour.
	ws, err := s.Windows(ctx, store.Minute, old1.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || !ws[0].Start.Equal(base.Add(-10*time.Minute)) || ws[0].Count+ws[1].Count != 2 {
		t.Fatalf("minute windows %+v: want the 2 recent minutes only", ws)
	}
	hs, err := s.Windows(ctx, store.Hour, old1.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var n, rev int64
	for _, w := range hs {
		n += w.Count
		rev += w.RevenueCents
	}
	if n != 4 || rev != 1000 {
		t.Fatalf("hour windows %+v sum to %d tx, %d cents: want every transaction, 4 and 1000", hs, n, rev)
	}
	// Rollups: the minute of old2 (30 h ago) is within 48 h, old1's is not.
	mins, _ := rollupCounts(t, f, store.RollupQuery{Since: old1.Add(-time.Hour), Until: base.Add(time.Hour), OutcomesBy: store.Minute})
	var m int64
	for _, v := range mins {
		m += v
	}
	if m != 3 {
		t.Fatalf("minute rollups %v: want the 3 transactions within 48 h", mins)
	}
	all, _ := rollupCounts(t, f, store.RollupQuery{})
	var tot int64
	for _, v := range all {
		tot += v
	}
	if tot != 4 {
		t.Fatalf("all rollups %v: want the 4 transactions by their hours", all)
	}
	// Retention with the same ages has nothing left to delete.
	now := base.Add(time.Minute)
	if n, err := r.PruneWindows(ctx, store.Minute, now.Add(-keepWindows), 1000); err != nil || n != 0 {
		t.Fatalf("pruning minute windows deleted %d, %v; want nothing", n, err)
	}
	if n, err := r.PruneRollups(ctx, store.Minute, now.Add(-keepRollups), 1000); err != nil || n != 0 {
		t.Fatalf("pruning minute rollups deleted %d, %v; want nothing", n, err)
	}
	// 0 writes every minute again.
	h.KeepMinutes(0, 0)
	write(t, s, part(0, 4, Tx("h4", "c1", old1.Add(time.Minute), 100, 0, 4)))
	if ws, _ := s.Windows(ctx, store.Minute, old1.Add(-time.Hour)); len(ws) != 3 {
		t.Fatalf("minute windows with the horizon off: %+v, want old1's minute as well", ws)
	}
}

// testPruneModels: PruneModels deletes retired model versions created
// before the cutoff, of every kind, but never an active or shadow one,
// and keeps of each kind the newest retired versions and the newest
// retired versions once active, which a rollback goes back to.
func testPruneModels(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := s.(store.Retention)
	f, ok := s.(store.Fraud)
	if !ok {
		t.Fatalf("%T does not implement store.Fraud", s)
	}
	an, ok := s.(store.Analytics)
	if !ok {
		t.Fatalf("%T does not implement store.Analytics", s)
	}
	now := time.Now()
	old := now.Add(-48 * time.Hour)
	// Saving an active version retires the active one, a shadow the
	// shadow: versions 1, 4, 6 and 8 are activated, 2, 3, 5, 7 and 9 never
	// are. Version 2 is dated after the cutoff.
	for v, status := range []string{store.StatusActive, store.StatusShadow, store.StatusShadow, store.StatusActive,
		store.StatusShadow, store.StatusActive, store.StatusShadow, store.StatusActive, store.StatusShadow} {
		at := old.Add(time.Duration(v) * time.Minute)
		if v == 1 {
			at = now.Add(2 * time.Hour)
		}
		got, err := f.SaveFraudModel(ctx, store.FraudModel{Status: status, Params: []byte{byte(v)}, CreatedAt: at})
		if err != nil || got != v+1 {
			t.Fatalf("saving fraud model %d: version %d, %v", v+1, got, err)
		}
	}
	for v := 1; v <= 4; v++ {
		if got, err := an.SaveModelVersion(ctx, store.ModelCLV, []byte("{}"), nil); err != nil || got != v {
			t.Fatalf("saving CLV model %d: version %d, %v", v, got, err)
		}
	}
	versions := func() []int {
		t.Helper()
		ms, err := f.FraudModels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var vs []int
		for _, m := range ms {
			vs = append(vs, m.Version)
		}
		return vs
	}
	cutoff := now.Add(time.Hour)
	// Kept, two of each: retired 7 and 6 (the newest), 6 and 4 (the newest
	// once active), 2 (too young); 8 and 9 are active and shadow. Of the
	// CLV models, 3 and 2 (retired) and 4 (active). Deleted: fraud 1, 3
	// and 5, CLV 1.
	if n, err := r.PruneModels(ctx, cutoff, 2, 2); err != nil || n != 4 {
		t.Fatalf("pruned %d model versions, %v; want 4", n, err)
	}
	if got, want := fmt.Sprint(versions()), "[9 8 7 6 4 2]"; got != want {
		t.Fatalf("fraud model versions left %s, want %s", got, want)
	}
	if n, err := r.PruneModels(ctx, cutoff, 2, 2); err != nil || n != 0 {
		t.Fatalf("pruned %d model versions again, %v; want none", n, err)
	}
	// A rollback still finds the version active before the current one.
	if to, err := f.RollbackFraudModel(ctx, now); err != nil || to != 6 {
		t.Fatalf("rolled back to %d, %v; want version 6", to, err)
	}
	// Keeping one: of the fraud models 8, retired by the rollback, is both
	// the newest retired and the newest retired once active; 7 and 4 go,
	// 2 is too young. Of the CLV models 3 stays, 2 goes.
	if n, err := r.PruneModels(ctx, cutoff, 1, 10); err != nil || n != 3 {
		t.Fatalf("pruned %d model versions keeping one, %v; want 3", n, err)
	}
	if got, want := fmt.Sprint(versions()), "[9 8 6 2]"; got != want {
		t.Fatalf("fraud model versions left %s, want %s", got, want)
	}
	if m, err := an.LatestModelVersion(ctx, store.ModelCLV); err != nil || m.Version != 4 || m.Status != store.StatusActive {
		t.Fatalf("latest CLV model %+v, %v; want version 4, active", m, err)
	}
}
