package detector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/web"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openPostgres(tb testing.TB) *postgres.Store {
	tb.Helper()
	st, err := postgres.Open(context.Background(), pgtest.URL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// producer writes the synthetic shop's records to the transactions topic
// with the label headers the generate command sets.
type producer struct {
	cl  *kgo.Client
	gen *generate.Generator
	n   int
}

func newProducer(t *testing.T, brokers []string, seed int64) *producer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(bus.TopicTransactions))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	gen, err := generate.New(generate.Config{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return &producer{cl: cl, gen: gen}
}

func (p *producer) produce(t *testing.T, n int) {
	t.Helper()
	recs := make([]*kgo.Record, 0, n)
	for range n {
		r := p.gen.Next()
		label := "legit"
		switch {
		case r.Bad != "":
			label = "bad"
		case r.Fraud:
			label = "fraud"
		}
		hs := []kgo.RecordHeader{{Key: pipeline.HeaderLabel, Value: []byte(label)}}
		if r.Scenario != "" {
			hs = append(hs, kgo.RecordHeader{Key: pipeline.HeaderScenario, Value: []byte(r.Scenario)})
		}
		recs = append(recs, &kgo.Record{Key: r.Key, Value: r.Value, Headers: hs})
	}
	if err := p.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p.n += n
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// committed waits until the store's offsets cover n records.
func committed(t *testing.T, st store.Store, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d records are committed", n), 3*time.Minute, func() bool {
		offs, err := st.Offsets(context.Background(), "shopstream", bus.TopicTransactions)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, o := range offs {
			sum += o
		}
		return sum >= int64(n)
	})
}

func post(t *testing.T, url string, want int, v any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d, want %d: %s", url, resp.StatusCode, want, raw)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("POST %s: %v in %s", url, err, raw)
		}
	}
}

func get(t *testing.T, url string, v any) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d: %s", url, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, raw)
	}
	return string(raw)
}

