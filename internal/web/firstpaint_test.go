package web_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// BenchmarkFirstPaint loads each page of the dashboard in headless
// Chromium over loopback, each load in a new tab with the HTTP cache
// disabled (a first visit), and reports the Performance API's
// first-contentful-paint of the page's document: fcp-ms, the mean over
// b.N loads, and fcp-max-ms. The store holds half an hour of generated
// transactions and the analytics fixture.
//
//	go test -run '^$' -bench FirstPaint -benchtime 10x ./internal/web/
func BenchmarkFirstPaint(b *testing.B) {
	chromium := findChromium(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Limits: web.Limits{AddrRate: -1, TokenRate: -1}})
	if err != nil {
		b.Fatal(err)
	}
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	web.RegisterFraud(srv, web.FraudDeps{Store: st, Detector: det})
	web.RegisterQuality(srv, st, nil)
	web.RegisterQuarantine(srv, st, nil)
	web.RegisterAnalytics(srv, st)
	web.RegisterDeliveries(srv, st)
	analyticsFixture(b, st)
	f := &feeder{st: st, rng: rand.New(rand.NewPCG(1, 2)), offset: map[int32]int64{}}
	now := time.Now()
	for m := 30; m >= 1; m-- {
		if err := f.write(ctx, now.Add(-time.Duration(m)*time.Minute), 10+f.rng.IntN(20)); err != nil {
			b.Fatal(err)
		}
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	bctx, _, stop := openBrowser(b, ctx, chromium)
	defer stop()
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		b.Fatal(err)
	}
	for _, page := range []string{"overview", "fraud", "customers", "products", "quality", "system"} {
		b.Run(page, func(b *testing.B) {
			var fcps []float64
			for b.Loop() {
				// A tab of its own per load, closed after it: a first visit,
				// with no stream of an earlier load still open.
				tctx, closeTab := chromedp.NewContext(bctx)
				if _, err := chromedp.Call(tctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
					b.Fatal(err)
				}
				if err := chromedp.Do(tctx, chromedp.Navigate(ts.URL+"/#/"+page+"?range=1h")); err != nil {
					b.Fatalf("loading %s: %v", page, err)
				}
				fcp, err := chromedp.Run(tctx, chromedp.Poll[float64](`(() => { const e = performance.getEntriesByName("first-contentful-paint")[0]; return e ? e.startTime : 0; })()`,
					chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
				closeTab()
				if err != nil {
					b.Fatalf("%s: waiting for first-contentful-paint: %v", page, err)
				}
				if fcp <= 0 {
					b.Fatalf("%s: no first-contentful-paint entry", page)
				}
				fcps = append(fcps, fcp)
				b.Logf("%s load %d: first-contentful-paint at %.0f ms", page, len(fcps), fcp)
			}
			var sum float64
			for _, v := range fcps {
				sum += v
			}
			b.ReportMetric(sum/float64(len(fcps)), "fcp-ms")
			b.ReportMetric(slices.Max(fcps), "fcp-max-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
