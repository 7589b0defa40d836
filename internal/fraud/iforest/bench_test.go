package iforest

import (
	"math/rand/v2"
	"testing"
)

// benchSet is the benchmark workload: 10 features, mostly standard normal
// with 1% uniform outliers, the shape of a transaction feature vector.
func benchSet(rows int) [][]float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	X := make([][]float64, rows)
	for i := range X {
		X[i] = make([]float64, 10)
		for j := range X[i] {
			if i%100 == 0 {
				X[i][j] = rng.Float64()*12 - 6
			} else {
				X[i][j] = rng.NormFloat64()
			}
		}
	}
	return X
}

func benchForest(b *testing.B) (*Forest, [][]float64) {
	X := benchSet(10_000)
	f, err := Train(X, Config{Trees: 100, SampleSize: 256, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	return f, X
}

func BenchmarkTrain(b *testing.B) {
	X := benchSet(10_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Train(X, Config{Trees: 100, SampleSize: 256, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

var sink float64

// BenchmarkScore is the latency of scoring one transaction on its own.
func BenchmarkScore(b *testing.B) {
	f, X := benchForest(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sink += f.Score(X[i])
		i = (i + 1) % len(X)
	}
}

// BenchmarkScoreBatch scores 1,024 records per call, the size of a
// partition batch, and reports the cost per record.
func BenchmarkScoreBatch(b *testing.B) {
	f, X := benchForest(b)
	const n = 1024
	out := make([]float64, n)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f.ScoreBatch(X[i:i+n], out)
		i = (i + n) % (len(X) - n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}
