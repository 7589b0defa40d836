package recommend

import (
	"slices"
)

// Counts holds co-purchase counts, folded in purchase by purchase: for every
// pair of items, the number of customers who bought both (among each
// customer's most recent MaxHistory distinct items), and for every item the
// number of customers who bought it. It is the input of item-item models and
// of popularity.
//
// Unbounded counts (NewCounts) grow with the customers seen and with the
// pairs of items bought together, up to the catalogue's square. Counts from
// NewBoundedCounts keep at most MaxCustomers customers and MaxPairs pairs
// (see CountsConfig), so a long-lived service's memory stays flat whatever
// the stream.
type Counts struct {
	maxHistory   int
	maxCustomers int
	maxPairs     int
	ids          map[string]int32
	names        []string
	users        []int32          // customers per item
	pairs        map[uint64]int32 // key i<<32|j with i < j
	history      map[string]*recent
	customers    int
	seq          uint64 // purchases folded in
	// forgotten counts the customers dropped for MaxCustomers; pruned the
	// pairs dropped for MaxPairs.
	forgotten, pruned int
}

// recent is one customer's distinct items, oldest first, and the purchase
// sequence number of their latest purchase.
type recent struct {
	items []int32
	seq   uint64
}

// CountsConfig bounds the counts.
type CountsConfig struct {
	// MaxHistory is how many of a customer's most recent distinct items a
	// new purchase is paired with. Defaults to 50.
	MaxHistory int
	// MaxCustomers is the most customers whose histories are kept. When a
	// new customer takes the count above it, the eighth of the customers
	// longest without a purchase are forgotten: their history goes, and a
	// forgotten customer who comes back starts a new one (their earlier
	// items are no longer paired with new purchases, and an item they buy
	// again counts them a second time among its customers). 0: unbounded.
	MaxCustomers int
	// MaxPairs is the most pairs with a count. When a new pair takes the
	// count above it, the pairs with the lowest counts are dropped until at
	// most half of MaxPairs remain: the rarest pairs go first, which are
	// the ones below the item-item model's minimum support or at the end
	// of its neighbour lists; a dropped pair bought again starts from 1.
	// 0: unbounded.
	MaxPairs int
}

// NewCounts returns empty counts that pair each new purchase with at most
// maxHistory of the customer's earlier distinct items (0 means 50), with
// no bound on customers or pairs: for offline evaluation over a fixed log.
func NewCounts(maxHistory int) *Counts {
	return NewBoundedCounts(CountsConfig{MaxHistory: maxHistory})
}

// NewBoundedCounts returns empty counts bounded by cfg.
func NewBoundedCounts(cfg CountsConfig) *Counts {
	if cfg.MaxHistory <= 0 {
		cfg.MaxHistory = 50
	}
	return &Counts{maxHistory: cfg.MaxHistory, maxCustomers: max(cfg.MaxCustomers, 0), maxPairs: max(cfg.MaxPairs, 0),
		ids: map[string]int32{}, pairs: map[uint64]int32{}, history: map[string]*recent{}}
}

func pairKey(i, j int32) uint64 {
	if i > j {
		i, j = j, i
	}
	return uint64(i)<<32 | uint64(uint32(j))
}

func (c *Counts) id(item string) int32 {
	if id, ok := c.ids[item]; ok {
		return id
	}
	id := int32(len(c.names))
	c.ids[item] = id
	c.names = append(c.names, item)
	c.users = append(c.users, 0)
	return id
}

// Add folds one purchase of item by customer in. A repeat purchase of an
// item the customer has in their history changes nothing but its recency.
func (c *Counts) Add(customer, item string) {
	it := c.id(item)
	c.seq++
	r := c.history[customer]
	if r == nil {
		c.customers++
		r = &recent{}
		c.history[customer] = r
		if c.maxCustomers > 0 && len(c.history) > c.maxCustomers {
			c.forgetCustomers(r)
		}
	}
	r.seq = c.seq
	h := r.items
	if i := slices.Index(h, it); i >= 0 {
		copy(h[i:], h[i+1:])
		h[len(h)-1] = it
		return
	}
	for _, o := range h {
		c.pairs[pairKey(o, it)]++
	}
	if c.maxPairs > 0 && len(c.pairs) > c.maxPairs {
		c.prunePairs()
	}
	c.users[it]++
	if len(h) == c.maxHistory {
		copy(h, h[1:])
		h = h[:len(h)-1]
	}
	r.items = append(h, it)
}

