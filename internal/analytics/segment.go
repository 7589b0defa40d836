package analytics

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// SegmentConfig configures [FitSegments].
type SegmentConfig struct {
	// K fixes the number of clusters. Zero (the default) chooses k in
	// [KMin, KMax] by the highest mean silhouette.
	K int
	// KMin and KMax bound the search for k when K is zero. Default to 2
	// and 8; KMax is lowered to n−1 for tiny populations.
	KMin, KMax int
	// Seed makes the k-means++ starts and the silhouette sample
	// reproducible: the same features and seed give the same clusters.
	Seed uint64
	// Starts is how many k-means++ initialisations are run for each k,
	// keeping the one with the least within-cluster sum of squares, so a
	// poor random start does not decide the result. Defaults to 3.
	Starts int
	// MaxIterations bounds Lloyd's iterations per start. Defaults to 100.
	MaxIterations int
	// SilhouetteSample is the most points the silhouette is computed on.
	// The silhouette costs O(n²), so above this size it is computed on a
	// seeded uniform sample of this many points (with their labels from
	// the full clustering), the same sample for every k so the candidates
	// are compared on equal terms. 2,000 points estimate the mean
	// silhouette to about ±0.01. Defaults to 2000.
	SilhouetteSample int
}

func (c *SegmentConfig) withDefaults() {
	if c.K == 0 {
		if c.KMin == 0 {
			c.KMin = 2
		}
		if c.KMax == 0 {
			c.KMax = max(8, c.KMin)
		}
	}
	if c.Starts == 0 {
		c.Starts = 3
	}
	if c.MaxIterations == 0 {
		c.MaxIterations = 100
	}
	if c.SilhouetteSample == 0 {
		c.SilhouetteSample = 2000
	}
}

func (c *SegmentConfig) validate(n int) error {
	switch {
	case c.K < 0:
		return fmt.Errorf("segments: K %d is negative", c.K)
	case c.K > 0 && c.K > n:
		return fmt.Errorf("segments: K %d exceeds the %d points", c.K, n)
	case c.K == 0 && (c.KMin < 2 || c.KMax < c.KMin):
		return fmt.Errorf("k range [%d, %d] is not a range of at least 2 clusters", c.KMin, c.KMax)
	case c.K == 0 && n < 3:
		return fmt.Errorf("choosing k needs at least 3 points, got %d", n)
	case c.Starts < 1 || c.MaxIterations < 1 || c.SilhouetteSample < 2:
		return fmt.Errorf("segments: Starts %d, MaxIterations %d and SilhouetteSample %d must be positive (sample at least 2)", c.Starts, c.MaxIterations, c.SilhouetteSample)
	}
	return nil
}

// Segmentation is a fitted k-means clustering of customer features.
// Clusters are numbered by size, largest first (ties by centroid), so
// that the numbering does not depend on the random start.
type Segmentation struct {
	// K is the number of clusters.
	K int
	// Labels is the cluster of each fitted point, in input order.
	Labels []int
	// Centroids are the cluster centres in the features' original units.
	Centroids [][]float64
	// Profiles describe each cluster.
	Profiles []ClusterProfile
	// Silhouette is the mean silhouette of the chosen clustering (on the
	// sample, see SegmentConfig.SilhouetteSample), from −1 to 1; NaN when K
	// was fixed at 1.
	Silhouette float64
	// Candidates holds the mean silhouette of every k tried, ascending k;
	// empty when K was fixed.
	Candidates []KSilhouette

	mean, scale []float64   // standardisation: z = (x − mean) / scale
	zc          [][]float64 // centroids in standardised units
}

// KSilhouette is the mean silhouette of the best clustering with K
// clusters.
type KSilhouette struct {
	K          int
	Silhouette float64
}

// ClusterProfile summarises one cluster for people: how many customers and
// their mean of each feature, in original units.
type ClusterProfile struct {
	Size  int
	Means []float64
}

