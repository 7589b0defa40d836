package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopstream/shopstream/internal/store"
)

// CLVDistribution implements store.CLVDistributionReader: one scan of
// customer_analytics, grouped by a CASE over the edges, so it costs the
// same on both databases and never sends a row per customer.
func (s *Store) CLVDistribution(ctx context.Context, edges []float64) (*store.CLVDistribution, error) {
	if len(edges) == 0 || len(edges) > 100 {
		return nil, fmt.Errorf("reading the CLV distribution: %d bucket edges, want 1..100", len(edges))
	}
	var b strings.Builder
	args := make([]any, 0, len(edges))
	b.WriteString("CASE")
	for i, e := range edges {
		if i > 0 && !(e > edges[i-1]) {
			return nil, fmt.Errorf("reading the CLV distribution: edges not increasing at %d", i)
		}
		args = append(args, e)
		fmt.Fprintf(&b, " WHEN clv < $%d THEN %d", len(args), i)
	}
	b.WriteString(" ELSE " + strconv.Itoa(len(edges)) + " END")
	out := &store.CLVDistribution{Cells: []store.CLVCell{}}
	err := each(ctx, s.d.DB(), `SELECT `+b.String()+`, `+aliveBucketSQL+`,
		count(*), coalesce(sum(clv), 0)
		FROM customer_analytics WHERE clv IS NOT NULL AND p_alive IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`, args, func(r Rows) error {
		var c store.CLVCell
		var sum float64
		if err := r.Scan(&c.CLVBucket, &c.AliveBucket, &c.N, &sum); err != nil {
			return err
		}
		out.Customers += c.N
		out.SumCLV += sum
		out.Cells = append(out.Cells, c)
		return nil
	})
	if err == nil {
		var all int64
		err = s.d.DB().QueryRow(ctx, `SELECT count(*) FROM customer_analytics`).Scan(&all)
		out.Unscored = all - out.Customers
	}
	if err != nil {
		return nil, fmt.Errorf("reading the CLV distribution: %w", err)
	}
	return out, nil
}

// aliveBucketSQL is the tenth of P(alive), 0..9, written out because
// casting a float to an integer rounds in PostgreSQL and truncates in
// SQLite.
var aliveBucketSQL = func() string {
	var b strings.Builder
	b.WriteString("CASE")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, " WHEN p_alive < 0.%d THEN %d", i, i-1)
	}
	b.WriteString(" ELSE 9 END")
	return b.String()
}()
