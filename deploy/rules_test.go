package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/shopstream/shopstream/internal/cli"
)

// lineWriter collects output and hands the first line matching re to a
// channel.
type lineWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	re   *regexp.Regexp
	sent bool
	ch   chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := w.re.FindStringSubmatch(w.buf.String()); m != nil && !w.sent {
		w.sent = true
		w.ch <- m[1]
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// scrapeRun runs `shopstream run` (embedded broker, SQLite, web server on a
// free loopback port) until /metrics shows batches committed and the lag
// of its partitions, and returns that scrape as text and parsed families.
func scrapeRun(t *testing.T) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &lineWriter{re: regexp.MustCompile(`dashboard on (http://127\.0\.0\.1:\d+)`), ch: make(chan string, 1)}
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- cli.Run(ctx, []string{"run", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--customers", "2000",
			"--history", "2h", "--rate", "300", "--bad-rate", "0.05", "--analytics-interval", "0"}, stdout, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v\n%s", err, stderr.String())
		}
	}()
	var base string
	select {
	case base = <-stdout.ch:
	case err := <-done:
		t.Fatalf("run ended before serving: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	ready := regexp.MustCompile(`(?m)^shopstream_batches_total [1-9]`)
	lag := regexp.MustCompile(`(?m)^shopstream_consumer_lag_records\{`)
	quarantined := regexp.MustCompile(`(?m)^shopstream_quarantined_records_total\{`)
	// The label consumer starts beside the processor: its client's first
	// connection too.
	labels := regexp.MustCompile(`(?m)^shopstream_kafka_connects_total\{client="labels"`)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for range 600 { // bounded: a minute
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
		}
		text := string(body)
		if ready.MatchString(text) && lag.MatchString(text) && quarantined.MatchString(text) && labels.MatchString(text) {
			p := expfmt.NewTextParser(model.LegacyValidation)
			fams, err := p.TextToMetricFamilies(strings.NewReader(text))
			if err != nil {
				t.Fatalf("parsing /metrics: %v", err)
			}
			return text, fams
		}
		<-tick.C
	}
	t.Fatalf("no committed batch, partition lag, quarantined record and label consumer's connection in /metrics within a minute:\n%s", stderr.String())
	return "", nil
}

