package analytics

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mathext"
)

// BGNBD holds the parameters of the beta-geometric/negative-binomial model
// of Fader, Hardie and Lee (2005): while alive, a customer buys as a Poisson
// process with rate λ ~ Gamma(shape R, rate Alpha); after each purchase the
// customer drops out with probability p ~ Beta(A, B). Alpha is in the
// period the data was summarised in (weeks for CDNOW), so predictions must
// use the same period.
type BGNBD struct {
	R, Alpha, A, B float64
}

// BGNBDFit is the result of [FitBGNBD].
type BGNBDFit struct {
	BGNBD
	// LogLikelihood is the log-likelihood of the data at the fitted
	// parameters (-9582.4 on CDNOW), for comparing fits on the same data.
	LogLikelihood float64
	// Customers is how many summaries were fitted.
	Customers int
}

// bgRow is one distinct (x, t_x, T) history with how many customers share
// it: fitting iterates over distinct histories, and x is shared by many, so
// the special functions of x are computed once per distinct x.
type bgRow struct {
	itx, iT int32 // indexes of t_x and T in bgData.vals
	w       float64
}

type bgGroup struct {
	x    float64
	rows []bgRow
}

// bgData is the folded histories. Ages and recencies come in whole days,
// so they take few distinct values: ln(α+v) is computed once per distinct
// value and evaluation, not once per history.
type bgData struct {
	groups []bgGroup
	vals   []float64
	// scratch for bgLogLikelihood: ln(α+v) and 1/(α+v) per value.
	lnTab, invTab []float64
	lnMin, lnMax  float64
	// rowwise turns bgTabulated off, so tests can compare the two ways.
	rowwise bool
	// chunks split the groups' rows into pieces for parallel evaluation;
	// parts holds each chunk's sums.
	chunks []bgChunk
	parts  [][5]float64
	rows   int
}

// bgChunk is rows lo..hi of group g.
type bgChunk struct{ g, lo, hi int }

// chunkRows is the most rows of one chunk.
const chunkRows = 8192

// groupBG folds the customers' histories. Each t_x and T is replaced by
// the index of its distinct value; customers are bucketed by x (a counting
// sort), and each bucket's (t_x, T) index pairs, packed in one uint64,
// are sorted as integers and folded by runs. At a million customers this
// takes a fraction of the time of sorting (x, t_x, T) triples with a
// comparison function, which had become most of a fit.
func groupBG(customers []Summary) (*bgData, float64, error) {
	if len(customers) == 0 {
		return nil, 0, errors.New("no customers")
	}
	d := &bgData{}
	// Two lookups per customer: a direct-mapped cache in front of the map
	// answers nearly all of them when values are few (whole days).
	index := make(map[float64]uint32)
	var cache [4096]struct {
		v  float64
		i  uint32
		ok bool
	}
	idx := func(v float64) uint32 {
		c := &cache[(math.Float64bits(v)*0x9e3779b97f4a7c15)>>52]
		if c.ok && c.v == v {
			return c.i
		}
		i, ok := index[v]
		if !ok {
			i = uint32(len(d.vals))
			index[v] = i
			d.vals = append(d.vals, v)
		}
		c.v, c.i, c.ok = v, i, true
		return i
	}
	pairs := make([]uint64, len(customers))
	xs := make([]int, len(customers))
	// bucket maps x to its count, then to the start of its bucket.
	bucket := make(map[int]int)
	for i, s := range customers {
		if err := validateSummary(i, s); err != nil {
			return nil, 0, err
		}
		pairs[i] = uint64(idx(s.Recency))<<32 | uint64(idx(s.Age))
		xs[i] = s.Frequency
		bucket[s.Frequency]++
	}
	distinct := slices.Sorted(maps.Keys(bucket))
	start := 0
	for _, x := range distinct {
		n := bucket[x]
		bucket[x] = start
		start += n
	}
	sorted := make([]uint64, len(pairs))
	next := maps.Clone(bucket)
	for i, x := range xs {
		sorted[next[x]] = pairs[i]
		next[x]++
	}
	d.groups = make([]bgGroup, 0, len(distinct))
	scratch := pairs // free now: sortPairs's buffer
	for gi, x := range distinct {
		end := len(sorted)
		if gi+1 < len(distinct) {
			end = bucket[distinct[gi+1]]
		}
		keys := sorted[bucket[x]:end]
		sortPairs(keys, scratch[:len(keys)], bits.Len(uint(len(d.vals))))
		g := bgGroup{x: float64(x)}
		for i, k := range keys {
			if i > 0 && k == keys[i-1] {
				g.rows[len(g.rows)-1].w++
				continue
			}
			g.rows = append(g.rows, bgRow{itx: int32(k >> 32), iT: int32(k & 0xffffffff), w: 1})
		}
		d.groups = append(d.groups, g)
	}
	d.lnTab, d.invTab = make([]float64, len(d.vals)), make([]float64, len(d.vals))
	for gi, g := range d.groups {
		d.rows += len(g.rows)
		for lo := 0; lo < len(g.rows); lo += chunkRows {
			d.chunks = append(d.chunks, bgChunk{gi, lo, min(lo+chunkRows, len(g.rows))})
		}
	}
	return d, float64(len(customers)), nil
}

