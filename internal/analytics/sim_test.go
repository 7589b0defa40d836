package analytics

import (
	"math"
	"math/rand/v2"
	"strconv"

	"gonum.org/v1/gonum/stat/distuv"
)

// simulate draws n customers from the BG/NBD and Gamma-Gamma models with
// ages uniform in [1, maxAge] periods, so that fits can be checked against
// known parameters and benchmarks run on realistic populations. Each
// customer buys at age 0, then as a Poisson process of rate λ ~ Gamma(r, α)
// and drops out after each repeat purchase with probability p ~ Beta(a, b);
// each purchase is worth Gamma(p, ν) with ν ~ Gamma(q, γ).
func simulate(seed uint64, n int, bg BGNBD, gg GammaGamma, maxAge float64) []Summary {
	src := rand.NewPCG(seed, 1)
	rng := rand.New(src)
	lambda := distuv.Gamma{Alpha: bg.R, Beta: bg.Alpha, Src: src}
	drop := distuv.Beta{Alpha: bg.A, Beta: bg.B, Src: src}
	nu := distuv.Gamma{Alpha: gg.Q, Beta: gg.Gamma, Src: src}
	out := make([]Summary, n)
	for i := range out {
		T := 1 + rng.Float64()*(maxAge-1)
		l, p := lambda.Rand(), drop.Rand()
		spend := distuv.Gamma{Alpha: gg.P, Beta: nu.Rand(), Src: src}
		s := Summary{CustomerID: strconv.Itoa(i), Age: T, TotalSpend: spend.Rand()}
		var repeat float64
		for now := 0.0; ; {
			now += rng.ExpFloat64() / l
			if now > T || math.IsInf(now, 0) {
				break
			}
			s.Frequency++
			s.Recency = now
			v := spend.Rand()
			repeat += v
			s.TotalSpend += v
			if rng.Float64() < p {
				break
			}
		}
		if s.Frequency > 0 {
			s.MonetaryMean = repeat / float64(s.Frequency)
		}
		out[i] = s
	}
	return out
}

// published are the CDNOW parameters, used where any realistic values do.
var (
	publishedBG = BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	publishedGG = GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
)
