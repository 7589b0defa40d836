package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", u, err)
	}
	resp, err := http.DefaultClient.Do(req)
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