// sortPairs sorts keys, each two indexes below 2^width packed as
// hi<<32 | lo, by a least-significant-digit radix sort in byte-wide
// passes through buf (as long as keys): a million whole-day (t_x, T)
// index pairs (10 bits each) take four linear passes where slices.Sort
// took about three times as long. Short runs are left to slices.Sort.
func sortPairs(keys, buf []uint64, width int) {
	if len(keys) < 512 {
		slices.Sort(keys)
		return
	}
	src, dst := keys, buf
	for _, base := range [2]int{0, 32} {
		for shift := base; shift < base+width; shift += 8 {
			var count [257]int
			for _, k := range src {
				count[(k>>shift)&0xff+1]++
			}
			if count[(src[0]>>shift)&0xff+1] == len(src) {
				continue // every key has this digit: the pass would move nothing
			}
			for i := 1; i < len(count); i++ {
				count[i] += count[i-1]
			}
			for _, k := range src {
				d := (k >> shift) & 0xff
				dst[count[d]] = k
				count[d]++
			}
			src, dst = dst, src
		}
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// bgLogLikelihood returns the total log-likelihood (eq. 6 of Fader, Hardie
// and Lee 2005, summed) and, if grad is not nil, its gradient with respect
// to (r, α, a, b). Per customer
//
//	ln L = lnΓ(r+x) − lnΓ(r) + r ln α + ln(A₁ + δ(x>0) A₂)
//	ln A₁ = ln B(a, b+x) − ln B(a, b) − (r+x) ln(α+T)
//	ln A₂ = ln B(a+1, b+x−1) − ln B(a, b) − (r+x) ln(α+t_x)
//
// summed in log space so that neither term underflows for heavy buyers.
func bgLogLikelihood(m BGNBD, d *bgData, grad []float64) float64 {
	alpha := m.Alpha
	d.lnMin, d.lnMax = math.Inf(1), math.Inf(-1)
	for i, v := range d.vals {
		d.lnTab[i] = math.Log(alpha + v)
		d.invTab[i] = 1 / (alpha + v)
		d.lnMin, d.lnMax = min(d.lnMin, d.lnTab[i]), max(d.lnMax, d.lnTab[i])
	}
	if len(d.parts) != len(d.chunks) {
		d.parts = make([][5]float64, len(d.chunks))
	}
	withGrad := grad != nil
	if workers := min(goroutines(), len(d.chunks)); d.rows < parallelRows || workers < 2 {
		for i, c := range d.chunks {
			d.parts[i] = bgChunkLL(m, d, c, withGrad)
		}
	} else {
		// Chunks are taken in any order but summed in their own, so the
		// result does not depend on scheduling.
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(d.chunks); i = int(next.Add(1) - 1) {
					d.parts[i] = bgChunkLL(m, d, d.chunks[i], withGrad)
				}
			})
		}
		wg.Wait()
	}
	var ll, gr, ga, gA, gB float64
	for _, p := range d.parts {
		ll += p[0]
		gr += p[1]
		ga += p[2]
		gA += p[3]
		gB += p[4]
	}
	if grad != nil {
		grad[0], grad[1], grad[2], grad[3] = gr, ga, gA, gB
	}
	return ll
}

// parallelRows is the number of distinct histories from which the
// likelihood is evaluated on several goroutines.
const parallelRows = 50_000

