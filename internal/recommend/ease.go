package recommend

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// EASEConfig sets the EASE model.
type EASEConfig struct {
	// Lambda is the L2 regularisation. Defaults to 250.
	Lambda float64
	// MaxItems bounds the model to the most popular items (the model is a
	// dense MaxItems² matrix). Defaults to 2,000.
	MaxItems int
}

// EASE is Steck's "Embarrassingly Shallow Autoencoder" (WWW 2019): a dense
// item-item weight matrix B = I - P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹, with a
// zero diagonal, from the customer-item co-purchase Gram matrix XᵀX, which
// the counts already hold.
type EASE struct {
	m     *ItemModel
	items []int32       // model row -> item id
	row   map[int32]int // item id -> model row
	b     *mat.Dense
}

// EASE fits the model on the counts.
func (c *Counts) EASE(cfg EASEConfig) (*EASE, error) {
	if cfg.Lambda == 0 {
		cfg.Lambda = 250
	}
	if cfg.MaxItems == 0 {
		cfg.MaxItems = 2000
	}
	im := c.ItemItem(ItemConfig{Neighbours: 1})
	items := im.popular[:min(cfg.MaxItems, len(im.popular))]
	k := len(items)
	if k < 2 {
		return nil, fmt.Errorf("EASE needs at least 2 items, have %d", k)
	}
	row := make(map[int32]int, k)
	for r, id := range items {
		row[id] = r
	}
	g := mat.NewSymDense(k, nil)
	for r, id := range items {
		g.SetSym(r, r, float64(c.users[id])+cfg.Lambda)
	}
	for key, cij := range c.pairs {
		i, j := int32(key>>32), int32(uint32(key))
		ri, ok1 := row[i]
		rj, ok2 := row[j]
		if ok1 && ok2 {
			g.SetSym(ri, rj, float64(cij))
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(g) {
		return nil, fmt.Errorf("EASE: the regularised Gram matrix is not positive definite (lambda %v)", cfg.Lambda)
	}
	var p mat.SymDense
	if err := ch.InverseTo(&p); err != nil {
		return nil, fmt.Errorf("EASE: inverting the Gram matrix: %w", err)
	}
	b := mat.NewDense(k, k, nil)
	for i := range k {
		for j := range k {
			if i != j {
				b.Set(i, j, -p.At(i, j)/p.At(j, j))
			}
		}
	}
	return &EASE{m: im, items: items, row: row, b: b}, nil
}

// Rank implements Ranker: the score of item j is the sum of B[i, j] over the
// history's items i.
func (e *EASE) Rank(history []string, n int, buyAgain bool) []Scored {
	h := e.m.historyIDs(history)
	scores := map[int32]float64{}
	for id := range h {
		r, ok := e.row[id]
		if !ok {
			continue
		}
		for c, v := range e.b.RawRowView(r) {
			if v <= 0 {
				continue
			}
			it := e.items[c]
			if !buyAgain && h[it] {
				continue
			}
			scores[it] += v
		}
	}
	out := make([]Scored, 0, n)
	for _, id := range topN(scores, n) {
		out = append(out, Scored{Item: e.m.names[id], Score: scores[id]})
	}
	if buyAgain {
		h = nil
	}
	return e.m.fill(out, n, h)
}
