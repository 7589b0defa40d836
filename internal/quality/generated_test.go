package quality_test

import (
	"testing"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/quality"
)

// TestDefaultContractOnTheGeneratedShop: under the default contract every
// bad record of the synthetic shop (every kind) is quarantined with the
// reason it was made for, every good one is stored without a warning, and
// stored + quarantined = generated, exactly.
func TestDefaultContractOnTheGeneratedShop(t *testing.T) {
	t.Parallel()
	g, err := generate.New(generate.Config{Seed: 7, Customers: 2000, Products: 300, BadRate: 0.2, BadKinds: generate.BadKinds})
	if err != nil {
		t.Fatal(err)
	}
	c := quality.Default()
	dedup := quality.NewDedup(1 << 14)
	var res quality.Result
	var tx event.Transaction
	const n = 20_000
	stored, quarantined := 0, 0
	made := map[quality.Reason]int{}
	for i := range n {
		r := g.Next()
		c.Decode(r.Value, r.EventTime, &tx, &res)
		f := res.Failure
		if f == nil {
			f = dedup.Check(tx.TransactionID)
		}
		if r.Bad != "" {
			made[r.Bad]++
			if f == nil || f.Reason != r.Bad {
				t.Fatalf("record %d, made as %s, checked as %v:\n%s", i, r.Bad, f, r.Value)
			}
		} else if f != nil || len(res.Warnings) > 0 || len(res.UnknownFields) > 0 {
			t.Fatalf("good record %d: %v, warnings %v, unknown fields %v:\n%s", i, f, res.Warnings, res.UnknownFields, r.Value)
		}
		if f == nil {
			stored++
		} else {
			quarantined++
		}
	}
	if stored+quarantined != n {
		t.Fatalf("stored %d + quarantined %d != generated %d", stored, quarantined, n)
	}
	for _, k := range generate.BadKinds {
		if made[k] == 0 {
			t.Errorf("no %s record made", k)
		}
	}
	t.Logf("%d generated: %d stored, %d quarantined %v", n, stored, quarantined, made)
}
