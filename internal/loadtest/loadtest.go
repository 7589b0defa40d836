package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Target is one route of the mix.
type Target struct {
	// Name labels the route in the report, e.g. "GET /api/v1/summary".
	Name   string
	Method string
	// Path is the path and query, e.g. "/api/v1/alerts?limit=20".
	Path string
	// Bodies are sent in turn, as JSON; none for a GET.
	Bodies [][]byte
}

// Config is one phase of a load test.
type Config struct {
	// BaseURL is the server, e.g. http://127.0.0.1:8050; its host must be
	// a 127.0.0.0/8 address (CheckLoopback).
	BaseURL string
	// Token, when set, is sent as a bearer token.
	Token string
	// Targets are requested in turn (round robin).
	Targets []Target
	// Rate is requests per second over all targets.
	Rate float64
	// Duration is how long the phase sends; MaxRequests bounds it too.
	Duration time.Duration
	// MaxRequests stops the phase early. Defaults to Rate × Duration.
	MaxRequests int
	// MaxInFlight bounds the requests waiting for an answer; one more is
	// dropped. Defaults to 512.
	MaxInFlight int
	// Timeout is one request's time limit. Defaults to 10 s.
	Timeout time.Duration
	// SampleEvery is how often /readyz is read. Defaults to 1 s.
	SampleEvery time.Duration
	// Client sends the requests. Defaults to a client keeping up to
	// MaxInFlight connections to the server.
	Client *http.Client
}

func (c *Config) withDefaults() error {
	if c.Rate <= 0 || c.Duration <= 0 {
		return fmt.Errorf("loadtest: rate %v and duration %v must be above 0", c.Rate, c.Duration)
	}
	if len(c.Targets) == 0 {
		return errors.New("loadtest: no targets")
	}
	if err := CheckLoopback(c.BaseURL); err != nil {
		return err
	}
	if c.MaxRequests <= 0 {
		c.MaxRequests = max(1, int(c.Rate*c.Duration.Seconds()))
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 512
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.SampleEvery <= 0 {
		c.SampleEvery = time.Second
	}
	if c.Client == nil {
		c.Client = NewClient(c.MaxInFlight, c.Timeout)
	}
	return nil
}

// NewClient is an HTTP client that keeps up to conns idle connections to
// one server, so a steady rate reuses them.
func NewClient(conns int, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = conns, conns
	return &http.Client{Transport: tr, Timeout: timeout}
}

// CheckLoopback refuses a base URL whose host is not an IPv4 address in
// 127.0.0.0/8 or "localhost" (taken as 127.0.0.1).
func CheckLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return fmt.Errorf("loadtest: %q is not a URL like http://127.0.0.1:8050", base)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return fmt.Errorf("loadtest: refusing to load %s: only 127.0.0.0/8 (loopback) addresses may be targeted", host)
	}
	return nil
}

// Result is what one phase measured.
type Result struct {
	// Sent is how many requests were sent; Dropped how many were not,
	// because MaxInFlight requests were waiting.
	Sent, Dropped int
	// Elapsed is from the first request to the last answer.
	Elapsed time.Duration
	// Routes are the targets' figures, in the order of Config.Targets.
	Routes []RouteResult
	// Throttled counts the 429 answers; NoRetryAfter those of them
	// without a Retry-After of at least one second.
	Throttled, NoRetryAfter int
	// Errors counts answers other than 2xx and 429, and failed requests.
	Errors int
	// Pipeline is /readyz sampled during the phase.
	Pipeline []Sample
}

// RouteResult is one target's figures. Latencies are of the 2xx answers.
type RouteResult struct {
	Name              string
	Requests, OK      int
	Throttled, Errors int
	P50, P99, Max     time.Duration
	Statuses          map[int]int
	FirstError        string
	latencies         []time.Duration
	noRetryAfter      int
}

// Sample is one reading of /readyz.
type Sample struct {
	At    time.Time
	Ready bool
	// Lag is the processor's lag in records (detail.lag), and Committed
	// the sum of its partitions' committed offsets; -1 when the server
	// reports no processor (serve).
	Lag, Committed int64
	// Err is why the reading failed, if it did.
	Err string
}

