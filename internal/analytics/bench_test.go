package analytics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
)

// BenchmarkFitBGNBD100k fits the BG/NBD model to 100,000 customers drawn
// from the CDNOW parameters with ages up to 78 weeks.
func BenchmarkFitBGNBD100k(b *testing.B) {
	data := simulate(1, 100_000, publishedBG, publishedGG, 78)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FitBGNBD(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFitGammaGamma100k fits the Gamma-Gamma model to the repeat
// customers among 100,000 simulated ones.
func BenchmarkFitGammaGamma100k(b *testing.B) {
	data := simulate(1, 100_000, publishedBG, publishedGG, 78)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FitGammaGamma(data); err != nil {
			b.Fatal(err)
		}
	}
}

// refreshed is what the periodic model job computes for every customer.
type refreshed struct {
	rfm    []RFMScore
	clv    []CLVPrediction
	seg    *Segmentation
	labels []int
}

// refreshSample is how many customers k-means is fitted on before every
// customer is assigned to the nearest centroid.
const refreshSample = 20_000

// refresh is the periodic refresh as the model job runs it, with the
// models already fitted: RFM quintiles and segments over the population,
// CLV for every customer, and k-means on a seeded sample (drawn with
// replacement, which at 20,000 of a million changes nothing) on recency,
// log frequency and log spend, then every customer assigned.
func refresh(customers []Summary, clv *CLV, seed uint64) (refreshed, error) {
	n := len(customers)
	var out refreshed
	vals := make([]RFMValues, n)
	for i, s := range customers {
		vals[i] = s.RFMValues()
	}
	var err error
	if out.rfm, err = ScoreRFM(vals); err != nil {
		return out, err
	}
	out.clv = clv.PredictAll(customers, nil)
	flat := make([]float64, 3*n)
	features := make([][]float64, n)
	for i, v := range vals {
		f := flat[3*i : 3*i+3 : 3*i+3]
		f[0], f[1], f[2] = v.Recency, math.Log1p(v.Frequency), math.Log1p(max(v.Monetary, 0))
		features[i] = f
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	sample := make([][]float64, min(refreshSample, n))
	for i := range sample {
		sample[i] = features[rng.IntN(n)]
	}
	if out.seg, err = FitSegments(sample, SegmentConfig{Seed: seed}); err != nil {
		return out, err
	}
	out.labels = out.seg.PredictAll(features, nil)
	return out, nil
}

// BenchmarkRefresh1M is the periodic refresh for a million customers: RFM
// quintiles and segments, 12-month CLV for every customer with fixed
// fitted parameters, and k-means (k chosen in 2..8 by silhouette) on a
// 20,000 sample followed by assigning all million.
func BenchmarkRefresh1M(b *testing.B) {
	customers := simulate(2, 1_000_000, publishedBG, publishedGG, 78)
	clv, err := NewCLV(publishedBG, publishedGG, CLVConfig{AnnualDiscountRate: 0.10})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := refresh(customers, clv, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// The refresh must produce a full, sensible result; checked here on a
// small population so the benchmark measures code that is tested.
func TestRefresh(t *testing.T) {
	t.Parallel()
	customers := simulate(3, 30_000, publishedBG, publishedGG, 78)
	clv, err := NewCLV(publishedBG, publishedGG, CLVConfig{AnnualDiscountRate: 0.10})
	if err != nil {
		t.Fatal(err)
	}
	r, err := refresh(customers, clv, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.rfm) != len(customers) || len(r.clv) != len(customers) || len(r.labels) != len(customers) {
		t.Fatalf("refresh covered %d, %d, %d of %d customers", len(r.rfm), len(r.clv), len(r.labels), len(customers))
	}
	for i, p := range r.clv {
		if math.IsNaN(p.Value) || p.Value < 0 || p.ProbAlive < 0 || p.ProbAlive > 1 {
			t.Fatalf("customer %d: %+v", i, p)
		}
	}
	if r.seg.K < 2 || r.seg.K > 8 {
		t.Errorf("k = %d", r.seg.K)
	}
}

// BenchmarkFitBGNBD1M fits the BG/NBD model to a million customers drawn
// from the CDNOW parameters with ages up to 78 weeks, their histories in
// whole days as Summarize makes them, so identical (x, t_x, T) fold
// together as they do in a shop's data. The target is under half a second.
// Besides the time per fit it reports the process's CPU time per fit
// (cpu-s/op, both workers together), which a busy host does not inflate
// the way it does the elapsed time, and the distinct histories the fit
// works on (rows).
func BenchmarkFitBGNBD1M(b *testing.B) {
	data := simulateDays(1_000_000)
	d, _, err := groupBG(data)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuSeconds(b)
	for b.Loop() {
		if _, err := FitBGNBD(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds(b)-cpu0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(d.rows), "rows")
}

// cpuSeconds is the user and system CPU time of the process so far.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// simulateDays is n customers drawn from the CDNOW parameters with ages up
// to 78 weeks, their histories rounded to whole days as Summarize makes
// them.
func simulateDays(n int) []Summary {
	data := simulate(1, n, publishedBG, publishedGG, 78)
	for i := range data {
		s := &data[i]
		s.Age = math.Round(s.Age*7) / 7
		s.Recency = min(math.Round(s.Recency*7)/7, s.Age)
		if s.Frequency > 0 && s.Recency == 0 {
			s.Recency = 1.0 / 7
		}
	}
	return data
}

// BenchmarkPredictAll1M predicts 12-month CLV for a million customers with
// whole-day histories.
func BenchmarkPredictAll1M(b *testing.B) {
	data := simulateDays(1_000_000)
	c, err := NewCLV(publishedBG, publishedGG, CLVConfig{AnnualDiscountRate: 0.1})
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]CLVPrediction, len(data))
	for b.Loop() {
		c.PredictAll(data, dst)
	}
}

// BenchmarkSegmentMovement1M counts the transition matrix between two
// refreshes of a million customers: 2% new, 1% gone, 10% in another
// segment.
func BenchmarkSegmentMovement1M(b *testing.B) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(1, 2))
	var prevIDs, curIDs []string
	var prevSegs, curSegs []Segment
	for i := range n {
		id := fmt.Sprintf("c%08d", i)
		s := Segments[rng.IntN(len(Segments))]
		if rng.Float64() >= 0.02 {
			prevIDs, prevSegs = append(prevIDs, id), append(prevSegs, s)
		}
		if rng.Float64() < 0.01 {
			continue
		}
		if rng.Float64() < 0.1 {
			s = Segments[rng.IntN(len(Segments))]
		}
		curIDs, curSegs = append(curIDs, id), append(curSegs, s)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SegmentMovement(prevIDs, prevSegs, curIDs, curSegs); err != nil {
			b.Fatal(err)
		}
	}
}
