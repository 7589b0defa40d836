package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/tlstest"
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

// TestHealthcheckTLS probes a server that serves TLS, as `serve
// --tls-cert` does: by 127.0.0.1 with the server's CA (-ca), and by a name
// other than the URL's (-server-name). Without the CA, or with a name the
// certificate does not carry, the probe fails.
func TestHealthcheckTLS(t *testing.T) {
	certs := tlstest.New(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"ok":true}`)) }))
	srv.TLS = certs.ServerConfig(t, false)
	srv.StartTLS()
	defer srv.Close()
	url := srv.URL + "/healthz" // https://127.0.0.1:PORT
	if out, _, err := runCLI(t, "healthcheck", "--url", url, "--ca", certs.CAFile); err != nil || !strings.Contains(out, "200 OK") {
		t.Fatalf("with -ca: %v, %q", err, out)
	}
	if out, _, err := runCLI(t, "healthcheck", "--url", url, "--ca", certs.CAFile, "--server-name", "localhost"); err != nil || !strings.Contains(out, "200 OK") {
		t.Fatalf("with -ca and -server-name localhost: %v, %q", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", url}, "certificate"},
		{[]string{"--url", url, "--ca", certs.OtherCAFile}, "certificate"},
		{[]string{"--url", url, "--ca", certs.CAFile, "--server-name", "shop.example"}, "shop.example"},
	} {
		if _, _, err := runCLI(t, append([]string{"healthcheck"}, c.args...)...); err == nil || IsUsage(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want a failed probe naming %q", c.args, err, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "http://127.0.0.1:1/healthz", "--ca", certs.CAFile}, "-ca and -server-name go with an https -url"},
		{[]string{"--url", url, "--ca", certs.ClientKey}, "-ca: " + certs.ClientKey + " holds no PEM certificate"},
		{[]string{"--url", url, "--ca", certs.Dir + "/missing.pem"}, "-ca:"},
	} {
		if _, _, err := runCLI(t, append([]string{"healthcheck"}, c.args...)...); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want a usage error with %q", c.args, err, c.want)
		}
	}
}
