package pipeline_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// TestBrokerRestart stops the (persistent, embedded) broker while the
// processor is consuming and starts it again on the same address: the
// processor retries, resumes, and every record is stored exactly once.
func TestBrokerRestart(t *testing.T) {
	t.Parallel()
	addr, start := restartableBroker(t)
	b := start()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	brokers := []string{addr}
	want := produce(t, brokers, 2000, 0)
	p, stop := startProcessor(t, brokers, st, "g-restart", nil)
	waitFor(t, "the first records", func() bool { s := p.Stats(); return s.Stored+s.Quarantined > 0 })

	b.Close()
	time.Sleep(500 * time.Millisecond)
	b = start()
	defer b.Close()

	more := produce(t, brokers, 2000, 2000)
	want.good += more.good
	want.bad += more.bad
	want.cents += more.cents
	waitFor(t, "every record after the restart", func() bool { s := p.Stats(); return s.Stored+s.Quarantined >= 4000 })
	time.Sleep(200 * time.Millisecond)
	stop()
	if s := p.Stats(); s.Stored+s.Quarantined != 4000 {
		t.Fatalf("committed %d records, want exactly 4000", s.Stored+s.Quarantined)
	}
	checkTotals(t, st, want)
}

// TestHealthWithoutKafka: a processor whose brokers stop answering says
// so in its health (not ready, naming Kafka and the last error) once the
// stall timeout passes, and is ready again once they answer.
func TestHealthWithoutKafka(t *testing.T) {
	t.Parallel()
	addr, start := restartableBroker(t)
	b := start()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	brokers := []string{addr}
	produce(t, brokers, 500, 0)
	p, _ := startProcessorWith(t, pipeline.Config{Brokers: brokers, Store: st, Group: "g-health", StallTimeout: time.Second})
	waitFor(t, "the records stored", func() bool { s := p.Stats(); return s.Stored+s.Quarantined == 500 })
	if h := p.Health(); !h.Ready {
		t.Fatalf("not ready with Kafka answering: %v", h.Reasons)
	}
	b.Close()
	waitFor(t, "not ready, naming Kafka", func() bool {
		h := p.Health()
		return !h.Ready && slices.ContainsFunc(h.Reasons, func(r string) bool {
			return strings.HasPrefix(r, "no answer from Kafka for") && strings.Contains(r, addr)
		})
	})
	b = start()
	defer b.Close()
	waitFor(t, "ready again", func() bool { return p.Health().Ready })
}

// restartableBroker returns the address of a persistent embedded broker
// and a function that starts it there, again after a Close.
func restartableBroker(t *testing.T) (string, func() *bus.Embedded) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	return addr, func() *bus.Embedded {
		b, err := bus.StartEmbedded(bus.EmbeddedConfig{Addr: addr, DataDir: dir, Partitions: 4})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}
