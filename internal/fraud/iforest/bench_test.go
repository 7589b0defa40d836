package iforest

import (
	"bytes"
	"math/rand/v2"
	"strconv"
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

// benchCSV is benchSet's rows written as `iforest score --csv` reads them:
// a header, then each row's features with the shortest decimal that reads
// back exactly (as pandas' to_csv writes them) and a 0/1 label.
func benchCSV(rows int) []byte {
	X := benchSet(rows)
	b := []byte("f0,f1,f2,f3,f4,f5,f6,f7,f8,f9,label\n")
	for i, x := range X {
		for _, v := range x {
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
			b = append(b, ',')
		}
		b = append(b, "01"[b2i(i%100 == 0)], '\n')
	}
	return b
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// BenchmarkReadCSV reads a million labelled rows of 10 features (about
// 200 MB of text) and reports rows and megabytes a second: the reading
// that `iforest train` and `iforest score` do before anything else.
func BenchmarkReadCSV(b *testing.B) {
	const rows = 1_000_000
	data := benchCSV(rows)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		d, err := ReadCSV(bytes.NewReader(data), true)
		if err != nil {
			b.Fatal(err)
		}
		if len(d.X) != rows || len(d.Y) != rows || len(d.Header) != 11 {
			b.Fatalf("read %d rows, %d labels, %d header fields; want %d, %d, 11", len(d.X), len(d.Y), len(d.Header), rows, rows)
		}
	}
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
}
