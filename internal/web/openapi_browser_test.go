package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shopstream/shopstream/internal/web"
)

// TestAPIReferenceInBrowser loads the API reference page in headless
// Chromium and checks that it renders every documented operation from the
// served document, under the dashboard's CSP, with a clean console.
func TestAPIReferenceInBrowser(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := newAPIEnv(t, web.Config{})
	ops := loadOpenAPI(t).operations()

	bctx, problems, stopBrowser := openBrowser(t, ctx, chromium)
	defer stopBrowser()

	if err := chromedp.Do(bctx, chromedp.Navigate(e.ts.URL+"/api.html")); err != nil {
		t.Fatalf("loading the reference page: %v", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.body.dataset.rendered !== undefined`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("waiting for the page to render: %v", err)
	}
	cards, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#reference section.card h2 code").length`))
	if err != nil {
		t.Fatal(err)
	}
	summary, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("getSummary").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("reference").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if cards != len(ops) {
		t.Errorf("the page shows %d operations, the document has %d", cards, len(ops))
	}
	if want := "GET /api/v1/summary Running totals."; !strings.Contains(strings.Join(strings.Fields(summary), " "), want) {
		t.Errorf("the summary's card lacks %q:\n%s", want, summary)
	}
	// The card links its schema, which the schemas section shows.
	schema, err := chromedp.Run(bctx, chromedp.Evaluate[string](
		`document.querySelector(document.querySelector("#getSummary a[href^='#schema-']").getAttribute("href")).nextElementSibling.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"transactions_total*: integer", "revenue*: [CurrencyAmount]", "last_event_time: Time"} {
		if !strings.Contains(schema, want) {
			t.Errorf("the Summary schema lacks %q:\n%s", want, schema)
		}
	}
	for _, want := range []string{"method_not_allowed", "POST /api/v1/quarantine/replay", "no credentials"} {
		if !strings.Contains(strings.Join(strings.Fields(page), " "), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if ps := problems.all(); len(ps) > 0 {
		t.Errorf("the console has problems:\n%s", strings.Join(ps, "\n"))
	}
}
