package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/loadtest"
)

// runLoadtest is `shopstream loadtest`: the read API and POST
// /api/v1/score at a fixed rate while the pipeline runs, then past the
// rate limiter (docs/operations.md).
func runLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadtest", stderr)
	addr := fs.String("addr", "127.0.0.1:8050", "the running shopstream run, serve or process --addr to load (127.0.0.0/8 only)")
	start := fs.Bool("start", false, "start shopstream run in this process on a free loopback port with an empty data directory, and load it (instead of --addr)")
	txRate := fs.Float64("tx-rate", 1000, "with --start: transactions per second the started pipeline generates")
	customers := fs.Int("customers", 100_000, "with --start: customers of the started pipeline's synthetic shop")
	startToken := fs.Bool("start-token", true, "with --start: create an analyst token in the started pipeline's store and send it, so that every request is checked as on a server open to others (false: no token, loopback requests pass unchecked)")
	token := fs.String("token", "", "API token sent as a bearer token (analyst or admin, for POST /api/v1/score); none for a loopback server without tokens")
	tokenFile := fs.String("token-file", "", "`file` holding the API token (instead of --token)")
	reqRate := fs.Float64("rate", 1000, "requests per second during the load phase, over all routes")
	duration := fs.Duration("duration", time.Minute, "length of the load phase")
	maxReq := fs.Int("max-requests", 0, "stop the load phase after this many requests (default: rate × duration)")
	overRate := fs.Float64("over-rate", 0, "requests per second of the overload phase, which must draw 429s from the rate limiter (default: 4 × --rate)")
	overDuration := fs.Duration("over-duration", 5*time.Second, "length of the overload phase (0 = skip it)")
	maxLag := fs.Int64("max-lag", 10_000, "largest pipeline lag, in records, that /readyz may report during the run")
	maxInFlight := fs.Int("max-in-flight", 512, "requests waiting for an answer at most; one more is counted as dropped")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit of one request")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process during the load phase to this `file` (go tool pprof); with --start it holds the server and the pipeline too")
	var lf logFlags
	lf.register(fs, "error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *reqRate <= 0 || *reqRate > 20_000:
		return usageError{fmt.Errorf("invalid value %v for flag -rate: want above 0 and at most 20000", *reqRate)}
	case *duration <= 0 || *duration > 10*time.Minute:
		return usageError{fmt.Errorf("invalid value %v for flag -duration: want above 0 and at most 10m", *duration)}
	case *overDuration < 0 || *overDuration > time.Minute:
		return usageError{fmt.Errorf("invalid value %v for flag -over-duration: want 0 to 1m", *overDuration)}
	case *overRate < 0 || *overRate > 50_000:
		return usageError{fmt.Errorf("invalid value %v for flag -over-rate: want 0 to 50000", *overRate)}
	case *maxReq < 0 || *maxReq > 2_000_000:
		return usageError{fmt.Errorf("invalid value %d for flag -max-requests: want 0 to 2000000", *maxReq)}
	case *maxInFlight < 1 || *maxInFlight > 10_000:
		return usageError{fmt.Errorf("invalid value %d for flag -max-in-flight: want 1 to 10000", *maxInFlight)}
	case *timeout <= 0:
		return usageError{fmt.Errorf("invalid value %v for flag -timeout: must be above 0", *timeout)}
	case *maxLag < 0:
		return usageError{fmt.Errorf("invalid value %d for flag -max-lag: must not be negative", *maxLag)}
	case *start && (*txRate <= 0 || *customers < 1):
		return usageError{fmt.Errorf("flags -tx-rate and -customers must be above 0")}
	case *token != "" && *tokenFile != "":
		return usageError{errors.New("flags -token and -token-file: give one, not both")}
	}
	if *overRate == 0 {
		*overRate = 4 * *reqRate
	}
	bearer := *token
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return usageError{fmt.Errorf("flag -token-file: %w", err)}
		}
		bearer = strings.TrimSpace(string(b))
	}
	base := "http://" + *addr
	if !*start {
		if err := loadtest.CheckLoopback(base); err != nil {
			return usageError{fmt.Errorf("invalid value %q for flag -addr: %v", *addr, err)}
		}
	}
	if _, err := lf.logger(stderr); err != nil {
		return err
	}

	if *start {
		// The started server's limit per address sits above the load
		// phase's rate (burst twice that) and below the overload's.
		limit := 1.5 * *reqRate
		stop, url, tok, err := startRun(ctx, stderr, *startToken, []string{"--addr", "127.0.0.1:0", "--rate", fmtFloat(*txRate), "--customers", strconv.Itoa(*customers),
			"--history", "0", "--rate-limit-addr", fmtFloat(limit), "--rate-limit-token", fmtFloat(limit), "--log-level", lf.level})
		if err != nil {
			return err
		}
		defer stop()
		base = url
		if tok != "" && bearer == "" {
			bearer = tok
		}
		fmt.Fprintf(stdout, "started shopstream run at %s: %.0f transactions/s, rate limit %.0f requests/s per address and per token (burst %.0f)", base, *txRate, limit, 2*limit)
		if tok != "" {
			fmt.Fprint(stdout, "; requests carry an analyst token")
		}
		fmt.Fprintln(stdout)
	}
	client := loadtest.NewClient(*maxInFlight, *timeout)
	if err := waitReady(ctx, client, base, time.Minute); err != nil {
		return err
	}
	bodies, err := scoreBodies(512)
	if err != nil {
		return err
	}
	targets := []loadtest.Target{
		{Name: "GET /api/v1/summary", Method: "GET", Path: "/api/v1/summary"},
		{Name: "GET /api/v1/windows", Method: "GET", Path: "/api/v1/windows"},
		{Name: "GET /api/v1/alerts", Method: "GET", Path: "/api/v1/alerts?limit=20"},
		{Name: "GET /api/v1/segments", Method: "GET", Path: "/api/v1/segments"},
		{Name: "GET /api/v1/cohorts", Method: "GET", Path: "/api/v1/cohorts"},
		{Name: "POST /api/v1/score", Method: "POST", Path: "/api/v1/score", Bodies: bodies},
	}
	cfg := loadtest.Config{BaseURL: base, Token: bearer, Targets: targets, Rate: *reqRate, Duration: *duration, MaxRequests: *maxReq,
		MaxInFlight: *maxInFlight, Timeout: *timeout, Client: client}
	fmt.Fprintf(stdout, "load: %.0f requests/s for %s over %d routes against %s\n", *reqRate, *duration, len(targets), base)
	stopProfile := func() {}
	if *cpuProfile != "" {
		if stopProfile, err = startCPUProfile(*cpuProfile); err != nil {
			return usageError{err}
		}
	}
	load, err := loadtest.Run(ctx, cfg)
	stopProfile()
	if err != nil {
		return err
	}
	var failures []string
	printPhase(stdout, load)
	lp := loadtest.Summarize(load.Pipeline)
	printPipeline(stdout, lp)
	if load.Errors > 0 || load.Dropped > 0 || load.Throttled > 0 {
		failures = append(failures, fmt.Sprintf("load phase: %d errors, %d answered 429, %d dropped (want none)", load.Errors, load.Throttled, load.Dropped))
	}
	failures = append(failures, pipelineFailures("load phase", lp, *maxLag)...)

	if *overDuration > 0 {
		over := cfg
		over.Rate, over.Duration, over.MaxRequests = *overRate, *overDuration, 0
		fmt.Fprintf(stdout, "\noverload: %.0f requests/s for %s, past the rate limiter\n", *overRate, *overDuration)
		res, err := loadtest.Run(ctx, over)
		if err != nil {
			return err
		}
		printPhase(stdout, res)
		op := loadtest.Summarize(res.Pipeline)
		printPipeline(stdout, op)
		switch {
		case res.Throttled == 0:
			failures = append(failures, fmt.Sprintf("overload: no 429 at %.0f requests/s: is the server's --rate-limit-addr (or --rate-limit-token) below that?", *overRate))
		case res.NoRetryAfter > 0:
			failures = append(failures, fmt.Sprintf("overload: %d of %d answers 429 came without a Retry-After of at least 1 s", res.NoRetryAfter, res.Throttled))
		}
		// Requests the client dropped (max-in-flight reached) are part of
		// exceeding the server: reported, not failed.
		if res.Errors > 0 {
			failures = append(failures, fmt.Sprintf("overload: %d errors other than 429", res.Errors))
		}
		failures = append(failures, pipelineFailures("overload", op, *maxLag)...)
	}
	if len(failures) > 0 {
		fmt.Fprintln(stdout, "\nFAIL")
		return fmt.Errorf("loadtest: %s", strings.Join(failures, "; "))
	}
	fmt.Fprintln(stdout, "\nPASS: no errors under load, every 429 with Retry-After, pipeline ready with its lag bounded throughout")
	return nil
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func printPhase(w io.Writer, r loadtest.Result) {
	fmt.Fprintf(w, "%d requests in %s (%.0f/s sent), %d errors, %d answered 429 (%d without Retry-After), %d dropped by the client\n",
		r.Sent, r.Elapsed.Round(time.Millisecond), float64(r.Sent)/r.Elapsed.Seconds(), r.Errors, r.Throttled, r.NoRetryAfter, r.Dropped)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ROUTE\tREQUESTS\tOK\t429\tERRORS\tP50\tP99\tMAX\t")
	for _, rt := range r.Routes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", rt.Name, rt.Requests, rt.OK, rt.Throttled, rt.Errors,
			ms(rt.P50), ms(rt.P99), ms(rt.Max))
	}
	tw.Flush()
	for _, rt := range r.Routes {
		if rt.FirstError != "" {
			fmt.Fprintf(w, "  %s: first error: %s\n", rt.Name, rt.FirstError)
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func printPipeline(w io.Writer, p loadtest.PipelineSummary) {
	if !p.HasProcessor {
		fmt.Fprintf(w, "pipeline: /readyz ready in %d of %d readings; it reports no processor (serve), so no lag\n", p.Ready, p.Samples)
		return
	}
	fmt.Fprintf(w, "pipeline: /readyz ready in %d of %d readings; lag at most %d records, %d at the end; %d records committed meanwhile\n",
		p.Ready, p.Samples, p.MaxLag, p.LastLag, p.Progress)
}

func pipelineFailures(phase string, p loadtest.PipelineSummary, maxLag int64) []string {
	var out []string
	if p.Ready < p.Samples {
		out = append(out, fmt.Sprintf("%s: the pipeline was not ready in %d of %d readings (%s)", phase, p.Samples-p.Ready, p.Samples, p.FirstProblem))
	}
	if p.HasProcessor && p.MaxLag > maxLag {
		out = append(out, fmt.Sprintf("%s: lag reached %d records, above --max-lag %d", phase, p.MaxLag, maxLag))
	}
	return out
}

// waitReady waits until /readyz answers ready, or timeout passes.
func waitReady(ctx context.Context, cl *http.Client, base string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		s := loadtest.ReadReady(ctx, cl, base)
		if s.Ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loadtest: %s/readyz not ready after %s: %s", base, timeout, s.Err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// scoreBodies are n valid transactions of the synthetic shop, for POST
// /api/v1/score.
func scoreBodies(n int) ([][]byte, error) {
	g, err := generate.New(generate.Config{Seed: 7, Customers: 10_000, Products: 500, FraudRate: 0.01})
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-time.Minute)
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.NextAt(now.Add(time.Duration(i) * time.Millisecond)).Value
	}
	return out, nil
}

var runningURL = regexp.MustCompile(`shopstream is running: dashboard on (http://127\.0\.0\.1:\d+)`)

// startRun starts `shopstream run` with args in this process, on a new
// data directory, and returns its URL and a function that stops it and
// removes the directory.
func startRun(ctx context.Context, stderr io.Writer, withToken bool, args []string) (stop func(), url, token string, err error) {
	dir, err := os.MkdirTemp("", "shopstream-loadtest-")
	if err != nil {
		return nil, "", "", err
	}
	if withToken {
		var out bytes.Buffer
		if err := runToken(ctx, []string{"create", "--data-dir", dir, "--role", "analyst", "--name", "loadtest"}, &out, stderr); err != nil {
			os.RemoveAll(dir)
			return nil, "", "", fmt.Errorf("loadtest --start: creating a token: %w", err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		token = lines[len(lines)-1]
	}
	runCtx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := runAll(runCtx, append([]string{"--data-dir", dir}, args...), pw, stderr)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := runningURL.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	stop = func() {
		cancel()
		<-done
		os.RemoveAll(dir)
	}
	select {
	case url = <-found:
		return stop, url, token, nil
	case err := <-done:
		os.RemoveAll(dir)
		cancel()
		if err == nil {
			err = errors.New("it stopped before serving")
		}
		return nil, "", "", fmt.Errorf("loadtest --start: shopstream run: %w", err)
	case <-ctx.Done():
		stop()
		return nil, "", "", ctx.Err()
	}
}