// FitSegments clusters customers' feature vectors (all of one length, e.g.
// recency, frequency, monetary) with k-means. Features are standardised to
// z-scores first (a feature with no spread is left at 0), so that no
// feature dominates by its units; heavy-tailed features such as spend
// usually cluster better after a log transform, which is the caller's
// choice. Centres are initialised with k-means++ and refined with Lloyd's
// algorithm; an empty cluster is reseeded with the point farthest from its
// centre. For a large population, fit a seeded sample and assign the rest
// with Predict.
func FitSegments(features [][]float64, cfg SegmentConfig) (*Segmentation, error) {
	cfg.withDefaults()
	n := len(features)
	if n == 0 {
		return nil, errors.New("segmenting: no customers")
	}
	if err := cfg.validate(n); err != nil {
		return nil, fmt.Errorf("segmenting %d customers: %w", n, err)
	}
	d := len(features[0])
	if d == 0 {
		return nil, errors.New("segmenting: feature vectors are empty")
	}
	for i, f := range features {
		if len(f) != d {
			return nil, fmt.Errorf("segmenting: customer %d has %d features, customer 0 has %d", i, len(f), d)
		}
		for j, v := range f {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("segmenting: customer %d feature %d is %v", i, j, v)
			}
		}
	}
	s := &Segmentation{}
	s.standardise(features)
	z := make([]float64, n*d)
	for i, f := range features {
		s.toZ(f, z[i*d:(i+1)*d])
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed5e9))

	var best kmeansResult
	if cfg.K > 0 {
		best = kmeansBest(z, d, cfg.K, cfg, rng)
		s.Silhouette = math.NaN()
		if cfg.K > 1 {
			s.Silhouette = silhouette(z, d, best.labels, cfg.K, silhouetteSample(n, cfg, rng))
		}
	} else {
		sample := silhouetteSample(n, cfg, rng)
		// Each k has its own random stream, derived from the seed and k, so
		// the candidates are fitted at once on the available cores and the
		// result does not depend on their number or on scheduling.
		ks := make([]int, 0, cfg.KMax-cfg.KMin+1)
		for k := cfg.KMin; k <= min(cfg.KMax, n-1); k++ {
			ks = append(ks, k)
		}
		results := make([]kmeansResult, len(ks))
		sils := make([]float64, len(ks))
		next := make(chan int, len(ks))
		for i := range ks {
			next <- len(ks) - 1 - i // the largest k, the slowest, first
		}
		close(next)
		var wg sync.WaitGroup
		for range min(goroutines(), len(ks)) {
			wg.Go(func() {
				for i := range next {
					k := ks[i]
					res := kmeansBest(z, d, k, cfg, rand.New(rand.NewPCG(cfg.Seed, 0x5eed5e9^uint64(k)<<40)))
					results[i], sils[i] = res, silhouette(z, d, res.labels, k, sample)
				}
			})
		}
		wg.Wait()
		bestSil := math.Inf(-1)
		for i, k := range ks {
			s.Candidates = append(s.Candidates, KSilhouette{k, sils[i]})
			if sils[i] > bestSil { // ties keep the smaller k
				best, bestSil = results[i], sils[i]
			}
		}
		s.Silhouette = bestSil
	}
	s.finish(features, best, d)
	return s, nil
}

// standardise records each feature's mean and population standard
// deviation.
func (s *Segmentation) standardise(features [][]float64) {
	d := len(features[0])
	s.mean = make([]float64, d)
	s.scale = make([]float64, d)
	n := float64(len(features))
	for _, f := range features {
		for j, v := range f {
			s.mean[j] += v
		}
	}
	for j := range s.mean {
		s.mean[j] /= n
	}
	for _, f := range features {
		for j, v := range f {
			dv := v - s.mean[j]
			s.scale[j] += dv * dv
		}
	}
	for j := range s.scale {
		s.scale[j] = math.Sqrt(s.scale[j] / n)
		if !(s.scale[j] > 0) {
			s.scale[j] = 1 // no spread: every z is 0
		}
	}
}

