package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// RunRollupBackfill checks that the rollups a migration backfills from the
// stored rows equal those kept batch by batch and label by label: it
// stores a few hundred scored transactions over three hours (labelled,
// shadowed, alerted and relabelled at random), reads the rollups, then
// has exec empty fraud_rollups and run the backfill statements of the
// migration file (every statement after its CREATE TABLE), and reads them
// again.
func RunRollupBackfill(t *testing.T, s store.Store, migration string, exec func(sql string) error) {
	ctx := context.Background()
	f := s.(store.Fraud)
	rng := rand.New(rand.NewPCG(5, 8))
	var txs []store.Tx
	var labels []store.Label
	var alerts []store.Alert
	decisions := []string{"approve", "review", "decline"}
	for i := range 400 {
		at := fbase.Add(time.Duration(rng.IntN(3*3600)) * time.Second)
		tx := scored(fmt.Sprintf("b%d", i), 0, int64(i), at, decisions[rng.IntN(3)], "[]", 0)
		tx.Risk = rng.Float64()
		if rng.IntN(3) == 0 {
			tx.ShadowRisk, tx.HasShadow = rng.Float64(), true
		}
		txs = append(txs, tx)
		if rng.IntN(5) > 0 {
			l := store.Label{TransactionID: tx.TransactionID}
			if rng.IntN(4) == 0 {
				l.Fraud, l.Scenario = true, []string{"card_testing", "bot_burst", ""}[rng.IntN(3)]
			}
			labels = append(labels, l)
		}
		if tx.Decision != "approve" {
			alerts = append(alerts, alertOf(tx))
		}
	}
	writeParts(t, s, map[int32][]store.Tx{0: txs}, labels, alerts)
	for i, a := range alerts {
		status := []string{store.AlertOpen, store.AlertConfirmedFraud, store.AlertFalsePositive}[i%3]
		if _, err := f.LabelAlert(ctx, a.TransactionID, status, "analyst", fbase); err != nil {
			t.Fatal(err)
		}
	}
	read := func() []*store.Rollups {
		var out []*store.Rollups
		for _, q := range []store.RollupQuery{{OutcomesBy: store.Minute}, {OutcomesBy: store.Hour}, {}, {Since: fbase.Add(17 * time.Minute), Until: fbase.Add(143 * time.Minute)}, {Since: fbase.Add(-30 * time.Hour), Until: fbase.Add(30 * time.Hour)}} {
			r, err := f.(store.RollupReader).FraudRollups(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	kept := read()
	if len(kept[0].Outcomes) == 0 || kept[0].Histograms[store.SeriesShadow] == nil {
		t.Fatalf("no rollups kept: %+v", kept[0])
	}
	if err := exec(BackfillScript(t, migration)); err != nil {
		t.Fatalf("backfilling: %v", err)
	}
	backfilled := read()
	for k := range kept {
		a, b := canonical(kept[k]), canonical(backfilled[k])
		if len(a) != len(b) {
			t.Fatalf("query %d: %d rollup rows kept, %d backfilled", k, len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("query %d: row %d kept %s, backfilled %s", k, i, a[i], b[i])
			}
		}
		if !reflect.DeepEqual(kept[k].Histograms, backfilled[k].Histograms) || !kept[k].AsOf.Equal(backfilled[k].AsOf) ||
			!kept[k].Since.Equal(backfilled[k].Since) {
			t.Fatalf("query %d: histograms or span differ between kept and backfilled rollups", k)
		}
	}
}

// canonical lists a window's outcome rows as sorted text.
func canonical(r *store.Rollups) []string {
	out := make([]string, len(r.Outcomes))
	for i, o := range r.Outcomes {
		out[i] = fmt.Sprintf("%s %s %s/%s/%s/%v %d", o.Granularity, o.Start.Format(time.RFC3339), o.Truth, o.Scenario, o.Decision, o.Analyst, o.N)
	}
	slices.Sort(out)
	return out
}
