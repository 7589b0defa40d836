package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

// TestSignInInBrowser drives the dashboard of a server that has tokens:
// it shows the sign-in form, signs in with an admin token, labels an
// alert with the button of the alerts panel (a change that needs the
// session's CSRF token, which the page adds), finds the label in the
// audit panel, and signs out. The console must stay free of errors other
// than the 401s before signing in (a CSP violation would be one).
func TestSignInInBrowser(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := newAuthEnv(t, web.Config{})
	admin, _ := e.token(t, "ops", store.RoleAdmin)

	bctx, problems, stopBrowser := openBrowser(t, ctx, chromium, "status of 401", "unauthorized: ")
	defer stopBrowser()
	wait := func(what, expr string) {
		t.Helper()
		var err error
		for range 3 { // a poll that the page's own reload interrupts is started again
			_, err = chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond),
				chromedp.WithPollingTimeout(20*time.Second)))
			if err == nil || !strings.Contains(err.Error(), "navigated") && !strings.Contains(err.Error(), "context with specified id") {
				break
			}
		}
		if err != nil {
			s, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 400)`))
			t.Fatalf("waiting until %s: %v (page shows: %s)", what, err, strings.Join(strings.Fields(s), " "))
		}
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(e.ts.URL+"/")); err != nil {
		t.Fatal(err)
	}
	wait("the sign-in form shows", `!document.getElementById("signin").classList.contains("hidden")`)
	if err := chromedp.Do(bctx, chromedp.SendKeys("#signin-token", "ss1_999_wrong"), chromedp.Click(`#signin-form button`)); err != nil {
		t.Fatal(err)
	}
	wait("a wrong token is refused", `/not valid/.test(document.getElementById("signin-error").textContent)`)
	if err := chromedp.Do(bctx, chromedp.SetValue("#signin-token", admin), chromedp.Click(`#signin-form button`)); err != nil {
		t.Fatal(err)
	}
	wait("the header names the token", `document.getElementById("who").textContent === "token 1 (ops) · admin"`)
	wait("the form is gone", `document.getElementById("signin").classList.contains("hidden")`)
	wait("the tiles show data", `document.getElementById("t-tx").textContent === "11"`)
	// The cookie is HttpOnly: the page cannot read it.
	if c, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.cookie`)); err != nil || c != "" {
		t.Fatalf("document.cookie = %q (%v), want nothing readable", c, err)
	}
	// The queue follows the time range: the fixture's alerts are of
	// 1 June 2026 (fraudBase).
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.hash = "#/fraud?range=custom&from=2026-05-31T00:00&to=2026-06-03T00:00"`)); err != nil {
		t.Fatal(err)
	}
	wait("the alerts panel offers labels", `document.querySelector('#alerts-body tr[data-id="f7"] button') !== null`)
	if err := chromedp.Do(bctx, chromedp.Click(`#alerts-body tr[data-id="f7"] button`)); err != nil {
		t.Fatal(err)
	}
	wait("the alert shows its label", `document.querySelector('#alerts-body tr[data-id="f7"] .status-confirmed_fraud') !== null`)
	if err := chromedp.Do(bctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	wait("the audit panel lists the label", `[...document.querySelectorAll("#audit-body tr")].some((r) => r.textContent.includes("alert.label") && r.textContent.includes("token 1 (ops)"))`)
	if err := chromedp.Do(bctx, chromedp.Click("#signout")); err != nil {
		t.Fatal(err)
	}
	wait("signed out, the form shows again", `!document.getElementById("signin").classList.contains("hidden")`)
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`true`)); err != nil {
		t.Fatal(err)
	}
	for _, p := range problems.all() {
		t.Errorf("console: %s", p)
	}
}
