package generate

import (
	"math"
	"math/rand/v2"
	"sort"
)

// category is one department of the shop. Prices within it are log-normal
// around median with log-spread sigma; weight is its share of demand.
type category struct {
	name       string
	median     float64 // dollars
	sigma      float64
	weight     float64
	complement string // the department whose products are bought with these
	highValue  bool   // targeted by stolen-card and account-takeover fraud
	hype       bool   // has limited drops that bots chase
}

// categoryTable is long-tailed on purpose: a few departments take most of
// the demand, as in real shops.
var categoryTable = []category{
	{name: "fashion", median: 35, sigma: 0.6, weight: 16, complement: "shoes"},
	{name: "home_kitchen", median: 40, sigma: 0.8, weight: 12, complement: "home_kitchen"},
	{name: "tech_accessories", median: 22, sigma: 0.7, weight: 10, complement: "electronics"},
	{name: "books", median: 15, sigma: 0.4, weight: 9, complement: "books"},
	{name: "beauty", median: 18, sigma: 0.6, weight: 8, complement: "health"},
	{name: "electronics", median: 180, sigma: 0.9, weight: 7, complement: "tech_accessories", highValue: true, hype: true},
	{name: "grocery", median: 8, sigma: 0.6, weight: 6, complement: "grocery"},
	{name: "shoes", median: 75, sigma: 0.5, weight: 5, complement: "fashion", hype: true},
	{name: "toys", median: 25, sigma: 0.7, weight: 5, complement: "baby", hype: true},
	{name: "phones", median: 520, sigma: 0.5, weight: 4, complement: "tech_accessories", highValue: true},
	{name: "sports", median: 45, sigma: 0.8, weight: 4, complement: "sports"},
	{name: "digital", median: 3.5, sigma: 0.6, weight: 4, complement: "digital"},
	{name: "computers", median: 850, sigma: 0.5, weight: 3, complement: "tech_accessories", highValue: true},
	{name: "video_games", median: 45, sigma: 0.5, weight: 3, complement: "electronics", hype: true},
	{name: "health", median: 15, sigma: 0.6, weight: 3, complement: "beauty"},
	{name: "pet", median: 20, sigma: 0.7, weight: 3, complement: "pet"},
	{name: "baby", median: 30, sigma: 0.7, weight: 2, complement: "toys"},
	{name: "garden", median: 35, sigma: 0.8, weight: 2, complement: "garden"},
	{name: "office", median: 20, sigma: 0.8, weight: 2, complement: "computers"},
	{name: "jewelry", median: 150, sigma: 1.0, weight: 1.5, complement: "fashion", highValue: true},
	{name: "gift_cards", median: 50, sigma: 0.5, weight: 1.5, complement: "gift_cards", highValue: true},
	{name: "automotive", median: 40, sigma: 0.9, weight: 1, complement: "automotive"},
}

func categoryIndex(name string) int {
	for i, c := range categoryTable {
		if c.name == name {
			return i
		}
	}
	panic("generate: unknown category " + name)
}

// zipfExponent shapes popularity within a department: the k-th best seller
// sells about 1/k^s as much as the best. Around 1 matches retail sales data.
const zipfExponent = 1.05

// catalogue is the shop's products. Product i has ID "p%06d" of i+1.
type catalogue struct {
	cat     []uint8   // category of each product
	price   []int64   // unit price in cents
	partner []uint32  // the product most often bought with it
	pop     []float64 // share of demand
	byCat   [][]uint32
	inCat   []alias   // popularity within each category
	catPick alias     // categories by demand
	cheap   []uint32  // card testers' favourites: the cheapest items
	high    []uint32  // expensive, resellable items
	highA   alias     // high by popularity
	hype    []uint32  // best sellers of hyped departments, for bots
	catW    []float64 // demand per category
}

