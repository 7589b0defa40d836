package web_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestZZProbe(t *testing.T) {
	u := os.Getenv("ZZ_URL")
	if u == "" {
		t.Skip()
	}
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bctx, problems, stop := openBrowser(t, ctx, chromium)
	defer stop()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 3000)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(u)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(12 * time.Second)
	png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(os.Getenv("ZZ_OUT"), png, 0o644)
	t.Logf("problems: %v", problems.all())
}
