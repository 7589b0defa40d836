package recommend

import (
	"cmp"
	"slices"
)

// Scored is a recommended item and its score.
type Scored struct {
	Item  string  `json:"item"`
	Score float64 `json:"score"`
}

// Ranker ranks items for a customer from their purchase history (distinct
// items, newest last). Items in the history are left out unless buyAgain.
type Ranker interface {
	Rank(history []string, n int, buyAgain bool) []Scored
}

// topN keeps the n best of scores (item id -> score), ties by id. The
// candidates are copied out of the map once and sorted by value, so the
// sort does no map lookups: it is the hot path of serving.
func topN(scores map[int32]float64, n int) []int32 {
	type cand struct {
		id int32
		s  float64
	}
	cs := make([]cand, 0, len(scores))
	for id, s := range scores {
		cs = append(cs, cand{id, s})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.s != b.s {
			if a.s > b.s {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.id, b.id)
	})
	ids := make([]int32, min(n, len(cs)))
	for i := range ids {
		ids[i] = cs[i].id
	}
	return ids
}

func (m *ItemModel) historyIDs(history []string) map[int32]bool {
	h := make(map[int32]bool, len(history))
	for _, it := range history {
		if id, ok := m.ids[it]; ok {
			h[id] = true
		}
	}
	return h
}

// fill appends popular items not yet in out nor excluded, up to n.
func (m *ItemModel) fill(out []Scored, n int, exclude map[int32]bool) []Scored {
	taken := make(map[string]bool, len(out))
	for _, s := range out {
		taken[s.Item] = true
	}
	for _, id := range m.popular {
		if len(out) >= n {
			break
		}
		if exclude[id] || taken[m.names[id]] {
			continue
		}
		out = append(out, Scored{Item: m.names[id], Score: 0})
	}
	return out
}

// Rank scores every neighbour of the history's items by the sum of its
// similarities to them, best first, and fills up with popular items when
// the history has too few neighbours (a new customer gets popularity).
func (m *ItemModel) Rank(history []string, n int, buyAgain bool) []Scored {
	h := m.historyIDs(history)
	scores := make(map[int32]float64, 16*len(h))
	for id := range h {
		for _, nb := range m.neighbours[id] {
			if !buyAgain && h[nb.Item] {
				continue
			}
			scores[nb.Item] += float64(nb.Score)
		}
	}
	out := make([]Scored, 0, n)
	for _, id := range topN(scores, n) {
		out = append(out, Scored{Item: m.names[id], Score: scores[id]})
	}
	if buyAgain {
		h = nil
	}
	return m.fill(out, n, h)
}

// Popularity ranks by the number of customers who bought each item: the
// fallback for new customers and the baseline every model must beat.
type Popularity struct{ m *ItemModel }

// Popularity returns the popularity ranker of the model's counts.
func (m *ItemModel) Popularity() Popularity { return Popularity{m} }

// Rank implements Ranker.
func (p Popularity) Rank(history []string, n int, buyAgain bool) []Scored {
	var h map[int32]bool
	if !buyAgain {
		h = p.m.historyIDs(history)
	}
	out := p.m.fill(make([]Scored, 0, n), n, h)
	for i := range out {
		out[i].Score = float64(p.m.users[p.m.ids[out[i].Item]])
	}
	return out
}