// newCatalogue builds n products. Products are spread over departments in
// proportion to demand^0.7 (big departments have more, but not
// proportionally more, products), each department's sales follow Zipf's law
// over a random ranking, prices are log-normal per department rounded to
// retail endings, and each product gets one planted partner from its
// complementary department, chosen by popularity, so baskets carry real
// co-purchase structure.
func newCatalogue(r *rand.Rand, n int) *catalogue {
	nc := len(categoryTable)
	c := &catalogue{
		cat:     make([]uint8, n),
		price:   make([]int64, n),
		partner: make([]uint32, n),
		pop:     make([]float64, n),
		byCat:   make([][]uint32, nc),
		inCat:   make([]alias, nc),
		catW:    make([]float64, nc),
	}
	// Every department gets at least one product; the rest by demand^0.7.
	share := make([]float64, nc)
	for i, k := range categoryTable {
		share[i] = math.Pow(k.weight, 0.7)
		c.catW[i] = k.weight
	}
	cum := cumulative(share)
	for i := 0; i < n; i++ {
		k := i
		if i >= nc {
			k = pick(r, cum)
		}
		c.cat[i] = uint8(k)
		c.byCat[k] = append(c.byCat[k], uint32(i))
	}
	for k, ps := range c.byCat {
		spec := categoryTable[k]
		r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		w := make([]float64, len(ps))
		h := 0.0
		for rank := range ps {
			w[rank] = 1 / math.Pow(float64(rank+1), zipfExponent)
			h += w[rank]
		}
		for rank, p := range ps {
			c.pop[p] = spec.weight * w[rank] / h
			c.price[p] = retailPrice(r, spec)
		}
		c.inCat[k] = newAlias(w)
	}
	c.catPick = newAlias(c.catW)
	for i := range c.partner {
		k := categoryIndex(categoryTable[c.cat[i]].complement)
		p := c.byCat[k][c.inCat[k].sample(r)]
		if p == uint32(i) && len(c.byCat[k]) > 1 {
			p = c.byCat[k][0]
			if p == uint32(i) {
				p = c.byCat[k][1]
			}
		}
		c.partner[i] = p
	}
	c.buildPools()
	return c
}

// retailPrice draws a log-normal price and rounds it the way shops do:
// x.99 above five dollars, x.49 or x.99 below; gift cards come in round
// denominations.
func retailPrice(r *rand.Rand, spec category) int64 {
	if spec.name == "gift_cards" {
		d := []int64{1000, 2500, 5000, 5000, 10000, 20000}
		return d[r.IntN(len(d))]
	}
	p := spec.median * math.Exp(spec.sigma*r.NormFloat64())
	if p >= 5 {
		return int64(math.Round(p))*100 - 1
	}
	c := int64(math.Round(p*2)) * 50
	if c < 100 {
		return 99
	}
	return c - 1
}

// buildPools lists the products each fraud scenario favours. Pools are
// never empty, whatever the catalogue size.
func (c *catalogue) buildPools() {
	n := len(c.price)
	byPrice := make([]uint32, n)
	for i := range byPrice {
		byPrice[i] = uint32(i)
	}
	sort.SliceStable(byPrice, func(i, j int) bool { return c.price[byPrice[i]] < c.price[byPrice[j]] })
	for _, p := range byPrice {
		if c.price[p] <= 600 || len(c.cheap) < 3 {
			c.cheap = append(c.cheap, p)
		}
	}
	for i := n - 1; i >= 0; i-- {
		p := byPrice[i]
		if categoryTable[c.cat[p]].highValue && c.price[p] >= 15000 {
			c.high = append(c.high, p)
		}
	}
	if len(c.high) < 3 {
		c.high = append(c.high[:0], byPrice[n-min(n, 10):]...)
	}
	w := make([]float64, len(c.high))
	for i, p := range c.high {
		w[i] = c.pop[p]
	}
	c.highA = newAlias(w)
	for k, spec := range categoryTable {
		if !spec.hype {
			continue
		}
		ps := append([]uint32(nil), c.byCat[k]...)
		sort.SliceStable(ps, func(i, j int) bool { return c.pop[ps[i]] > c.pop[ps[j]] })
		c.hype = append(c.hype, ps[:min(len(ps), 5)]...)
	}
}

// product draws a product of category k by popularity.
func (c *catalogue) product(r *rand.Rand, k int) uint32 {
	return c.byCat[k][c.inCat[k].sample(r)]
}
