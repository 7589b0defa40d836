package web_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// TestDegenerateCLVInBrowser loads the Customers page in headless
// Chromium over a store whose latest CLV model is a degenerate fit (a week
// of history): the CLV model's table says why there is no CLV and shows
// no mean, total or P(alive) (a model stored before 2026-12-07 says 0 for
// them, read as "no CLV" rather than a CLV of zero), and the distribution
// says that no customer was predicted because of it.
func TestDegenerateCLVInBrowser(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterAnalytics(srv, st)
	params := `{"bgnbd":{"r":2.94,"alpha":6.35,"a":0.0000276,"b":39182},"gamma_gamma":{"p":1.17,"q":1.80,"gamma":200},"period":"week"}`
	metrics := `{"as_of":"2026-12-07T03:24:21Z","customers":293469,"repeat_customers":63441,"bgnbd_log_likelihood":-141101.28,
		"gamma_gamma_log_likelihood":-409339.67,"frequency_monetary_correlation":0.001,"population_mean_spend":294.59,"horizon_months":12,
		"discount_rate":0.1,"mean_p_alive":0,"mean_clv":0,"total_clv":0,"fit_seconds":0.35,
		"fit_check":{"degenerate":true,"problems":["only 1.0 weeks of history: needs at least 8 weeks of repeat purchases","b = 3.92e+04 is at the edge of what the fit allows"],
		"history_weeks":1,"repeat_customers":63441}}`
	if _, err := st.SaveModelVersion(ctx, store.ModelCLV, []byte(params), []byte(metrics)); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	bctx, problems, stop := openBrowser(t, ctx, chromium)
	defer stop()
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/customers?refresh=off")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById("clv-body").textContent.includes("log-likelihood")`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(time.Minute))); err != nil {
		t.Fatalf("waiting for the CLV model's table: %v", err)
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll("#clv-body tr")].map((r) => [r.cells[0].textContent, r.cells[1].textContent]))`))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"mean P(alive)", "mean CLV", "total CLV"} {
		if rows[k] != "–" {
			t.Errorf("the CLV model's %q shows %q for a degenerate fit, want –", k, rows[k])
		}
	}
	if fit := rows["fit"]; !strings.HasPrefix(fit, "degenerate, no CLV: only 1.0 weeks of history") || !strings.Contains(fit, "; b = 3.92e+04") {
		t.Errorf("the CLV model's fit row %q, want the degenerate fit's problems", fit)
	}
	if rows["customers"] != "293,469" {
		t.Errorf("the CLV model's customers %q, want 293,469", rows["customers"])
	}
	sub, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("cd-sub").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sub, "fit is degenerate") {
		t.Errorf("the CLV distribution says %q, want that the latest model's fit is degenerate", sub)
	}
	for _, p := range problems.all() {
		t.Errorf("browser: %s", p)
	}
}