// Run sends cfg's requests at cfg.Rate until cfg.Duration passes or
// cfg.MaxRequests are sent, waits for the answers, and returns what it
// measured. It fails only when it cannot start (a bad Config) or ctx ends.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.withDefaults(); err != nil {
		return Result{}, err
	}
	res := Result{Routes: make([]RouteResult, len(cfg.Targets))}
	for i, t := range cfg.Targets {
		res.Routes[i] = RouteResult{Name: t.Name, Statuses: map[int]int{}}
	}
	var mu sync.Mutex // guards res.Routes and the counters below
	record := func(i int, status int, d time.Duration, retryAfter string, err error) {
		mu.Lock()
		defer mu.Unlock()
		r := &res.Routes[i]
		r.Requests++
		switch {
		case err != nil:
			r.Errors++
			if r.FirstError == "" {
				r.FirstError = err.Error()
			}
		case status == http.StatusTooManyRequests:
			r.Statuses[status]++
			r.Throttled++
			if s, err := strconv.Atoi(retryAfter); err != nil || s < 1 {
				r.noRetryAfter++
			}
		case status >= 200 && status < 300:
			r.Statuses[status]++
			r.OK++
			r.latencies = append(r.latencies, d)
		default:
			r.Statuses[status]++
			r.Errors++
			if r.FirstError == "" {
				r.FirstError = fmt.Sprintf("HTTP %d", status)
			}
		}
	}

	sampleCtx, stopSampling := context.WithCancel(ctx)
	samples := make(chan []Sample, 1)
	go func() { samples <- Watch(sampleCtx, cfg.Client, cfg.BaseURL, cfg.SampleEvery) }()

	sem := make(chan struct{}, cfg.MaxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	next := make([]int, len(cfg.Targets)) // each target's next body
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i := 0; i < cfg.MaxRequests; i++ {
		// Request i is due at start + i/Rate; a late loop sends at once
		// to catch up, so the count sent is the rate's.
		due := start.Add(time.Duration(i) * interval)
		if !due.Before(deadline) {
			break
		}
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		ti := i % len(cfg.Targets)
		t := cfg.Targets[ti]
		var body []byte
		if len(t.Bodies) > 0 {
			body = t.Bodies[next[ti]%len(t.Bodies)]
			next[ti]++
		}
		select {
		case sem <- struct{}{}:
		default:
			res.Dropped++
			continue
		}
		res.Sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			status, d, ra, err := send(ctx, cfg.Client, cfg.BaseURL, cfg.Token, t, body)
			record(ti, status, d, ra, err)
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	stopSampling()
	res.Pipeline = <-samples
	for i := range res.Routes {
		r := &res.Routes[i]
		slices.Sort(r.latencies)
		r.P50, r.P99 = percentile(r.latencies, 0.50), percentile(r.latencies, 0.99)
		if n := len(r.latencies); n > 0 {
			r.Max = r.latencies[n-1]
		}
		res.Throttled += r.Throttled
		res.NoRetryAfter += r.noRetryAfter
		res.Errors += r.Errors
	}
	return res, ctx.Err()
}

// percentile is the nearest-rank q-quantile of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// send makes one request and reads the whole answer.
func send(ctx context.Context, c *http.Client, base, token string, t Target, body []byte) (int, time.Duration, string, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, t.Method, base+t.Path, rd)
	if err != nil {
		return 0, 0, "", err
	}
	if body != nil || t.Method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, time.Since(start), "", err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), resp.Header.Get("Retry-After"), err
}

// Watch reads base's /readyz every interval until ctx ends, and returns
// the readings.
func Watch(ctx context.Context, c *http.Client, base string, every time.Duration) []Sample {
	var out []Sample
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		out = append(out, ReadReady(ctx, c, base))
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
	}
}

// ReadReady reads /readyz once.
func ReadReady(ctx context.Context, c *http.Client, base string) Sample {
	s := Sample{At: time.Now(), Lag: -1, Committed: -1}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	resp, err := c.Do(req)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer resp.Body.Close()
	var body struct {
		Ready   bool     `json:"ready"`
		Reasons []string `json:"reasons"`
		Detail  *struct {
			Lag        int64 `json:"lag"`
			Partitions []struct {
				Committed int64 `json:"committed"`
			} `json:"partitions"`
		} `json:"detail"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		s.Err = fmt.Sprintf("/readyz answered %d with no readable body: %v", resp.StatusCode, err)
		return s
	}
	s.Ready = body.Ready && resp.StatusCode == http.StatusOK
	if !s.Ready && len(body.Reasons) > 0 {
		s.Err = body.Reasons[0]
	}
	if d := body.Detail; d != nil {
		s.Lag, s.Committed = d.Lag, 0
		for _, p := range d.Partitions {
			s.Committed += max(p.Committed, 0)
		}
	}
	return s
}

// PipelineSummary condenses readings: how many were ready, the lag's
// largest and last values, and how far the committed offsets moved.
type PipelineSummary struct {
	Samples, Ready  int
	MaxLag, LastLag int64
	Progress        int64
	// HasProcessor is false when /readyz reports no processor.
	HasProcessor bool
	FirstProblem string
}

// Summarize condenses samples.
func Summarize(samples []Sample) PipelineSummary {
	var p PipelineSummary
	first, last := int64(-1), int64(-1)
	for _, s := range samples {
		p.Samples++
		if s.Ready {
			p.Ready++
		} else if p.FirstProblem == "" {
			p.FirstProblem = s.Err
		}
		if s.Lag >= 0 {
			p.HasProcessor = true
			p.MaxLag = max(p.MaxLag, s.Lag)
			p.LastLag = s.Lag
			if first < 0 {
				first = s.Committed
			}
			last = s.Committed
		}
	}
	if first >= 0 {
		p.Progress = last - first
	}
	return p
}