func (s *Segmentation) toZ(f, dst []float64) {
	for j, v := range f {
		dst[j] = (v - s.mean[j]) / s.scale[j]
	}
}

// finish renumbers clusters by size, and fills centroids and profiles.
func (s *Segmentation) finish(features [][]float64, res kmeansResult, d int) {
	k := len(res.centers) / d
	size := make([]int, k)
	for _, l := range res.labels {
		size[l]++
	}
	order := make([]int, k)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(size[b], size[a]); c != 0 {
			return c
		}
		return slices.Compare(res.centers[a*d:(a+1)*d], res.centers[b*d:(b+1)*d])
	})
	rename := make([]int, k)
	for newID, old := range order {
		rename[old] = newID
	}
	s.K = k
	s.Labels = make([]int, len(res.labels))
	for i, l := range res.labels {
		s.Labels[i] = rename[l]
	}
	s.zc = make([][]float64, k)
	s.Centroids = make([][]float64, k)
	s.Profiles = make([]ClusterProfile, k)
	for newID, old := range order {
		zc := slices.Clone(res.centers[old*d : (old+1)*d])
		s.zc[newID] = zc
		c := make([]float64, d)
		for j := range c {
			c[j] = zc[j]*s.scale[j] + s.mean[j]
		}
		s.Centroids[newID] = c
		s.Profiles[newID] = ClusterProfile{Size: size[old], Means: make([]float64, d)}
	}
	for i, f := range features {
		m := s.Profiles[s.Labels[i]].Means
		for j, v := range f {
			m[j] += v
		}
	}
	for _, p := range s.Profiles {
		for j := range p.Means {
			p.Means[j] /= float64(p.Size)
		}
	}
}

// Predict returns the cluster of a feature vector in original units: the
// nearest centroid in standardised space. It panics if the vector's length
// differs from the fitted features', a programming error.
func (s *Segmentation) Predict(features []float64) int {
	if len(features) != len(s.mean) {
		panic(fmt.Sprintf("analytics: Predict with %d features, fitted on %d", len(features), len(s.mean)))
	}
	best, bestD := 0, math.Inf(1)
	for c, zc := range s.zc {
		var dist float64
		for j, v := range features {
			dv := (v-s.mean[j])/s.scale[j] - zc[j]
			dist += dv * dv
		}
		if dist < bestD {
			best, bestD = c, dist
		}
	}
	return best
}

// PredictAll assigns every feature vector, writing into dst (grown or
// allocated as needed) and returning it.
func (s *Segmentation) PredictAll(features [][]float64, dst []int) []int {
	dst = slices.Grow(dst[:0], len(features))[:len(features)]
	for i, f := range features {
		dst[i] = s.Predict(f)
	}
	return dst
}

type kmeansResult struct {
	centers []float64 // k × d
	labels  []int
	inertia float64
}

// kmeansBest runs cfg.Starts seeded k-means and keeps the tightest.
func kmeansBest(z []float64, d, k int, cfg SegmentConfig, rng *rand.Rand) kmeansResult {
	var best kmeansResult
	for s := range cfg.Starts {
		res := kmeans(z, d, k, cfg.MaxIterations, rng)
		if s == 0 || res.inertia < best.inertia {
			best = res
		}
	}
	return best
}

