package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLoadtestAgainstRun starts shopstream run in this process through
// loadtest --start, loads it for a few seconds at a small rate, then past
// its rate limiter, and checks the report.
func TestLoadtestAgainstRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole pipeline")
	}
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	out, _, err := runCLI(t, "loadtest", "--start", "--tx-rate", "20", "--customers", "2000", "--rate", "10", "--duration", "2s",
		"--over-rate", "100", "--over-duration", "2s", "--max-lag", "5000", "--cpuprofile", prof)
	if err != nil {
		t.Fatalf("loadtest: %v\n%s", err, out)
	}
	// The started server has a token, so every request was checked.
	if !strings.Contains(out, "requests carry an analyst token") {
		t.Errorf("the started run was not given a token:\n%s", out)
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("--cpuprofile %s: %v, want a profile", prof, err)
	}
	for _, route := range []string{"GET /api/v1/summary", "GET /api/v1/windows", "GET /api/v1/alerts", "GET /api/v1/segments", "GET /api/v1/cohorts", "POST /api/v1/score"} {
		// Load phase: every request answered 2xx, none 429, no error.
		re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(route) + `\s+(\d+)\s+(\d+)\s+0\s+0\s+[\d.]+ ms\s+[\d.]+ ms`)
		m := re.FindStringSubmatch(out)
		if m == nil || m[1] != m[2] || m[1] == "0" {
			t.Errorf("no load-phase line for %s with all requests OK:\n%s", route, out)
		}
	}
	if !regexp.MustCompile(`overload: 100 requests/s[^\n]*\n\d+ requests in [^\n]*, 0 errors, [1-9]\d* answered 429 \(0 without Retry-After\)`).MatchString(out) {
		t.Errorf("overload phase drew no 429, or some without Retry-After:\n%s", out)
	}
	if strings.Count(out, "pipeline: /readyz ready in") != 2 || !strings.Contains(out, "PASS") {
		t.Errorf("want the pipeline's readiness of both phases and PASS:\n%s", out)
	}
}

func TestLoadtestRefusesOtherAddresses(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:8050", "example.com:80", "[::1]:8050", ":8050"} {
		_, _, err := runCLI(t, "loadtest", "--addr", addr, "--duration", "1s")
		if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), "-addr") {
			t.Errorf("loadtest --addr %s = %v; want a usage error naming -addr", addr, err)
		}
	}
	_, _, err := runCLI(t, "loadtest", "--rate", "0")
	if err == nil || !strings.Contains(err.Error(), "-rate") {
		t.Errorf("loadtest --rate 0 = %v; want an error naming -rate", err)
	}
}
