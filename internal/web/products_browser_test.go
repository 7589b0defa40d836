package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// TestTopProductsFollowTheRange: the Products page's top products are what
// sold in the chosen range (GET /api/v1/products/top with since/until),
// from the product rollup: before the product fold has run the page says
// it is catching up and lists nothing; once folded, changing the range
// changes the table and the URL, and so does the ranking menu.
func TestTopProductsFollowTheRange(t *testing.T) {
	h := newHabits(t, habitsConfig{prepare: func(h *habits) {
		var txs []store.Tx
		add := func(at time.Time, customer, items string) {
			tx := storetest.Tx(fmt.Sprintf("tp-%d", len(txs)), customer, at, 0, 9, int64(len(txs)))
			tx.ItemsJSON = []byte(items)
			txs = append(txs, tx)
		}
		// In the last hour: FRESH to one customer, TWIN to two.
		add(h.minuteAgo(5), "tp-a", `[{"product_id":"FRESH","category":"c","quantity":3,"unit_price":2.00}]`)
		add(h.minuteAgo(4), "tp-b", `[{"product_id":"TWIN","category":"c","quantity":1,"unit_price":9.00}]`)
		add(h.minuteAgo(3), "tp-c", `[{"product_id":"TWIN","category":"c","quantity":1,"unit_price":9.00}]`)
		// Three days ago: OLDIE, many units.
		add(h.base.Add(-72*time.Hour), "tp-d", `[{"product_id":"OLDIE","category":"c","quantity":40,"unit_price":1.00}]`)
		if err := h.st.WriteBatch(h.ctx, &store.Batch{Group: "tp", Topic: "tp", Parts: []store.Part{{Partition: 9, From: 0, To: int64(len(txs)), Txs: txs}}}); err != nil {
			t.Fatal(err)
		}
	}})
	// The products of this test, in the table's order (the habits'
	// fixture sells P1 too, days before the last hour).
	const mine = `[...document.querySelectorAll("#top-body tr")].filter((tr) => ["FRESH", "TWIN", "OLDIE"].includes(tr.dataset.product))`
	products := func() string {
		return h.eval(mine + `.map((tr) => tr.dataset.product + ":" + tr.children[2].textContent + ":" + tr.children[4].textContent).join(",")`)
	}
	sub := func() string { return h.eval(`document.getElementById("top-sub").textContent`) }
	h.open("#/products?range=1h&refresh=off")
	h.loaded("products")
	h.wait("the page says the fold is catching up", `document.getElementById("top-sub").textContent.includes("catching up")`, 0)
	if got := products(); got != "" {
		t.Fatalf("top products before the fold: %s, want none", got)
	}
	if s := sub(); !strings.Contains(s, "not folded yet") {
		t.Errorf("subtitle before the fold %q", s)
	}
	foldedAt := time.Now().UTC().Truncate(time.Second)
	for done := false; !done; {
		c, err := h.st.FoldProducts(h.ctx, store.ProductFoldOptions{Limit: 2, Now: foldedAt})
		if err != nil {
			t.Fatal(err)
		}
		done = c.Done
	}
	h.eval(`(() => { const s = document.getElementById("range"); s.value = "7d"; s.dispatchEvent(new Event("change")); return ""; })()`)
	h.wait("the URL has the week", `location.hash.includes("range=7d")`, 10*time.Second)
	h.wait("the week's top products", `document.querySelector("#top-body tr[data-product]") !== null && document.querySelector("#top-body tr[data-product]").dataset.product === "OLDIE"`, 0)
	if got := products(); got != "OLDIE:40:1,FRESH:3:1,TWIN:2:2" {
		t.Errorf("top products of the week: %s", got)
	}
	if s := sub(); !strings.Contains(s, "by units") || !strings.Contains(s, "products folded up to") || strings.Contains(s, "catching up") {
		t.Errorf("subtitle %q", s)
	}
	h.eval(`(() => { const s = document.getElementById("range"); s.value = "1h"; s.dispatchEvent(new Event("change")); return ""; })()`)
	h.wait("the URL has the hour", `location.hash.includes("range=1h")`, 10*time.Second)
	h.wait("the hour's top products", mine+`.length === 2`, 0)
	if got := products(); got != "FRESH:3:1,TWIN:2:2" {
		t.Fatalf("top products of the last hour: %s, want FRESH (3 units) then TWIN (2)", got)
	}
	h.eval(`(() => { const s = document.getElementById("range"); s.value = "7d"; s.dispatchEvent(new Event("change")); return ""; })()`)
	h.wait("the URL has the week again", `location.hash.includes("range=7d")`, 10*time.Second)
	h.wait("the week's top products again", mine+`.length === 3`, 0)
	h.eval(`(() => { const s = document.getElementById("top-sort"); s.value = "customers"; s.dispatchEvent(new Event("change")); return ""; })()`)
	h.wait("the URL has the ranking", `location.hash.includes("top_sort=customers")`, 10*time.Second)
	h.wait("ranked by customers", mine+`.length === 3 && `+mine+`[0].dataset.product === "TWIN"`, 0)
	if got := products(); got != "TWIN:2:2,FRESH:3:1,OLDIE:40:1" {
		t.Errorf("top products of the week by customers: %s", got)
	}
}