// bgChunkLL sums the log-likelihood and its gradient over one chunk of
// one group's histories.
func bgChunkLL(m BGNBD, d *bgData, c bgChunk, withGrad bool) [5]float64 {
	r, alpha, a, b := m.R, m.Alpha, m.A, m.B
	lnTab, invTab := d.lnTab, d.invTab
	lnAlpha := math.Log(alpha)
	lgR, _ := math.Lgamma(r)
	lbAB := mathext.Lbeta(a, b)
	var psiR, psiA, psiB, psiAB float64
	if withGrad {
		psiR, psiA, psiB, psiAB = mathext.Digamma(r), mathext.Digamma(a), mathext.Digamma(b), mathext.Digamma(a+b)
	}
	psiA1 := psiA + 1/a
	var ll, gr, ga, gA, gB float64
	g := &d.groups[c.g]
	{
		x := g.x
		lgRX, _ := math.Lgamma(r + x)
		lb1 := mathext.Lbeta(a, b+x) - lbAB
		lb2 := math.Inf(-1)
		if x > 0 {
			lb2 = mathext.Lbeta(a+1, b+x-1) - lbAB
		}
		base := lgRX - lgR + r*lnAlpha
		var psiRX, psiABX, psiBX, psiBX1 float64
		if withGrad {
			psiRX, psiABX, psiBX = mathext.Digamma(r+x), mathext.Digamma(a+b+x), mathext.Digamma(b+x)
			if x > 0 {
				psiBX1 = mathext.Digamma(b + x - 1)
			}
		}
		if x > 0 && !d.rowwise && c.hi-c.lo > len(lnTab) && (r+x)*(d.lnMax-d.lnMin) < 600 {
			// Tabulated: (α+v)^−(r+x) once per distinct value instead of
			// an exp and a log1p per history.
			s := bgTabulated(g.rows[c.lo:c.hi], lnTab, invTab, r, x, lb1, lb2, d.lnMin, withGrad)
			ll += s[0] + s[1]*base
			if withGrad {
				sw := s[1]
				gr += sw*(psiRX-psiR+lnAlpha) - s[2]
				ga += sw*r/alpha - (r+x)*s[3]
				gA += s[4]*(psiA-psiABX) + s[5]*(psiA1-psiABX) - sw*(psiA-psiAB)
				gB += s[4]*(psiBX-psiABX) + s[5]*(psiBX1-psiABX) - sw*(psiB-psiAB)
			}
			return [5]float64{ll, gr, ga, gA, gB}
		}
		for _, row := range g.rows[c.lo:c.hi] {
			lnAT := lnTab[row.iT]
			l1 := lb1 - (r+x)*lnAT
			li, w1, w2, lnAtx := l1, 1.0, 0.0, 0.0
			if x > 0 {
				lnAtx = lnTab[row.itx]
				l2 := lb2 - (r+x)*lnAtx
				// li = ln(e^l1 + e^l2) and w1 = e^(l1−li), from one exp.
				e := math.Exp(-math.Abs(l1 - l2))
				if l1 >= l2 {
					li, w1 = l1+math.Log1p(e), 1/(1+e)
				} else {
					li, w1 = l2+math.Log1p(e), e/(1+e)
				}
				w2 = 1 - w1
			}
			ll += row.w * (base + li)
			if !withGrad {
				continue
			}
			gr += row.w * (psiRX - psiR + lnAlpha - w1*lnAT - w2*lnAtx)
			ga += row.w * (r/alpha - (r+x)*(w1*invTab[row.iT]+w2*invTab[row.itx]))
			gA += row.w * (w1*(psiA-psiABX) + w2*(psiA1-psiABX) - (psiA - psiAB))
			gB += row.w * (w1*(psiBX-psiABX) + w2*(psiBX1-psiABX) - (psiB - psiAB))
		}
	}
	return [5]float64{ll, gr, ga, gA, gB}
}

// bgTabulated sums, over rows of one x > 0, the weights and the parts of
// the log-likelihood and gradient that vary by row: Σw, Σw·ln(A₁+A₂)
// without the row-independent base, Σw(w₁ ln(α+T) + w₂ ln(α+t_x)),
// Σw(w₁/(α+T) + w₂/(α+t_x)), Σw·w₁ and Σw·w₂, where w₁ and w₂ are the
// shares of A₁ and A₂. With P(v) = (α+v)^−(r+x) scaled by its value at
// the smallest v, A₁ ∝ e^(lb1−k)·P(T) and A₂ ∝ e^(lb2−k)·P(t_x), k the
// larger of lb1 and lb2: the caller checks the scaled powers cannot
// underflow (the larger term is then at least e^−600).
func bgTabulated(rows []bgRow, lnTab, invTab []float64, r, x, lb1, lb2, lnMin float64, withGrad bool) [6]float64 {
	k := max(lb1, lb2)
	e1, e2 := math.Exp(lb1-k), math.Exp(lb2-k)
	p := make([]float64, len(lnTab))
	for i, l := range lnTab {
		p[i] = math.Exp(-(r + x) * (l - lnMin))
	}
	shift := k - (r+x)*lnMin
	var sw, sl, slog, sinv, s1, s2 float64
	for _, row := range rows {
		t1, t2 := e1*p[row.iT], e2*p[row.itx]
		sum := t1 + t2
		w := row.w
		sw += w
		sl += w * math.Log(sum)
		if !withGrad {
			continue
		}
		w1, w2 := t1/sum, t2/sum
		slog += w * (w1*lnTab[row.iT] + w2*lnTab[row.itx])
		sinv += w * (w1*invTab[row.iT] + w2*invTab[row.itx])
		s1 += w * w1
		s2 += w * w2
	}
	return [6]float64{sl + sw*shift, sw, slog, sinv, s1, s2}
}