// forgetCustomers drops the eighth of the customers longest without a
// purchase (at least one), never keep, which has just been added.
func (c *Counts) forgetCustomers(keep *recent) {
	seqs := make([]uint64, 0, len(c.history))
	for _, r := range c.history {
		if r != keep {
			seqs = append(seqs, r.seq)
		}
	}
	slices.Sort(seqs)
	// Sequence numbers are distinct (one per purchase), so exactly the
	// customers at or before the cut go.
	cut := seqs[max(len(seqs)/8, 1)-1]
	for cust, r := range c.history {
		if r != keep && r.seq <= cut {
			delete(c.history, cust)
			c.forgotten++
		}
	}
}

// prunePairs drops the pairs with the lowest counts, all pairs of a count
// or none, until at most half of MaxPairs remain.
func (c *Counts) prunePairs() {
	// by[n] is the number of pairs counted n times, the last bucket
	// holding every higher count.
	const buckets = 1 << 12
	var by [buckets]int
	for _, n := range c.pairs {
		by[min(int(n), buckets-1)]++
	}
	keep, cut := len(c.pairs), int32(0)
	for n := 1; n < buckets-1 && keep > c.maxPairs/2; n++ {
		keep -= by[n]
		cut = int32(n)
	}
	for k, n := range c.pairs {
		if n <= cut {
			delete(c.pairs, k)
			c.pruned++
		}
	}
}

// Rename gives the history of every customer for whom to returns a new
// name that name instead (an erased customer's pseudonym), merged into
// any history the new name has, and returns how many were renamed. The
// pair and item counts, which name no customer, stay as they are.
func (c *Counts) Rename(to func(customer string) (string, bool)) int {
	type move struct {
		from, to string
	}
	var moves []move
	for cust := range c.history {
		if n, ok := to(cust); ok && n != cust {
			moves = append(moves, move{cust, n})
		}
	}
	for _, m := range moves {
		r := c.history[m.from]
		delete(c.history, m.from)
		if o := c.history[m.to]; o != nil {
			for _, it := range r.items {
				if !slices.Contains(o.items, it) {
					o.items = append(o.items, it)
				}
			}
			if len(o.items) > c.maxHistory {
				o.items = o.items[len(o.items)-c.maxHistory:]
			}
			o.seq = max(o.seq, r.seq)
			continue
		}
		c.history[m.to] = r
	}
	return len(moves)
}

// Items is the number of distinct items seen.
func (c *Counts) Items() int { return len(c.names) }

// Customers is the number of distinct customers seen (forgotten ones
// included; a forgotten customer who comes back counts again).
func (c *Counts) Customers() int { return c.customers }

// Kept is the number of customers whose history is kept.
func (c *Counts) Kept() int { return len(c.history) }

// Pairs is the number of item pairs with a count.
func (c *Counts) Pairs() int { return len(c.pairs) }

// Dropped reports what the bounds dropped so far: customers forgotten
// (MaxCustomers) and pairs pruned (MaxPairs).
func (c *Counts) Dropped() (customers, pairs int) { return c.forgotten, c.pruned }

// History returns the customer's recent distinct items, newest last.
func (c *Counts) History(customer string) []string {
	r := c.history[customer]
	if r == nil {
		return []string{}
	}
	out := make([]string, len(r.items))
	for i, id := range r.items {
		out[i] = c.names[id]
	}
	return out
}

// CoCount is the number of customers who bought both items.
func (c *Counts) CoCount(a, b string) int {
	i, ok1 := c.ids[a]
	j, ok2 := c.ids[b]
	if !ok1 || !ok2 || i == j {
		return 0
	}
	return int(c.pairs[pairKey(i, j)])
}

// Bytes estimates the counts' memory: about 16 bytes per counted pair (key,
// count and map overhead), per customer their id, history and map entry,
// and per item its name, index entry and count. Pairs dominate; their
// number is bounded by MaxHistory pairings per purchase, and by MaxPairs.
func (c *Counts) Bytes() int {
	b := 16 * len(c.pairs)
	for cust, r := range c.history {
		b += len(cust) + 16 + 8 + 24 + 8 + 4*cap(r.items)
	}
	for _, n := range c.names {
		b += 2*16 + 2*len(n) + 8 + 4
	}
	return b
}
