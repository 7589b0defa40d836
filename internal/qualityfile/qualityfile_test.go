package qualityfile_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/qualityfile"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func write(t *testing.T, path, doc string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	if c, err := qualityfile.Load(""); err != nil || c != quality.Default() {
		t.Fatalf("Load(\"\") = %v, %v; want the default contract", c, err)
	}
	path := filepath.Join(t.TempDir(), "q.yaml")
	write(t, path, "checks: {quantity: {max: 7}}")
	c, err := qualityfile.Load(path)
	if err != nil || c.Spec().Checks.Quantity.Max != 7 {
		t.Fatalf("Load = %v, %v", c, err)
	}
	if _, err := qualityfile.Load(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Fatal("a missing file loaded")
	}
	write(t, path, "checks: {quantity: {max: -1}}")
	if _, err := qualityfile.Load(path); err == nil {
		t.Fatal("a bad contract loaded")
	}
}

// TestWatcherKeepsTheContractOnABadFile: a new version that does not parse
// is counted and the contract in force stays; the next good one applies.
func TestWatcherKeepsTheContractOnABadFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "q.yaml")
	write(t, path, "checks: {quantity: {max: 7}}")
	var applied []*quality.Contract
	reg := prometheus.NewRegistry()
	w, err := qualityfile.NewWatcher(qualityfile.Config{Path: path, Logger: quiet, Registerer: reg,
		Apply: func(c *quality.Contract) { applied = append(applied, c) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 1 || applied[0].Spec().Checks.Quantity.Max != 7 {
		t.Fatalf("NewWatcher applied %v", applied)
	}
	if w.Check() {
		t.Fatal("an unchanged file was applied again")
	}
	write(t, path, "checks: {quantity: {maxx: 8}}")
	if w.Check() || len(applied) != 1 {
		t.Fatal("a contract that does not parse was applied")
	}
	if w.Check() {
		t.Fatal("the bad version was looked at twice")
	}
	write(t, path, "checks: {quantity: {max: 9000}}")
	if !w.Check() || len(applied) != 2 || applied[1].Spec().Checks.Quantity.Max != 9000 {
		t.Fatalf("the good version was not applied: %d contracts", len(applied))
	}
	want := `
# HELP shopstream_quality_contract_reloads_total Re-reads of the data-quality contract file after it changed, by outcome (ok; error: kept the contract in force).
# TYPE shopstream_quality_contract_reloads_total counter
shopstream_quality_contract_reloads_total{outcome="error"} 1
shopstream_quality_contract_reloads_total{outcome="ok"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "shopstream_quality_contract_reloads_total"); err != nil {
		t.Fatal(err)
	}
	if _, err := qualityfile.NewWatcher(qualityfile.Config{Path: filepath.Join(t.TempDir(), "none"), Apply: func(*quality.Contract) {}}); err == nil {
		t.Fatal("NewWatcher accepted a missing file")
	}
}

// TestProcessorFollowsTheReloadedContract: records with a channel outside
// the contract are stored as "other" with a warning; after the file says
// to quarantine them, the next records are quarantined as unknown_channel.
func TestProcessorFollowsTheReloadedContract(t *testing.T) {
	t.Parallel()
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	path := filepath.Join(t.TempDir(), "quality.yaml")
	write(t, path, "checks: {channel: {action: warn, replace_with: other}}\n")
	reg := prometheus.NewRegistry()
	m := pipeline.NewMetrics(reg)
	var mu sync.Mutex
	reasons := map[string]int{}
	proc, err := pipeline.New(pipeline.Config{Brokers: b.Addrs(), Store: st, Group: "q", Logger: quiet, Metrics: m,
		KafkaOpts: []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.RebalanceTimeout(6 * time.Second)},
		OnCommit: func(b *store.Batch, _ time.Time) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range b.Parts {
				for _, q := range p.Quarantined {
					reasons[q.Reason]++
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := qualityfile.NewWatcher(qualityfile.Config{Path: path, Apply: proc.SetQuality, Logger: quiet, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("processor: %v", err)
		}
	})

	produce := func(from, n int) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic(bus.TopicTransactions))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			tx := event.Transaction{SchemaVersion: 1, TransactionID: fmt.Sprintf("T%06d", i), CustomerID: fmt.Sprintf("C%d", i%5),
				EventTime: time.Now().UTC().Add(-time.Minute), Items: []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: 500}},
				TotalCents: 500, Currency: "EUR", PaymentMethod: "card", DeviceID: "D1", IPAddress: "10.0.0.1",
				BillingCountry: "DE", ShippingCountry: "DE", Channel: "smart_tv"}
			raw, err := event.Marshal(&tx)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Key: []byte(tx.CustomerID), Value: raw})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	produce(0, 20)
	waitFor("20 records", func() bool { s := proc.Stats(); return s.Stored+s.Quarantined == 20 })
	if s := proc.Stats(); s.Stored != 20 {
		t.Fatalf("under the first contract: %+v, want all 20 stored", s)
	}
	if got := testutil.ToFloat64(m.QualityWarnings.WithLabelValues("channel")); got != 20 {
		t.Fatalf("shopstream_quality_warnings_total{check=channel} = %v, want 20", got)
	}
	if h := proc.Health(); h.QualityWarnings[quality.CheckChannel] != 20 {
		t.Fatalf("health quality warnings %v", h.QualityWarnings)
	}
	rows, err := st.Windows(context.Background(), store.Minute, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var other int64
	for _, r := range rows {
		if r.Channel == "smart_tv" {
			t.Fatalf("a window is keyed by the unknown channel: %+v", r)
		}
		if r.Channel == "other" {
			other += r.Count
		}
	}
	if other != 20 {
		t.Fatalf("%d records in the windows of channel other, want 20", other)
	}

	write(t, path, "checks:\n  channel: {action: quarantine}\n")
	if !w.Check() {
		t.Fatal("the changed file was not applied")
	}
	produce(20, 20)
	waitFor("40 records", func() bool { s := proc.Stats(); return s.Stored+s.Quarantined == 40 })
	if s := proc.Stats(); s.Stored != 20 || s.Quarantined != 20 {
		t.Fatalf("after the reload: %+v, want the next 20 quarantined", s)
	}
	// The processor counts a batch's records before it calls OnCommit:
	// wait for the callback of the batch that took the count to 40.
	waitFor("the commit callbacks of the 20 quarantined", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range reasons {
			n += c
		}
		return n >= 20
	})
	mu.Lock()
	defer mu.Unlock()
	if reasons[string(quality.UnknownChannel)] != 20 || len(reasons) != 1 {
		t.Fatalf("quarantined by reason %v, want 20 unknown_channel", reasons)
	}
}