// kmeans is Lloyd's algorithm from a k-means++ start (Arthur and
// Vassilvitskii 2007) on n points of dimension d stored row-major in z.
func kmeans(z []float64, d, k, maxIter int, rng *rand.Rand) kmeansResult {
	n := len(z) / d
	centers := make([]float64, k*d)
	labels := make([]int, n)
	dist := make([]float64, n) // squared distance to the nearest centre
	row := func(i int) []float64 { return z[i*d : (i+1)*d] }

	// k-means++: the first centre uniformly, each next one with probability
	// proportional to the squared distance to the nearest chosen centre.
	copy(centers[:d], row(rng.IntN(n)))
	for i := range n {
		dist[i] = sqDist(row(i), centers[:d])
	}
	for c := 1; c < k; c++ {
		var total float64
		for _, v := range dist {
			total += v
		}
		pick := n - 1
		if total > 0 {
			u := rng.Float64() * total
			for i, v := range dist {
				u -= v
				if u < 0 {
					pick = i
					break
				}
			}
		} else {
			pick = rng.IntN(n) // every point coincides with a centre
		}
		cc := centers[c*d : (c+1)*d]
		copy(cc, row(pick))
		for i := range n {
			if dd := sqDist(row(i), cc); dd < dist[i] {
				dist[i] = dd
				labels[i] = c
			}
		}
	}

	counts := make([]int, k)
	sums := make([]float64, k*d)
	for it := 0; ; it++ {
		// Update: centres to the means of their points; an empty cluster
		// takes the point farthest from its centre.
		clear(counts)
		clear(sums)
		for i, l := range labels {
			counts[l]++
			s := sums[l*d : (l+1)*d]
			for j, v := range row(i) {
				s[j] += v
			}
		}
		for c := range k {
			if counts[c] == 0 {
				far := 0
				for i, v := range dist {
					if v > dist[far] {
						far = i
					}
				}
				copy(centers[c*d:(c+1)*d], row(far))
				dist[far] = 0
				continue
			}
			for j := range d {
				centers[c*d+j] = sums[c*d+j] / float64(counts[c])
			}
		}
		// Assign: each point to its nearest centre.
		changed := false
		for i := range n {
			p := row(i)
			best, bestD := 0, math.Inf(1)
			for c := range k {
				if dd := sqDist(p, centers[c*d:(c+1)*d]); dd < bestD {
					best, bestD = c, dd
				}
			}
			if best != labels[i] {
				labels[i] = best
				changed = true
			}
			dist[i] = bestD
		}
		if !changed || it+1 >= maxIter {
			break
		}
	}
	var inertia float64
	for _, v := range dist {
		inertia += v
	}
	return kmeansResult{centers: centers, labels: labels, inertia: inertia}
}

func sqDist(a, b []float64) float64 {
	var s float64
	for j, v := range a {
		dv := v - b[j]
		s += dv * dv
	}
	return s
}

// silhouetteSample returns the indices the silhouette is computed on: all
// points, or a seeded uniform sample of cfg.SilhouetteSample of them.
func silhouetteSample(n int, cfg SegmentConfig, rng *rand.Rand) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if n <= cfg.SilhouetteSample {
		return idx
	}
	for i := range cfg.SilhouetteSample { // partial Fisher-Yates
		j := i + rng.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx[:cfg.SilhouetteSample]
}

// silhouette is the mean silhouette (Rousseeuw 1987) of the sampled points:
// for each, a = mean distance to the other sampled points of its cluster,
// b = the least mean distance to the sampled points of another cluster,
// s = (b − a) / max(a, b), and s = 0 for a point alone in its cluster.
func silhouette(z []float64, d int, labels []int, k int, sample []int) float64 {
	sums := make([]float64, k)
	counts := make([]int, k)
	for _, j := range sample {
		counts[labels[j]]++
	}
	var total float64
	for _, i := range sample {
		clear(sums)
		p := z[i*d : (i+1)*d]
		for _, j := range sample {
			sums[labels[j]] += math.Sqrt(sqDist(p, z[j*d:(j+1)*d]))
		}
		own := labels[i]
		if counts[own] <= 1 {
			continue
		}
		a := sums[own] / float64(counts[own]-1)
		b := math.Inf(1)
		for c := range k {
			if c != own && counts[c] > 0 {
				b = min(b, sums[c]/float64(counts[c]))
			}
		}
		if math.IsInf(b, 1) || max(a, b) == 0 {
			continue
		}
		total += (b - a) / max(a, b)
	}
	return total / float64(len(sample))
}
