package generate

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// queue is an Exposures the test fills.
type queue struct{ xs []Exposure }

func (q *queue) Drain(buf []Exposure) []Exposure {
	buf = append(buf, q.xs...)
	q.xs = q.xs[:0]
	return buf
}

// TestResponses exposes customers to one product each, half by a better
// recommender, and counts who comes back for the product shown.
func TestResponses(t *testing.T) {
	q := &queue{}
	g, err := New(Config{Seed: 3, Customers: 20_000, Products: 500, FraudRate: -1,
		Response: Response{Exposures: q, Rate: 0.3, Better: "good", Uplift: 1, Delay: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{} // customer -> product
	better := map[string]bool{}
	bought := map[string]bool{}
	const exposed = 4000
	for i := 0; i < 100_000; i++ {
		rec := g.Next()
		var tx struct {
			Customer string `json:"customer_id"`
			Items    []struct {
				Product string `json:"product_id"`
			} `json:"items"`
		}
		if err := json.Unmarshal(rec.Value, &tx); err != nil {
			t.Fatal(err)
		}
		if p, ok := shown[tx.Customer]; ok && len(tx.Items) > 0 && tx.Items[0].Product == p {
			bought[tx.Customer] = true
		}
		if _, ok := shown[tx.Customer]; !ok && len(shown) < exposed {
			p := fmt.Sprintf("p%06d", 1+len(shown)%500)
			shown[tx.Customer] = p
			rc := "plain"
			if len(shown)%2 == 0 {
				rc, better[tx.Customer] = "good", true
			}
			q.xs = append(q.xs, Exposure{CustomerID: tx.Customer, At: rec.EventTime, Products: []string{p}, Recommender: rc})
		}
	}
	var n [2]int
	for c := range bought {
		if better[c] {
			n[1]++
		} else {
			n[0]++
		}
	}
	// 2,000 exposures each at 0.3 and 0.6 (binomial sd about 20), less
	// the customers who churned with the purchase before (about a fifth
	// here); a few natural purchases of the product shown add to both.
	ratio := float64(n[1]) / float64(n[0])
	if n[0] < 400 || n[0] > 660 || ratio < 1.75 || ratio > 2.25 {
		t.Fatalf("bought the product shown: %d of 2,000 plain, %d of 2,000 better (ratio %.2f); want about 500 and a ratio of 2",
			n[0], n[1], ratio)
	}
}

func TestResponseConfig(t *testing.T) {
	if _, err := New(Config{Response: Response{Exposures: &queue{}, Rate: 0.6, Uplift: 1}}); err == nil {
		t.Fatal("a response rate above 1 after the uplift was accepted")
	}
}
