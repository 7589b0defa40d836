package recsvc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// The benchmark's shop: 100,000 products in 2,000 groups of 50 (a
// customer buys mostly within one group, as shoppers of one kind of thing
// do, with the group and the product within it skewed), and a million
// customers with 1 to 15 distinct purchases each.
const (
	benchProducts  = 100_000
	benchGroup     = 50
	benchCustomers = 1_000_000
)

var (
	benchOnce sync.Once
	benchSvc  *Service
	benchTook time.Duration
)

func benchService(b *testing.B) *Service {
	benchOnce.Do(func() {
		start := time.Now()
		// Unbounded: the benchmark times lookups on a model of a
		// million customers' purchases, beyond the default bounds.
		svc, err := New(Config{Store: noStore{}, MaxCustomers: -1, MaxPairs: -1})
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		groups := benchProducts / benchGroup
		zg := rand.NewZipf(rng, 1.1, 1, uint64(groups-1))
		zp := rand.NewZipf(rng, 1.2, 1, benchGroup-1)
		// Every product is bought at least once, so the catalogue is the
		// full 100,000.
		for p := range benchProducts {
			svc.counts.Add(fmt.Sprintf("seed%d", p%1000), benchProduct(p))
		}
		for c := range benchCustomers {
			cust := benchCustomer(c)
			g := int(zg.Uint64())
			for range 1 + rng.IntN(15) {
				p := g*benchGroup + int(zp.Uint64())
				if rng.IntN(10) == 0 { // one purchase in ten outside the group
					p = rng.IntN(benchProducts)
				}
				svc.counts.Add(cust, benchProduct(p))
			}
		}
		svc.lines = 1
		svc.Rebuild()
		benchSvc, benchTook = svc, time.Since(start)
	})
	return benchSvc
}

func benchProduct(p int) string  { return fmt.Sprintf("P%06d", p) }
func benchCustomer(c int) string { return fmt.Sprintf("C%07d", c) }

// noStore is never read: the benchmark fills the counts itself.
type noStore struct{}

func (noStore) PurchaseLines(context.Context, store.PurchaseCursor, int, func(*store.PurchaseLine) error) (store.PurchaseCursor, error) {
	return nil, errors.New("the benchmark's store holds nothing")
}

// benchLookups times n lookups one by one and reports ns/op from b's loop
// and the measured p50 and p99.
func benchLookups(b *testing.B, lookup func(i int) error) {
	svc := benchService(b)
	st := svc.Stats()
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		t := time.Now()
		if err := lookup(i); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	b.ReportMetric(float64(st.ModelBytes)/float64(st.Products), "model-B/product")
	b.ReportMetric(float64(st.CountBytes)/float64(st.Products), "counts-B/product")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.Logf("%d products, %d customers, built in %v; model %d bytes, counts %d bytes", st.Products, st.Customers,
		benchTook.Round(time.Millisecond), st.ModelBytes, st.CountBytes)
}

// BenchmarkRecommend looks up n = 10 recommendations for customers spread
// over the million.
func BenchmarkRecommend(b *testing.B) {
	svc := benchService(b)
	benchLookups(b, func(i int) error {
		res, err := svc.Recommend(benchCustomer((i*7919)%benchCustomers), 10, false)
		if err == nil && len(res.Items) != 10 {
			err = fmt.Errorf("%d recommendations, want 10", len(res.Items))
		}
		return err
	})
}

// BenchmarkSimilar looks up the 10 products most similar to products
// spread over the catalogue.
func BenchmarkSimilar(b *testing.B) {
	svc := benchService(b)
	benchLookups(b, func(i int) error {
		_, err := svc.Similar(benchProduct((i*7919)%benchProducts), 10)
		return err
	})
}
