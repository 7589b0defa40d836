package recommend

import "slices"

// Counts holds co-purchase counts, folded in purchase by purchase: for every
// pair of items, the number of customers who bought both (among each
// customer's most recent MaxHistory distinct items), and for every item the
// number of customers who bought it. It is the input of item-item models and
// of popularity.
type Counts struct {
	maxHistory int
	ids        map[string]int32
	names      []string
	users      []int32            // customers per item
	pairs      map[uint64]int32   // key i<<32|j with i < j
	history    map[string][]int32 // per customer, distinct items, oldest first
	customers  int
}

// NewCounts returns empty counts that pair each new purchase with at most
// maxHistory of the customer's earlier distinct items (0 means 50).
func NewCounts(maxHistory int) *Counts {
	if maxHistory <= 0 {
		maxHistory = 50
	}
	return &Counts{maxHistory: maxHistory, ids: map[string]int32{}, pairs: map[uint64]int32{}, history: map[string][]int32{}}
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
	h, seen := c.history[customer]
	if !seen {
		c.customers++
	}
	if i := slices.Index(h, it); i >= 0 {
		copy(h[i:], h[i+1:])
		h[len(h)-1] = it
		return
	}
	for _, o := range h {
		c.pairs[pairKey(o, it)]++
	}
	c.users[it]++
	if len(h) == c.maxHistory {
		copy(h, h[1:])
		h = h[:len(h)-1]
	}
	c.history[customer] = append(h, it)
}

// Items is the number of distinct items seen.
func (c *Counts) Items() int { return len(c.names) }

// Customers is the number of distinct customers seen.
func (c *Counts) Customers() int { return c.customers }

// Pairs is the number of item pairs with a count.
func (c *Counts) Pairs() int { return len(c.pairs) }

// History returns the customer's recent distinct items, newest last.
func (c *Counts) History(customer string) []string {
	h := c.history[customer]
	out := make([]string, len(h))
	for i, id := range h {
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
// number is bounded by MaxHistory pairings per purchase.
func (c *Counts) Bytes() int {
	b := 16 * len(c.pairs)
	for cust, h := range c.history {
		b += len(cust) + 16 + 24 + 8 + 4*cap(h)
	}
	for _, n := range c.names {
		b += 2*16 + 2*len(n) + 8 + 4
	}
	return b
}
