package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// TestBatchSpans runs a processor with an in-memory span exporter and
// checks the tree of every batch: a shopstream.batch root with poll,
// process children and a write per writer, the store's commit under each
// write, all in the batch's trace, and the roots' record counts adding up to what was
// committed.
func TestBatchSpans(t *testing.T) {
	brokers := embedded(t)
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	want := produce(t, brokers, 600, 0)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	cfg := pipeline.Config{Brokers: brokers, Store: st, Group: "traced", Logger: quiet, MaxBatch: 100,
		Tracer: tp.Tracer("test"), KafkaOpts: []kgo.Opt{kgo.SessionTimeout(6 * time.Second)}}
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "every record committed", func() bool {
		s := p.Stats()
		return s.Stored+s.Quarantined == int64(want.good+want.bad)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	spans := exp.GetSpans()
	byID := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID().String()] = s
	}
	children := map[string]map[string]int{} // parent span id -> child name -> count
	var roots []tracetest.SpanStub
	for _, s := range spans {
		if !s.Parent.IsValid() {
			if s.Name != "shopstream.batch" {
				t.Fatalf("root span %q, want only shopstream.batch roots", s.Name)
			}
			roots = append(roots, s)
			continue
		}
		parent, ok := byID[s.Parent.SpanID().String()]
		if !ok {
			t.Fatalf("span %q has a parent that was not exported", s.Name)
		}
		if parent.SpanContext.TraceID() != s.SpanContext.TraceID() {
			t.Fatalf("span %q is in another trace than its parent", s.Name)
		}
		if children[parent.SpanContext.SpanID().String()] == nil {
			children[parent.SpanContext.SpanID().String()] = map[string]int{}
		}
		children[parent.SpanContext.SpanID().String()][s.Name]++
		if s.EndTime.Before(s.StartTime) {
			t.Fatalf("span %q ends before it starts", s.Name)
		}
	}
	if len(roots) == 0 {
		t.Fatal("no batch was traced")
	}
	records := 0
	for _, r := range roots {
		c := children[r.SpanContext.SpanID().String()]
		// One write per writer the batch's partitions went to.
		if c["poll"] != 1 || c["process"] != 1 || c["write"] < 1 || len(c) != 3 {
			t.Fatalf("batch span children = %v, want one poll, one process and writes", c)
		}
		for _, a := range r.Attributes {
			if a.Key == "records" {
				records += int(a.Value.AsInt64())
			}
		}
	}
	for _, s := range spans {
		if s.Name == "write" {
			if c := children[s.SpanContext.SpanID().String()]; c["commit"] != 1 {
				t.Fatalf("write span children = %v, want one commit", c)
			}
		}
		// The commit is the store transaction's, timed within its write.
		if s.Name == "commit" {
			w := byID[s.Parent.SpanID().String()]
			if w.Name != "write" || s.StartTime.Before(w.StartTime) || s.EndTime.After(w.EndTime) || s.InstrumentationScope.Name != "github.com/shopstream/shopstream/internal/store/sqlstore" {
				t.Fatalf("commit span %v..%v (%s) under %q %v..%v: want the store's commit within its write", s.StartTime, s.EndTime, s.InstrumentationScope.Name, w.Name, w.StartTime, w.EndTime)
			}
		}
	}
	if records != want.good+want.bad {
		t.Fatalf("batch spans carry %d records, %d were committed", records, want.good+want.bad)
	}
}
