package postgres

import (
	"context"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlstore"
)

// UpsertImportRollups implements sqlstore.ImportUpserter. Each row is
// its start, its count and the index of its group: the rows sharing every
// other column, whose columns are sent once, as small arrays the
// statement indexes. An import's rows fall in six groups (minute, hour and
// day of the outcome and the risk histogram of unlabelled approvals at
// risk 0), so the server decodes three arrays' elements per row rather
// than nine. The rows keep UpsertRollups' order, so concurrent writers
// still lock shared rows in one order; they are store.SlotOther's.
func (d dialect) UpsertImportRollups(ctx context.Context, tx sqlstore.DB, rows []store.FraudRollup) error {
	type key struct {
		g                         store.Granularity
		series                    string
		bucket                    int
		truth, scenario, decision string
		analyst                   bool
	}
	groups := map[key]int32{}
	var g, series, truth, scen, dec []string
	var bucket []int16
	var an []bool
	gi := make([]int32, len(rows))
	st := make([]time.Time, len(rows))
	n := make([]int64, len(rows))
	for i := range rows {
		r := &rows[i]
		k := key{r.Granularity, r.Series, r.Bucket, r.Truth, r.Scenario, r.Decision, r.Analyst}
		x, ok := groups[k]
		if !ok {
			x = int32(len(g)) + 1 // arrays count from 1
			groups[k] = x
			g, series, bucket, truth = append(g, string(r.Granularity)), append(series, r.Series), append(bucket, int16(r.Bucket)), append(truth, r.Truth)
			scen, dec, an = append(scen, r.Scenario), append(dec, r.Decision), append(an, r.Analyst)
		}
		gi[i], st[i], n[i] = x, r.Start, r.N
	}
	_, err := pgTx(tx).Exec(ctx, `INSERT INTO fraud_rollups AS f (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, n, slot)
		SELECT ($4::text[])[i], s, ($5::text[])[i], ($6::smallint[])[i], ($7::text[])[i], ($8::text[])[i], ($9::text[])[i], ($10::boolean[])[i], n, $11::integer
		FROM unnest($1::int[], $2::timestamptz[], $3::bigint[]) AS u(i, s, n)
		ON CONFLICT (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, slot) DO UPDATE SET n = f.n + excluded.n`,
		gi, st, n, g, series, bucket, truth, scen, dec, an, store.SlotOther)
	return err
}

// UpsertImportWindows implements sqlstore.ImportUpserter: an import's
// windows are tens of thousands a batch, merged from COPY (UpsertWindows).
func (d dialect) UpsertImportWindows(ctx context.Context, tx sqlstore.DB, ws []store.WindowRow) error {
	return d.UpsertWindows(ctx, tx, store.SlotOther, ws)
}