// TestModelLifecycleEndToEnd runs the whole loop on PostgreSQL: generated
// records through the embedded broker and the pipeline, scored by the live
// detector; the training job trains the first version (active, as there is
// none) and, an interval later, a second one as the shadow, which the
// watcher puts next to the active one; the API promotes it, switching the
// detector, and rolls back to the first; the live metrics report the
// recall against the generator's labels.
func TestModelLifecycleEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: -short")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openPostgres(t)
	broker, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	det := newDetector(t)
	clk := &clock{now: time.Now()}
	watcher := detector.NewModelWatcher(det, st, detector.WatchConfig{Interval: 50 * time.Millisecond, Logger: quiet})
	trainer, err := detector.NewTrainer(det, st, detector.TrainConfig{CheckInterval: 50 * time.Millisecond, MinRows: 1000,
		Now: clk.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// The generator's truth headers label the fraud at once: this test is
	// about the models, not the labels' delay.
	proc, err := pipeline.New(pipeline.Config{Brokers: broker.Addrs(), Store: st, Logger: quiet, MaxBatch: 2000, TruthHeaders: true,
		NewScorer: func(part int32) pipeline.Scorer { return det.NewPartitionScorer(part) },
		KafkaOpts: []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.RebalanceTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{proc.Run, watcher.Run, trainer.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("component stopped: %v", err)
			}
		}()
	}
	defer wg.Wait()
	defer cancel()

	srv, err := web.New(web.Config{Store: st, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterFraud(srv, web.FraudDeps{Store: st, Detector: det, Models: watcher})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	// Traffic until the first version is trained: active, as there is none.
	prod := newProducer(t, broker.Addrs(), 42)
	prod.produce(t, 25_000)
	committed(t, st, prod.n)
	waitUntil(t, "version 1 is trained and in use", time.Minute, func() bool { return inUse(det) == [2]int{1, 0} })

	// An interval later the job trains version 2 as the shadow.
	clk.Add(16 * time.Minute)
	waitUntil(t, "version 2 runs in shadow", time.Minute, func() bool { return inUse(det) == [2]int{1, 2} })
	prod.produce(t, 25_000)
	committed(t, st, prod.n)

	var models web.ModelsResponse
	get(t, ts.URL+"/api/v1/fraud/models", &models)
	if len(models.Models) != 2 || models.Models[0].Status != store.StatusShadow || models.Models[1].Status != store.StatusActive {
		t.Fatalf("models = %+v", models)
	}
	var tm detector.TrainMetrics
	if err := json.Unmarshal(models.Models[0].Metrics, &tm); err != nil || tm.Evaluation == nil || tm.Evaluation.CurrentVersion != 1 {
		t.Fatalf("version 2 metrics: %s (%v)", models.Models[0].Metrics, err)
	}
	t.Logf("version 2: trained on %d vectors; evaluated on %d labelled (%d fraud): PR-AUC %.4f, version 1 %.4f; metrics %s",
		tm.Rows, tm.Evaluation.Rows, tm.Evaluation.Fraud, *tm.Evaluation.Candidate.PRAUC, *tm.Evaluation.Current.PRAUC, models.Models[0].Metrics)

	// Promotion through the API switches this process at once.
	post(t, ts.URL+"/api/v1/fraud/models/2/promote", 200, &models)
	if det.Active() == nil || det.Active().Version != 2 || det.Shadow() != nil {
		t.Fatalf("after promoting version 2 the detector scores with %v", inUse(det))
	}
	post(t, ts.URL+"/api/v1/fraud/models/rollback", 200, &models)
	if det.Active() == nil || det.Active().Version != 1 {
		t.Fatalf("after the rollback the detector scores with %v", inUse(det))
	}
	if models.Models[0].Version != 2 || models.Models[0].Status != store.StatusRetired || !models.Models[0].RolledBack {
		t.Fatalf("version 2 after the rollback: %+v", models.Models[0])
	}

	var m web.FraudMetrics
	t.Logf("GET /api/v1/fraud/metrics?window=all: %s", get(t, ts.URL+"/api/v1/fraud/metrics?window=all", &m))
	var alerts web.AlertsResponse
	t.Logf("GET /api/v1/alerts?status=open&limit=1: %s", get(t, ts.URL+"/api/v1/alerts?status=open&limit=1", &alerts))
	// The synchronous score of the next generated transaction.
	rec := prod.gen.Next()
	resp, err := http.Post(ts.URL+"/api/v1/score", "application/json", bytes.NewReader(rec.Value))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /api/v1/score: %d %s", resp.StatusCode, raw)
	}
	t.Logf("POST /api/v1/score %s: %s", rec.Value, raw)
	if m.Recall == nil || m.Precision == nil || m.FPR == nil || m.PRAUC == nil {
		t.Fatalf("metrics = %+v", m)
	}
	t.Logf("live, all %d transactions (%d labelled, %d fraud): precision %.3f recall %.3f FPR %.4f PR-AUC %.3f ROC-AUC %.3f",
		m.Transactions, m.Labelled, m.Fraud, *m.Precision, *m.Recall, *m.FPR, *m.PRAUC, *m.ROCAUC)
	names := make([]string, 0, len(m.PerScenario))
	for n := range m.PerScenario {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := m.PerScenario[n]
		t.Logf("  %-16s fraud %4d recall %.3f", n, s.Fraud, *s.Recall)
	}
	if m.Shadow != nil {
		t.Logf("  shadow scored %d labelled (%d fraud): PR-AUC %.4f, active %.4f", m.Shadow.Rows, m.Shadow.Fraud, *m.Shadow.PRAUC, *m.Shadow.ActivePR)
	}
	if m.Fraud < 300 || *m.Recall < 0.85 || *m.FPR > 0.01 {
		t.Fatalf("live recall %.3f (FPR %.4f) on %d fraud; want >= 0.85 at FPR <= 1%%, near the offline 0.968", *m.Recall, *m.FPR, m.Fraud)
	}
	if m.Shadow == nil || m.Shadow.Rows < 10_000 {
		t.Fatalf("shadow figures = %+v, want the second batch scored by the shadow", m.Shadow)
	}
	var hour web.FraudMetrics
	get(t, ts.URL+"/api/v1/fraud/metrics", &hour)
	if hour.Window != "1h" || hour.Transactions == 0 || hour.Transactions >= m.Transactions {
		t.Fatalf("last hour: %d transactions of %d", hour.Transactions, m.Transactions)
	}
}

// BenchmarkScoreAPI drives POST /api/v1/score at a fixed 1,000 requests/s
// for 5 s (open loop: each request has its slot, and its latency counts
// from that slot, so a slow answer delays none of the following ones and
// queueing is measured) against an httptest server on loopback whose
// PostgreSQL store holds the history of 100,000 generated transactions.
// The posted transactions are the generator's next ones, so customers have
// their real histories.
//
//	go test ./internal/detector -run '^$' -bench ScoreAPI -benchtime 1x
func BenchmarkScoreAPI(b *testing.B) {
	const (
		history  = 100_000
		rate     = 1000
		duration = 5 * time.Second
		workers  = 64
	)
	st := openPostgres(b)
	det := newDetector(b)
	sh := newShop(b, st, det, 42, 4)
	sh.feed(history)
	// The model the pipeline would use, trained on that history.
	tr, err := detector.NewTrainer(det, st, detector.TrainConfig{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tr.TrainOnce(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := detector.NewModelWatcher(det, st, detector.WatchConfig{Logger: quiet}).Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	srv, err := web.New(web.Config{Store: st, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	web.RegisterFraud(srv, web.FraudDeps{Store: st, Detector: det})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	n := int(duration / time.Second * rate)
	bodies := make([][]byte, 0, n)
	qc := quality.Config{}.WithDefaults()
	for len(bodies) < n {
		rec := sh.gen.Next()
		var t event.Transaction
		if qc.Decode(rec.Value, time.Now(), &t) == nil {
			bodies = append(bodies, rec.Value)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers}}
	type job struct {
		body []byte
		slot time.Time
	}
	jobs := make(chan job, n)
	lat := make([]time.Duration, n)
	var (
		mu   sync.Mutex
		errs []error
		next int
		wg   sync.WaitGroup
	)
	do := func(j job) {
		resp, err := client.Post(ts.URL+"/api/v1/score", "application/json", bytes.NewReader(j.body))
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		d := time.Since(j.slot)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		}
		lat[next] = d
		next++
	}
	// Warm the connections and the statement cache.
	for i := range 200 {
		do(job{bodies[i%len(bodies)], time.Now()})
	}
	next, errs = 0, nil
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				do(j)
			}
		}()
	}
	b.ResetTimer()
	start := time.Now()
	for i, body := range bodies {
		slot := start.Add(time.Duration(i) * time.Second / rate)
		if d := time.Until(slot); d > 0 {
			time.Sleep(d)
		}
		jobs <- job{body, slot}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if len(errs) > 0 {
		b.Fatalf("%d of %d requests failed, first: %v", len(errs), n, errs[0])
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
	b.ReportMetric(0, "ns/op")
}
