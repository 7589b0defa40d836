package jobs

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"math"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/store"
)

// fpSeed seeds the fingerprints of written rows; they live only in this
// process's memory.
var fpSeed = maphash.MakeSeed()

// fingerprint hashes every value of a customer's row but its time.
func fingerprint(buf []byte, a *store.CustomerAnalytics) ([]byte, uint64) {
	buf = append(buf[:0], a.CustomerID...)
	buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(a.RecencyDays))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(a.FrequencyDays))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(a.MonetaryCents))
	buf = append(buf, byte(a.R), byte(a.F), byte(a.M))
	buf = append(buf, a.Segment...)
	if a.Cluster != nil {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(*a.Cluster)+1)
	} else {
		buf = binary.LittleEndian.AppendUint64(buf, 0)
	}
	if c := a.CLV; c != nil {
		for _, v := range [...]float64{c.ProbAlive, c.ExpectedPurchases, c.ExpectedAOV, c.Value} {
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
		}
		buf = binary.LittleEndian.AppendUint64(buf, uint64(c.ModelVersion))
	}
	return buf, maphash.Bytes(fpSeed, buf)
}

// writeCustomers writes the customers' RFM scores and segment, CLV
// prediction (when there is a model) and cluster (when there is a
// clustering) in chunks of store.AnalyticsChunk rows, so the stream's
// batches keep flowing between them. A row this process wrote with the
// same values since the models were fitted is not written again: with the
// models of the day kept, a run writes the customers who bought since, or
// whose scores moved, rather than every customer. It returns the rows
// written.
func (r *Refresh) writeCustomers(ctx context.Context, pop *population, scores []analytics.RFMScore, preds []prediction,
	clvVersion int, labels []int, now time.Time) (int, error) {
	st := r.cfg.Store
	n := len(pop.sums)
	chunk := make([]store.CustomerAnalytics, 0, store.AnalyticsChunk)
	var ids idList
	fps := make([]uint64, n)
	prev, prevFP := &r.wrote, r.wroteFP
	j, written := 0, 0
	var buf []byte
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
		var fp uint64
		buf, fp = fingerprint(buf, &row)
		ids.add(s.CustomerID)
		fps[i] = fp
		// Both lists are in customer-ID byte order: walk them together.
		for j < prev.len() && string(prev.at(j)) < s.CustomerID {
			j++
		}
		same := j < prev.len() && string(prev.at(j)) == s.CustomerID && prevFP[j] == fp
		if !same {
			chunk = append(chunk, row)
		}
		if len(chunk) > 0 && (len(chunk) == cap(chunk) || i == n-1) {
			began := time.Now()
			if err := st.WriteCustomerAnalytics(ctx, chunk); err != nil {
				return written, err
			}
			written += len(chunk)
			chunk = chunk[:0]
			if err := r.pace(ctx, time.Since(began)); err != nil {
				return written, err
			}
		}
	}
	r.wrote, r.wroteFP = ids, fps
	return written, nil
}
