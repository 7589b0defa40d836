package detector_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openSQLite(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newDetector(t testing.TB) *detector.Detector {
	t.Helper()
	d, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// shop feeds the synthetic shop's records into a store the way the
// pipeline does, without Kafka: quality checks, a partition scorer per
// partition (by customer), labels, alerts, offsets, one batch at a time.
type shop struct {
	tb      testing.TB
	st      store.Store
	det     *detector.Detector
	gen     *generate.Generator
	parts   int32
	scorers map[int32]pipeline.Scorer
	offsets map[int32]int64
	qc      quality.Config
	dedup   *quality.Dedup
	fraud   int
}

func newShop(tb testing.TB, st store.Store, det *detector.Detector, seed int64, parts int32) *shop {
	tb.Helper()
	gen, err := generate.New(generate.Config{Seed: seed})
	if err != nil {
		tb.Fatal(err)
	}
	return &shop{tb: tb, st: st, det: det, gen: gen, parts: parts, scorers: map[int32]pipeline.Scorer{},
		offsets: map[int32]int64{}, qc: quality.Config{}.WithDefaults(), dedup: quality.NewDedup(1 << 16)}
}

func (s *shop) partition(key []byte) int32 {
	h := fnv.New32a()
	h.Write(key)
	return int32(h.Sum32() % uint32(s.parts))
}

// feed writes n generated records in batches of 2,000.
func (s *shop) feed(n int) {
	s.tb.Helper()
	for n > 0 {
		k := min(n, 2000)
		n -= k
		parts := map[int32]*store.Part{}
		for range k {
			rec := s.gen.Next()
			p := s.partition(rec.Key)
			part := parts[p]
			if part == nil {
				part = &store.Part{Partition: p, From: s.offsets[p]}
				parts[p] = part
			}
			off := s.offsets[p]
			s.offsets[p]++
			part.To = s.offsets[p]
			var t event.Transaction
			fail := s.qc.Decode(rec.Value, time.Now(), &t)
			if fail == nil {
				fail = s.dedup.Check(t.TransactionID)
			}
			if fail != nil {
				part.Quarantined = append(part.Quarantined, store.Quarantined{Reason: string(fail.Reason), Detail: fail.Detail,
					Raw: rec.Value, Partition: p, Offset: off})
				continue
			}
			sc := s.scorers[p]
			if sc == nil {
				sc = s.det.NewPartitionScorer(p)
				s.scorers[p] = sc
			}
			row := pipeline.NewTx(&t, p, off, rec.EventTime, rec.Value)
			sc.Score(&t, &row)
			part.Txs = append(part.Txs, row)
			part.Labels = append(part.Labels, store.Label{TransactionID: t.TransactionID, Fraud: rec.Fraud, Scenario: rec.Scenario})
			if rec.Fraud {
				s.fraud++
			}
			if row.Decision != "approve" {
				part.Alerts = append(part.Alerts, store.Alert{TransactionID: row.TransactionID, CustomerID: row.CustomerID,
					EventTime: row.EventTime, Risk: row.Risk, Decision: row.Decision, ReasonsJSON: row.ReasonsJSON, AmountCents: row.TotalCents})
			}
		}
		b := &store.Batch{Group: "shopstream", Topic: "transactions"}
		for p := range s.parts {
			if part := parts[p]; part != nil {
				b.Parts = append(b.Parts, *part)
			}
		}
		if err := s.st.WriteBatch(context.Background(), b); err != nil {
			s.tb.Fatalf("writing a batch of %d records: %v", k, err)
		}
	}
}

// clock is a settable clock for the trainer.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func versions(t *testing.T, f store.Fraud) string {
	t.Helper()
	ms, err := f.FraudModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := ""
	for i, m := range ms {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%d:%s", m.Version, m.Status)
	}
	return s
}

func TestTrainerSchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	det := newDetector(t)
	clk := &clock{now: time.Now()}
	tr, err := detector.NewTrainer(det, st, detector.TrainConfig{Now: clk.Now, Logger: quiet, MinRows: 250})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing stored: a check does nothing, training on demand says why.
	if err := tr.Step(ctx); err != nil {
		t.Fatalf("step on an empty store: %v", err)
	}
	if _, err := tr.TrainOnce(ctx); !errors.Is(err, detector.ErrNotEnoughRows) {
		t.Fatalf("training on an empty store: %v, want ErrNotEnoughRows", err)
	}

	shop := newShop(t, st, det, 7, 2)
	shop.feed(6_000) // one in 16 keeps its vector: about 350 training vectors
	if err := tr.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, st); got != "1:active" {
		t.Fatalf("after the first check: %s, want 1:active (no active model yet)", got)
	}
	m, err := st.FraudModel(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var tm detector.TrainMetrics
	if err := json.Unmarshal(m.Metrics, &tm); err != nil {
		t.Fatalf("metrics %s: %v", m.Metrics, err)
	}
	if tm.Rows < 250 || tm.Seed != 2 || !tm.TrainedAt.Equal(clk.Now().UTC()) || tm.Evaluation == nil {
		t.Fatalf("metrics = %s", m.Metrics)
	}
	ev := tm.Evaluation
	if ev.Fraud == 0 || ev.CurrentVersion != 0 || ev.Candidate.PRAUC == nil || *ev.Candidate.PRAUC < 0.5 ||
		ev.Candidate.Recall == nil || *ev.Candidate.Recall < 0.8 {
		t.Fatalf("evaluation = %+v in %s", ev, m.Metrics)
	}
	t.Logf("version 1: %s", m.Metrics)

	// Not due again until the interval has passed.
	clk.Add(14 * time.Minute)
	if err := tr.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, st); got != "1:active" {
		t.Fatalf("before the interval: %s", got)
	}
	clk.Add(2 * time.Minute)
	if err := tr.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, st); got != "2:shadow 1:active" {
		t.Fatalf("after the interval: %s, want a shadow", got)
	}

	// Another instance leads: nothing happens, however due.
	clk.Add(time.Hour)
	release, ok, err := st.TryLead(ctx, "fraud-train")
	if err != nil || !ok {
		t.Fatalf("TryLead: %v %v", ok, err)
	}
	if err := tr.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, st); got != "2:shadow 1:active" {
		t.Fatalf("while another instance leads: %s", got)
	}
	release()
	if err := tr.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, st); got != "3:shadow 2:retired 1:active" {
		t.Fatalf("after the leader let go: %s", got)
	}

	// The retention job deletes the retired version 2: the next version
	// is 4 all the same, grown with the seed of version 4 (Seed + v), not
	// of the number of versions left.
	if n, err := st.PruneModels(ctx, clk.Now().Add(time.Hour), 0, 10); err != nil || n != 1 {
		t.Fatalf("pruned %d model versions, %v; want the retired one", n, err)
	}
	clk.Add(time.Hour)
	if err := tr.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, st); got != "4:shadow 3:retired 1:active" {
		t.Fatalf("after pruning and training again: %s", got)
	}
	if m, err = st.FraudModel(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m.Metrics, &tm); err != nil || tm.Seed != 5 {
		t.Fatalf("version 4 grown with seed %d (%v), want 5 (Seed 1 + version 4)", tm.Seed, err)
	}
}

