package jobs

import (
	"context"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/store"
)

// writeCustomers writes every customer's RFM scores and segment, CLV
// prediction (when there is a model) and cluster (when there is a
// clustering) in chunks of store.AnalyticsChunk rows, so the stream's
// batches keep flowing between them.
func (r *Refresh) writeCustomers(ctx context.Context, pop *population, scores []analytics.RFMScore, preds []prediction,
	clvVersion int, labels []int, now time.Time) error {
	st := r.cfg.Store
	n := len(pop.sums)
	chunk := make([]store.CustomerAnalytics, 0, store.AnalyticsChunk)
	for i, s := range pop.sums {
		row := store.CustomerAnalytics{
			CustomerID: s.CustomerID, RecencyDays: float64(s.DaysSinceLast), FrequencyDays: int64(s.Frequency) + 1,
			MonetaryCents: pop.cents[i], R: int(scores[i].R), F: int(scores[i].F), M: int(scores[i].M),
			Segment: string(scores[i].Segment), UpdatedAt: now,
		}
		if labels != nil {
			c := labels[i]
			row.Cluster = &c
		}
		if preds != nil && preds[i].ok {
			p := preds[i].p
			row.CLV = &store.CLVFigures{ProbAlive: p.ProbAlive, ExpectedPurchases: p.ExpectedPurchases,
				ExpectedAOV: p.ExpectedSpend, Value: p.Value, ModelVersion: clvVersion}
		}
		chunk = append(chunk, row)
		if len(chunk) == cap(chunk) || i == n-1 {
			if err := st.WriteCustomerAnalytics(ctx, chunk); err != nil {
				return err
			}
			chunk = chunk[:0]
		}
	}
	return nil
}
