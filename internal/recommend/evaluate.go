package recommend

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Case is one test customer of an offline evaluation: their history before
// the split and the items new to them that they bought after it.
type Case struct {
	Customer string
	History  []string
	Relevant []string
}

// Interval is a bootstrap 95% interval.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Metrics are the offline figures of one ranker at k.
type Metrics struct {
	Method    string   `json:"method"`
	K         int      `json:"k"`
	Customers int      `json:"customers"`
	Precision float64  `json:"precision"`
	Recall    float64  `json:"recall"`
	NDCG      float64  `json:"ndcg"`
	HitRate   float64  `json:"hit_rate"`
	Coverage  float64  `json:"coverage"`
	PrecCI    Interval `json:"precision_ci"`
	RecallCI  Interval `json:"recall_ci"`
	NDCGCI    Interval `json:"ndcg_ci"`
	HitCI     Interval `json:"hit_rate_ci"`
}

// Evaluate ranks k items for every case (leaving out what the customer
// bought before) and scores the ranking against the relevant items:
// precision@k, recall@k, NDCG@k (binary relevance), hit rate@k, and the
// share of the catalogue (catalogue items) recommended to anyone. Intervals
// come from boot bootstrap resamples of the customers, seeded.
func Evaluate(method string, r Ranker, cases []Case, k, catalogue, boot int, seed uint64) Metrics {
	per := make([][4]float64, len(cases))
	shown := map[string]bool{}
	for ci, c := range cases {
		rel := make(map[string]bool, len(c.Relevant))
		for _, it := range c.Relevant {
			rel[it] = true
		}
		ranked := r.Rank(c.History, k, false)
		hits, dcg := 0.0, 0.0
		for i, s := range ranked {
			shown[s.Item] = true
			if rel[s.Item] {
				hits++
				dcg += 1 / math.Log2(float64(i+2))
			}
		}
		idcg := 0.0
		for i := range min(k, len(rel)) {
			idcg += 1 / math.Log2(float64(i+2))
		}
		hit := 0.0
		if hits > 0 {
			hit = 1
		}
		per[ci] = [4]float64{hits / float64(k), hits / float64(len(rel)), dcg / idcg, hit}
	}
	m := Metrics{Method: method, K: k, Customers: len(cases)}
	mean := means(per, nil)
	m.Precision, m.Recall, m.NDCG, m.HitRate = mean[0], mean[1], mean[2], mean[3]
	if catalogue > 0 {
		m.Coverage = float64(len(shown)) / float64(catalogue)
	}
	if boot > 0 && len(cases) > 0 {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		draws := make([][4]float64, boot)
		idx := make([]int, len(cases))
		for b := range draws {
			for i := range idx {
				idx[i] = rng.IntN(len(cases))
			}
			draws[b] = means(per, idx)
		}
		ci := func(f int) Interval {
			v := make([]float64, boot)
			for b := range draws {
				v[b] = draws[b][f]
			}
			sort.Float64s(v)
			return Interval{Low: v[int(0.025*float64(boot-1))], High: v[int(math.Ceil(0.975*float64(boot-1)))]}
		}
		m.PrecCI, m.RecallCI, m.NDCGCI, m.HitCI = ci(0), ci(1), ci(2), ci(3)
	}
	return m
}

func means(per [][4]float64, idx []int) [4]float64 {
	var s [4]float64
	n := len(per)
	if idx != nil {
		n = len(idx)
	}
	for i := range n {
		j := i
		if idx != nil {
			j = idx[i]
		}
		for f := range 4 {
			s[f] += per[j][f]
		}
	}
	if n > 0 {
		for f := range 4 {
			s[f] /= float64(n)
		}
	}
	return s
}