// LogLikelihood returns the BG/NBD log-likelihood of the customers'
// histories under m, for comparing parameter sets on the same data.
func (m BGNBD) LogLikelihood(customers []Summary) (float64, error) {
	if err := m.validate(); err != nil {
		return 0, err
	}
	groups, _, err := groupBG(customers)
	if err != nil {
		return 0, fmt.Errorf("BG/NBD log-likelihood: %w", err)
	}
	return bgLogLikelihood(m, groups, nil), nil
}

func (m BGNBD) validate() error {
	for _, v := range []float64{m.R, m.Alpha, m.A, m.B} {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("BG/NBD parameters %+v: every parameter must be a positive number", m)
		}
	}
	return nil
}

// FitBGNBD estimates the BG/NBD parameters by maximum likelihood over the
// customers' (x, t_x, T), with BFGS on the log-parameters and the analytic
// gradient. Customers with identical histories are folded together first,
// which makes fitting a large population cheap. It fails, naming the
// customer, on a history the model cannot describe (negative x, t_x
// outside [0, T]).
func FitBGNBD(customers []Summary) (BGNBDFit, error) {
	groups, n, err := groupBG(customers)
	if err != nil {
		return BGNBDFit{}, fmt.Errorf("fitting BG/NBD: %w", err)
	}
	// Start from a rate of one purchase per mean age, a standard scale
	// guess, and a neutral dropout Beta(1, 1).
	var meanT float64
	for _, s := range customers {
		meanT += s.Age
	}
	meanT = max(meanT/n, 1e-3)
	fg := func(p, grad []float64) float64 {
		ll := bgLogLikelihood(BGNBD{p[0], p[1], p[2], p[3]}, groups, grad)
		for i := range grad {
			grad[i] /= n
		}
		return ll / n
	}
	p, err := maximize([]float64{1, meanT, 1, 1}, fg)
	if err != nil {
		return BGNBDFit{}, fmt.Errorf("fitting BG/NBD on %d customers: %w", len(customers), err)
	}
	m := BGNBD{p[0], p[1], p[2], p[3]}
	return BGNBDFit{BGNBD: m, LogLikelihood: bgLogLikelihood(m, groups, nil), Customers: len(customers)}, nil
}

// ProbAlive is the probability that a customer with x repeat purchases,
// the last at t_x, is still alive at age T (Fader, Hardie and Lee 2008):
//
//	P(alive) = 1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))
//
// A customer with no repeat purchase has never had a chance to drop out
// (dropout happens right after a purchase), so P(alive) = 1.
func (m BGNBD) ProbAlive(x, tx, T float64) float64 {
	if x <= 0 {
		return 1
	}
	return 1 / (1 + math.Exp(m.logOdds(x, tx, T)))
}

// logOdds is ln(a/(b+x−1)) + (r+x) ln((α+T)/(α+t_x)), the log of the
// dead-to-alive odds ratio term shared by ProbAlive and ExpectedPurchases.
func (m BGNBD) logOdds(x, tx, T float64) float64 {
	return math.Log(m.A/(m.B+x-1)) + (m.R+x)*(math.Log(m.Alpha+T)-math.Log(m.Alpha+tx))
}

// ExpectedPurchases is the expected number of purchases in the next t
// periods of a customer with history (x, t_x, T), eq. 10 of Fader, Hardie
// and Lee (2005):
//
//	E[Y(t) | x, t_x, T] =
//	  (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]
//	  / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))
//
// The formula has a removable singularity at a = 1; fitted values of a
// near 1 lose precision there.
func (m BGNBD) ExpectedPurchases(t, x, tx, T float64) float64 {
	alive := m.ProbAlive(x, tx, T)
	if alive == 0 {
		return 0 // and do not ask 2F1 about a hopeless case
	}
	return m.purchasesIfAlive(t, x, T) * alive
}

// purchasesIfAlive is the numerator of eq. 10; the denominator is
// 1/ProbAlive, so that callers predicting several horizons for one
// customer compute it once.
func (m BGNBD) purchasesIfAlive(t, x, T float64) float64 {
	if t <= 0 {
		return 0
	}
	r, alpha, a, b := m.R, m.Alpha, m.A, m.B
	z := t / (alpha + T + t)
	lead := math.Exp((r + x) * (math.Log(alpha+T) - math.Log(alpha+T+t)))
	return (a + b + x - 1) / (a - 1) * (1 - lead*mathext.Hypergeo(r+x, b+x, a+b+x-1, z))
}
