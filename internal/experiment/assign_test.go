package experiment

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

type vectors struct {
	Hash           [][]any `json:"hash"`
	GetBucketRange [][]any `json:"getBucketRange"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "datasets", "abtest", "growthbook_vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Hash) == 0 || len(v.GetBucketRange) == 0 {
		t.Fatal("no vectors read")
	}
	return v
}

// TestHashGrowthBookVectors reproduces every hashing vector of GrowthBook's
// cross-SDK test cases.
func TestHashGrowthBookVectors(t *testing.T) {
	for _, c := range loadVectors(t).Hash {
		seed, value, version := c[0].(string), c[1].(string), int(c[2].(float64))
		got, ok := Hash(seed, value, version)
		if c[3] == nil {
			if ok {
				t.Errorf("Hash(%q, %q, %d) = %v, want no bucket for an unknown version", seed, value, version, got)
			}
			continue
		}
		want := c[3].(float64)
		if !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("Hash(%q, %q, %d) = %v, %v; want %v", seed, value, version, got, ok, want)
		}
	}
}

// TestBucketRangesGrowthBookVectors reproduces every bucket-range vector.
func TestBucketRangesGrowthBookVectors(t *testing.T) {
	for _, c := range loadVectors(t).GetBucketRange {
		name := c[0].(string)
		args := c[1].([]any)
		n, coverage := int(args[0].(float64)), args[1].(float64)
		var weights []float64
		if args[2] != nil {
			for _, w := range args[2].([]any) {
				weights = append(weights, w.(float64))
			}
		}
		got := BucketRanges(n, coverage, weights)
		want := c[2].([]any)
		if len(got) != len(want) {
			t.Errorf("%s: %d ranges, want %d", name, len(got), len(want))
			continue
		}
		for i, w := range want {
			r := w.([]any)
			if math.Abs(got[i].Start-r[0].(float64)) > 1e-9 || math.Abs(got[i].End-r[1].(float64)) > 1e-9 {
				t.Errorf("%s: range %d = %v, want %v", name, i, got[i], r)
			}
		}
	}
}

func TestChooseVariation(t *testing.T) {
	r := BucketRanges(3, 0.5, []float64{0.2, 0.3, 0.5})
	for _, tc := range []struct {
		bucket float64
		want   int
	}{{0, 0}, {0.099, 0}, {0.1, -1}, {0.2, 1}, {0.349, 1}, {0.35, -1}, {0.5, 2}, {0.7499, 2}, {0.75, -1}, {0.9999, -1}} {
		if got := ChooseVariation(tc.bucket, r); got != tc.want {
			t.Errorf("ChooseVariation(%v) = %d, want %d", tc.bucket, got, tc.want)
		}
	}
}

// TestAssignmentSpread checks that version-2 hashing splits many units
// between two equal variants within chance, by the package's own SRM test.
func TestAssignmentSpread(t *testing.T) {
	ranges := BucketRanges(2, 1, nil)
	counts := make([]int64, 2)
	for i := range 200_000 {
		b, _ := Hash("exp-seed", "customer-"+itoa(i), 2)
		counts[ChooseVariation(b, ranges)]++
	}
	_, p, err := SampleRatio(counts, []float64{0.5, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if p < SRMThreshold {
		t.Fatalf("200,000 units split %v: sample-ratio p = %v, a mismatch", counts, p)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}
