package generate

import (
	"math"
	"math/rand/v2"
)

// Independent random streams derived from Config.Seed. Keeping the
// catalogue, the customer base and the event sequence on separate streams
// means the catalogue depends only on Seed and Products, and adding
// customers does not reshuffle it.
const (
	streamCatalogue = 0x63617461 // "cata"
	streamCustomers = 0x63757374 // "cust"
	streamEvents    = 0x65766e74 // "evnt"
)

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// mix64 is the splitmix64 finaliser: a bijection on uint64 that spreads
// sequential inputs over all bits. It turns counters into identifiers that
// look random yet never collide.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// gammaRand draws from Gamma(shape, 1) by Marsaglia and Tsang's method,
// boosted for shape < 1.
func gammaRand(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := r.Float64()
		for u == 0 {
			u = r.Float64()
		}
		return gammaRand(r, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// betaRand draws from Beta(a, b).
func betaRand(r *rand.Rand, a, b float64) float64 {
	x := gammaRand(r, a)
	y := gammaRand(r, b)
	return x / (x + y)
}

// poissonExp draws from Poisson(mean), given exp(-mean) precomputed, by
// multiplication of uniforms; the means used here are small.
func poissonExp(r *rand.Rand, expNegMean float64) int {
	k, p := 0, r.Float64()
	for p > expNegMean {
		k++
		p *= r.Float64()
	}
	return k
}

// pick returns an index drawn in proportion to cumulative weights cum
// (ascending, last element the total).
func pick(r *rand.Rand, cum []float64) int {
	u := r.Float64() * cum[len(cum)-1]
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}

func cumulative(w []float64) []float64 {
	c := make([]float64, len(w))
	s := 0.0
	for i, x := range w {
		s += x
		c[i] = s
	}
	return c
}

// alias is Walker's alias table: O(1) draws from a fixed discrete
// distribution with one random number, which is what keeps product choice
// cheap on the hot path.
type alias struct {
	thresh []uint32 // keep i when the low 32 random bits are below thresh[i]
	other  []int32
}

func newAlias(w []float64) alias {
	n := len(w)
	a := alias{thresh: make([]uint32, n), other: make([]int32, n)}
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	p := make([]float64, n)
	var small, large []int
	for i, x := range w {
		p[i] = x / sum * float64(n)
		if p[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.thresh[s] = uint32(math.Min(p[s]*(1<<32), math.MaxUint32))
		a.other[s] = int32(l)
		p[l] -= 1 - p[s]
		if p[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range append(small, large...) {
		a.thresh[i] = math.MaxUint32
		a.other[i] = int32(i)
	}
	return a
}

func (a *alias) sample(r *rand.Rand) int {
	u := r.Uint64()
	i := int((u >> 32) * uint64(len(a.thresh)) >> 32)
	if uint32(u) < a.thresh[i] {
		return i
	}
	return int(a.other[i])
}

// fenwick is a binary indexed tree of integer weights: O(log n) updates and
// draws in proportion to weight, for picking the next buyer among customers
// whose purchase rates change as they churn and are replaced. Integer
// weights keep the sums exact, so runs are reproducible.
type fenwick []int64

func newFenwick(w []int64) fenwick {
	f := make(fenwick, len(w))
	copy(f, w)
	for i := 1; i <= len(f); i++ {
		if j := i + i&-i; j <= len(f) {
			f[j-1] += f[i-1]
		}
	}
	return f
}

func (f fenwick) add(i int, d int64) {
	for i++; i <= len(f); i += i & -i {
		f[i-1] += d
	}
}

// find returns the index whose cumulative range contains u, 0 <= u < total.
func (f fenwick) find(u int64) int {
	pos := 0
	step := 1
	for step*2 <= len(f) {
		step *= 2
	}
	for ; step > 0; step >>= 1 {
		if next := pos + step; next <= len(f) && f[next-1] <= u {
			pos = next
			u -= f[next-1]
		}
	}
	return pos
}