func TestTrainerRun(t *testing.T) {
	t.Parallel()
	st := openSQLite(t)
	det := newDetector(t)
	newShop(t, st, det, 3, 1).feed(6_000)
	tr, err := detector.NewTrainer(det, st, detector.TrainConfig{CheckInterval: 10 * time.Millisecond, MinRows: 250, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for versions(t, st) != "1:active" {
		if time.Now().After(deadline) {
			t.Fatalf("no model trained by Run: %q", versions(t, st))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestTrainConfigValidate(t *testing.T) {
	t.Parallel()
	for _, cfg := range []detector.TrainConfig{
		{MinRows: 1},
		{MinRows: 100, SampleRows: 50},
		{AutoPromoteAfter: -time.Second},
		{PromoteTolerance: 2},
	} {
		if _, err := detector.NewTrainer(newDetector(t), nil, cfg); err == nil {
			t.Errorf("NewTrainer(%+v) accepted", cfg)
		}
	}
}

// TestJudgeShadow checks the auto-promotion policy on stored outcomes whose
// shadow risk ranks fraud worse, then better, than the risk acted on.
func TestJudgeShadow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	det := newDetector(t)
	clk := &clock{now: time.Now().Add(-time.Minute)}
	tr, err := detector.NewTrainer(det, st, detector.TrainConfig{Now: clk.Now, Logger: quiet, AutoPromoteAfter: time.Hour,
		ShadowSettle: time.Nanosecond, MinShadowFraud: 10})
	if err != nil {
		t.Fatal(err)
	}
	save := func(status string) int {
		v, err := st.SaveFraudModel(ctx, store.FraudModel{Status: status, Params: []byte("x"), CreatedAt: clk.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// write stores 400 transactions, 40 of them fraud; the risk acted on
	// ranks every fraud first, the shadow's ranks them by good.
	offset := int64(0)
	write := func(good bool) {
		var part store.Part
		part.From = offset
		for i := range 400 {
			fraud := i%10 == 0
			id := fmt.Sprintf("j%d-%d", offset, i)
			tx := store.Tx{TransactionID: id, CustomerID: "c", EventTime: time.Now(), Currency: "EUR", ItemsJSON: []byte("[]"),
				ReasonsJSON: []byte("[]"), Decision: "approve", Offset: offset, Risk: 0.1, ShadowRisk: 0.2, HasShadow: true}
			if fraud {
				tx.Risk, tx.Decision = 0.5, "review"
				if good {
					tx.ShadowRisk = 0.6
				} else {
					tx.ShadowRisk = float64(i%7) / 10
				}
			}
			part.Txs = append(part.Txs, tx)
			part.Labels = append(part.Labels, store.Label{TransactionID: id, Fraud: fraud})
			offset++
		}
		part.To = offset
		if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{part}}); err != nil {
			t.Fatal(err)
		}
	}

	save(store.StatusActive)
	if j, err := tr.JudgeShadow(ctx); err != nil || j != nil {
		t.Fatalf("judging without a shadow: %+v, %v", j, err)
	}
	bad := save(store.StatusShadow)
	write(false)
	if j, err := tr.JudgeShadow(ctx); err != nil || j != nil {
		t.Fatalf("judging before the shadow period: %+v, %v", j, err)
	}
	clk.Add(time.Hour)
	j, err := tr.JudgeShadow(ctx)
	if err != nil || j == nil {
		t.Fatalf("judging a worse shadow: %+v, %v", j, err)
	}
	if j.Promoted || j.Version != bad || j.Rows != 400 || j.Fraud != 40 || !(j.ShadowPR < j.ActivePR) {
		t.Fatalf("worse shadow judged %+v", j)
	}
	if got := versions(t, st); got != "2:retired 1:active" {
		t.Fatalf("after judging a worse shadow: %s", got)
	}

	// A better shadow, judged only on what it scored: the rows of the
	// retired one are older than its shadow period.
	clk.now = time.Now()
	good := save(store.StatusShadow)
	time.Sleep(2 * time.Millisecond) // rows stored from now on are the shadow's
	clk.Add(30 * time.Minute)
	if j, err := tr.JudgeShadow(ctx); err != nil || j != nil {
		t.Fatalf("judging with no rows scored by the shadow: %+v, %v", j, err)
	}
	write(true)
	clk.Add(time.Hour)
	j, err = tr.JudgeShadow(ctx)
	if err != nil || j == nil || !j.Promoted || j.Version != good || j.Rows != 400 {
		t.Fatalf("judging a better shadow: %+v, %v", j, err)
	}
	if got := versions(t, st); got != "3:active 2:retired 1:retired" {
		t.Fatalf("after promoting a better shadow: %s", got)
	}
	m, _ := st.FraudModel(ctx, good)
	if m.Note == "" {
		t.Fatalf("promotion left no note: %+v", m)
	}
	t.Logf("note: %s", m.Note)
}
