package importer

import (
	"testing"

	"github.com/shopstream/shopstream/internal/event"
)

func TestSplitLongOrder(t *testing.T) {
	t.Parallel()
	o := event.Transaction{TransactionID: "o1"}
	for i := range 250 {
		o.Items = append(o.Items, event.Item{ProductID: "p", Quantity: 1, UnitPriceCents: event.Cents(i + 1)})
	}
	o.TotalCents = o.ItemsCents()
	parts := SplitLongOrder(o, 100)
	if len(parts) != 3 || parts[0].TransactionID != "o1" || parts[1].TransactionID != "o1#p2" || parts[2].TransactionID != "o1#p3" {
		t.Fatalf("parts = %d, ids %q %q", len(parts), parts[0].TransactionID, parts[len(parts)-1].TransactionID)
	}
	var sum event.Cents
	for _, p := range parts {
		if len(p.Items) > 100 || p.TotalCents != p.ItemsCents() {
			t.Errorf("part %s: %d items, total %d", p.TransactionID, len(p.Items), p.TotalCents)
		}
		sum += p.TotalCents
	}
	if sum != o.TotalCents || len(parts[2].Items) != 50 {
		t.Errorf("parts total %d, want %d; last part %d items", sum, o.TotalCents, len(parts[2].Items))
	}
	if short := SplitLongOrder(parts[2], 100); len(short) != 1 || short[0].TransactionID != "o1#p3" {
		t.Errorf("a short order was split: %+v", short)
	}
}
