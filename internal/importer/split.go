package importer

import (
	"strconv"

	"github.com/shopstream/shopstream/internal/event"
)

// SplitLongOrder splits an order of more than maxItems lines, which the
// quality checks reject, into parts of at most maxItems: "<order>",
// "<order>#p2", ... each with its own total. Real order exports (UCI Online
// Retail) have invoices of several hundred lines; splitting keeps their
// revenue, while the purchase-day models count them once anyway.
func SplitLongOrder(t event.Transaction, maxItems int) []event.Transaction {
	if len(t.Items) <= maxItems {
		return []event.Transaction{t}
	}
	var out []event.Transaction
	for i := 0; i < len(t.Items); i += maxItems {
		p := t
		p.Items = t.Items[i:min(i+maxItems, len(t.Items))]
		p.TotalCents = p.ItemsCents()
		if i > 0 {
			p.TransactionID = t.TransactionID + "#p" + strconv.Itoa(i/maxItems+1)
		}
		out = append(out, p)
	}
	return out
}
