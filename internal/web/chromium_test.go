package web_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browserProblems collects what a page must not produce: console errors,
// warnings and failed asserts, uncaught exceptions and the browser's own
// error log, each as one line.
type browserProblems struct {
	mu    sync.Mutex
	lines []string
}

// all returns the problems so far. Listen's func runs before the reply to
// any later command, so every message is here once an action returns.
func (b *browserProblems) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...)
}

// openBrowser starts headless Chromium (no sandbox, no GPU, no background
// networking, a profile of its own) with a 1280×900 window, and returns
// its context and the problems it collects. A console message or browser
// log entry that contains one of tolerated is not a problem (the 401s a
// sign-in test provokes on purpose, say); an uncaught exception always
// is. The returned stop closes the browser: defer it after the servers
// the page talks to, so that it runs first and their Close does not wait
// for the page's open connections (the dashboard's event stream).
func openBrowser(t testing.TB, ctx context.Context, chromium string, tolerated ...string) (context.Context, *browserProblems, func()) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	stop := func() { cancelBrowser(); cancelAlloc() }
	probs := &browserProblems{}
	if err := chromedp.Listen(bctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning ||
				ev.Type == runtime.ConsoleAPICalledTypeAssert {
				p = tolerate("console."+string(ev.Type)+": "+argsText(ev.Args), tolerated)
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			p = fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, d.Text)
			if d.Exception != nil {
				p += " " + d.Exception.Description
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				p = tolerate(fmt.Sprintf("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL), tolerated)
			} else if ev.Entry.Level == log.EntryLevelWarning {
				t.Logf("browser warning (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if p != "" {
			probs.mu.Lock()
			probs.lines = append(probs.lines, p)
			probs.mu.Unlock()
		}
	}); err != nil {
		stop()
		t.Fatalf("starting Chromium %s: %v", chromium, err)
	}
	return bctx, probs, stop
}

// tolerate returns p, or "" when it contains one of tolerated.
func tolerate(p string, tolerated []string) string {
	for _, s := range tolerated {
		if strings.Contains(p, s) {
			return ""
		}
	}
	return p
}
