package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// runHealthcheck is `shopstream healthcheck`: GET a health URL and exit 0
// on a 2xx answer, 1 otherwise. Container images without a shell or curl
// (distroless) probe the binary's own /healthz with it.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", stderr)
	target := fs.String("url", "http://127.0.0.1:8050/healthz", "health `URL` to GET: /healthz (alive, store answers) or /readyz (committing)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long the answer may take")
	quiet := fs.Bool("quiet", false, "print nothing on success")
	caFile := fs.String("ca", "", "PEM `file` of the certificates an https URL's server may chain to: its CA, or its own certificate (serve's --tls-cert file); default: the system's roots")
	serverName := fs.String("server-name", "", "the `name` the server's certificate must carry, where the URL names the server otherwise (https://127.0.0.1:8050/healthz probing a certificate made for shop.example.com); default: the URL's host")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	u, err := url.Parse(*target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Errorf("invalid value %q for flag -url: want http(s)://host:port/path", *target)}
	}
	if *timeout <= 0 {
		return usageError{fmt.Errorf("invalid value %v for flag -timeout: must be above 0", *timeout)}
	}
	client := http.DefaultClient
	if *caFile != "" || *serverName != "" {
		if u.Scheme != "https" {
			return usageError{fmt.Errorf("flags -ca and -server-name go with an https -url, not %s", u)}
		}
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: *serverName}
		if *caFile != "" {
			b, err := os.ReadFile(*caFile)
			if err != nil {
				return usageError{fmt.Errorf("flag -ca: %w", err)}
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(b) {
				return usageError{fmt.Errorf("flag -ca: %s holds no PEM certificate", *caFile)}
			}
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg
		client = &http.Client{Transport: tr}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", u, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("healthcheck %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	if !*quiet {
		fmt.Fprintf(stdout, "%s: %s\n", u, resp.Status)
	}
	return nil
}
