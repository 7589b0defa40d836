package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealthcheck probes a server that answers 200, then 503, then none.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write([]byte(`{"ready":false,"reasons":["stalled"]}`))
	}))
	url := srv.URL + "/readyz"
	out, _, err := runCLI(t, "healthcheck", "--url", url)
	if err != nil || !strings.Contains(out, "200 OK") {
		t.Fatalf("healthy: %v, %q", err, out)
	}
	status = http.StatusServiceUnavailable
	_, _, err = runCLI(t, "healthcheck", "--url", url)
	if err == nil || IsUsage(err) || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("unhealthy: %v, want the status and body", err)
	}
	if _, _, err = runCLI(t, "healthcheck", "--url", srv.URL+"/nothing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("not found: %v", err)
	}
	srv.Close()
	if _, _, err = runCLI(t, "healthcheck", "--url", url); err == nil || IsUsage(err) {
		t.Fatalf("no server: %v, want a failure", err)
	}
	for _, bad := range [][]string{{"--url", "127.0.0.1:8050/healthz"}, {"--url", "ftp://x/"}, {"--timeout", "0s"}} {
		if _, _, err := runCLI(t, append([]string{"healthcheck"}, bad...)...); err == nil || !IsUsage(err) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
}
