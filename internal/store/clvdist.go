package store

import "context"

// CLVDistributionReader is implemented by stores that can count the
// customers' stored CLV predictions in buckets, in one pass in SQL.
type CLVDistributionReader interface {
	// CLVDistribution counts the customers with a CLV prediction by the
	// bucket of their CLV (bucket i holds edges[i-1] <= clv < edges[i];
	// bucket 0 below edges[0], bucket len(edges) from the last edge up)
	// and by the tenth of P(alive) (0..9), jointly.
	CLVDistribution(ctx context.Context, edges []float64) (*CLVDistribution, error)
}

// CLVDistribution is CLVDistributionReader's answer.
type CLVDistribution struct {
	// Customers with a CLV prediction, and without one (scored by the
	// refresh before any CLV model could be fitted, or new since).
	Customers, Unscored int64
	// Sum of the predicted CLVs.
	SumCLV float64
	// Cells are the non-empty joint buckets.
	Cells []CLVCell
}

// CLVCell is one joint bucket of a CLVDistribution.
type CLVCell struct {
	CLVBucket, AliveBucket int
	N                      int64
}