// TestMetricsRulesAndDashboard scrapes a real run and checks: the metric
// families the operations docs promise exist; shopstream's and the Kafka
// client's families pass promlint (the Prometheus naming conventions);
// the alerting rules parse as PromQL and use only metrics the run
// exposes; and so do the Grafana dashboard's queries.
func TestMetricsRulesAndDashboard(t *testing.T) {
	text, fams := scrapeRun(t)
	for _, name := range []string{
		"shopstream_consumer_records_total", "shopstream_consumer_lag_records", "shopstream_stage_duration_seconds",
		"shopstream_e2e_latency_seconds", "shopstream_batch_records", "shopstream_batch_write_seconds",
		"shopstream_pipeline_retries_total", "shopstream_pipeline_stalls_total", "shopstream_pipeline_stalled",
		"shopstream_errors_total", "shopstream_quarantined_records_total", "shopstream_fraud_decisions_total",
		"shopstream_outbox_pending_messages", "shopstream_outbox_oldest_pending_age_seconds", "shopstream_build_info",
		"shopstream_kafka_connects_total", "shopstream_kafka_fetch_records_total", "shopstream_records_lost_total",
		"shopstream_quality_score", "shopstream_writer_pending_batches", "shopstream_store_size_bytes",
		"shopstream_fraud_state_keys", "shopstream_fraud_state_bounded_total",
		// (not shopstream_analytics_fold_customers: this run's refresh is off)
		"shopstream_recommendations_counts_customers", "shopstream_recommendations_counts_pairs",
	} {
		if fams[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if f := fams["shopstream_stage_duration_seconds"]; f != nil {
		stages := map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "stage" {
					stages[l.GetValue()] = true
				}
			}
		}
		for _, s := range []string{"poll", "process", "write"} {
			if !stages[s] {
				t.Errorf("shopstream_stage_duration_seconds has no stage %q: %v", s, stages)
			}
		}
	}

	// Every Kafka client of a run reports franz-go's metrics (kprom),
	// labelled with its name.
	if f := fams["shopstream_kafka_connects_total"]; f != nil {
		for _, client := range []string{"consumer", "outbox", "labels"} {
			found := false
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					found = found || l.GetName() == "client" && l.GetValue() == client
				}
			}
			if !found {
				t.Errorf("shopstream_kafka_connects_total has no client=%q: its Kafka client reports no kprom metrics", client)
			}
		}
	}

	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	// Two gauges of franz-go's kprom plugin end in _total; their names are
	// the plugin's, kept so its documentation and dashboards apply.
	upstream := map[string]bool{"shopstream_kafka_buffered_fetch_records_total": true, "shopstream_kafka_buffered_produce_records_total": true}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "shopstream_") && !upstream[p.Metric] {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}

	family := func(name string) *dto.MetricFamily {
		if fams[name] != nil {
			return fams[name]
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suf); ok && fams[b] != nil && fams[b].GetType() == dto.MetricType_HISTOGRAM {
				return fams[b]
			}
		}
		return nil
	}
	exists := func(name string) bool { return family(name) != nil }
	// hasLabel reports whether a series of f carries label=value: what an
	// equality matcher of a rule or panel selects must be exposed.
	hasLabel := func(f *dto.MetricFamily, label, value string) bool {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return true
				}
			}
		}
		return false
	}
	// check parses expr and reports the shopstream metrics it selects
	// that the run does not expose.
	check := func(where, expr string) int {
		e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return 0
		}
		n := 0
		parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			n++
			if !exists(vs.Name) {
				t.Errorf("%s: metric %s is not in the /metrics of a run", where, vs.Name)
				return nil
			}
			for _, m := range vs.LabelMatchers {
				// instance and job are the scrape's labels, not the
				// process's.
				if m.Type != labels.MatchEqual || m.Name == "__name__" || m.Name == "instance" || m.Name == "job" {
					continue
				}
				if !hasLabel(family(vs.Name), m.Name, m.Value) {
					t.Errorf("%s: %s selects %s=%q, which no series of a run has", where, vs.Name, m.Name, m.Value)
				}
			}
			return nil
		})
		return n
	}

	var rules struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(read(t, "prometheus/alerts.yml"), &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Alert == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alerts.yml: rule %+v wants a name, a severity and a summary", r)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("alerts.yml: %s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if check("alerts.yml: "+r.Alert, r.Expr) == 0 {
				t.Errorf("alerts.yml: %s selects no metric", r.Alert)
			}
		}
	}
	for _, want := range []string{"ShopstreamPipelineStalled", "ShopstreamConsumerLagGrowing", "ShopstreamQualityScoreDrop", "ShopstreamOutboxBacklog"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("alerts.yml has no %s", want)
		}
	}
	var prom struct {
		RuleFiles []string `json:"rule_files"`
	}
	if err := yaml.Unmarshal(read(t, "prometheus/prometheus.yml"), &prom); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(prom.RuleFiles, "/etc/prometheus/alerts.yml") ||
		!strings.Contains(string(read(t, "docker-compose.yml")), "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro") {
		t.Errorf("prometheus.yml does not load alerts.yml as compose mounts it: %v", prom.RuleFiles)
	}

	dashboards, err := filepath.Glob("grafana/dashboards/*.json")
	if err != nil || len(dashboards) == 0 {
		t.Fatalf("grafana/dashboards: no dashboard (%v)", err)
	}
	for _, file := range dashboards {
		_, panels := dashboardPanels(t, file)
		for _, p := range panels {
			for _, tg := range p.Targets {
				// Grafana's variables stand for durations in range selectors.
				if check(file+": panel "+p.Title, strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h").Replace(tg.Expr)) == 0 {
					t.Errorf("%s: panel %q: query %q selects no metric", file, p.Title, tg.Expr)
				}
			}
		}
	}
}
