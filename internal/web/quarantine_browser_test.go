package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// TestQuarantinePagesInBrowser pages the Quality page's quarantine panel
// over 120 quarantined records in headless Chromium: 50 newest first,
// then "older records" twice appends the next 50 and the last 20, each
// older than those shown, none twice, until the oldest is reached and
// the button is disabled.
func TestQuarantinePagesInBrowser(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const n = 120
	p := store.Part{Partition: 0, From: 0, To: n}
	for i := range n {
		p.Quarantined = append(p.Quarantined, store.Quarantined{Reason: "malformed_json", Detail: fmt.Sprintf("record %d", i),
			Raw: []byte("{"), Partition: 0, Offset: int64(i)})
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{p}}); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterQuality(srv, st, nil)
	web.RegisterQuarantine(srv, st, nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	bctx, problems, stop := openBrowser(t, ctx, chromium, "404 (Not Found)")
	defer stop()
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/quality?range=1h&refresh=off")); err != nil {
		t.Fatalf("loading the dashboard: %v", err)
	}
	ids := func() []int {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[...document.querySelectorAll("#qr-body tr[data-id]")].map((tr) => Number(tr.dataset.id))`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	wait := func(rows int, count string, disabled bool) {
		t.Helper()
		js := fmt.Sprintf(`document.querySelectorAll("#qr-body tr[data-id]").length === %d && document.getElementById("qr-count").textContent === %q &&
			document.getElementById("qr-more").disabled === %v`, rows, count, disabled)
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			state, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("qr-count").textContent + " | " + document.querySelectorAll("#qr-body tr[data-id]").length`))
			t.Fatalf("waiting for %d rows, %q: %v (page: %s)", rows, count, err, state)
		}
		got := ids()
		seen := map[int]bool{}
		for i, id := range got {
			if seen[id] || i > 0 && id >= got[i-1] {
				t.Fatalf("ids shown %v: not newest first, each once", got)
			}
			seen[id] = true
		}
	}
	wait(50, "50 shown, older ones on the next page", false)
	first := ids()
	more := func() {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("qr-more").click(), ""`)); err != nil {
			t.Fatal(err)
		}
	}
	more()
	wait(100, "100 shown, older ones on the next page", false)
	if got := ids(); fmt.Sprint(got[:50]) != fmt.Sprint(first) {
		t.Fatalf("the first page changed when the older one was appended")
	}
	more()
	wait(n, "120 shown, the oldest reached", true)
	for _, p := range problems.all() {
		t.Errorf("console: %s", p)
	}
}
