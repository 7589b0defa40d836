package web_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
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

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	var (
		mu       sync.Mutex
		problems []string
	)
	if err := chromedp.Listen(bctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			p = "uncaught exception: " + ev.ExceptionDetails.Text
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				p = "console " + string(ev.Type) + ": " + argsText(ev.Args)
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				p = "browser log (" + string(ev.Entry.Source) + "): " + ev.Entry.Text + " " + ev.Entry.URL
			}
		}
		if p != "" {
			mu.Lock()
			problems = append(problems, p)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("starting Chromium %s: %v", chromium, err)
	}

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
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the console has problems:\n%s", strings.Join(problems, "\n"))
	}
}
