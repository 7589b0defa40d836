package bench

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store/pgtest"
)

// TestBareCopyCost checks the bare COPY's CPU figures: the test's
// PostgreSQL runs on this host, so its server's CPU is found beside this
// process's, and they are not more than the machine's cores could give in
// the time the COPY took (with a tick of /proc's 10 ms either side); on a
// server given by SHOPSTREAM_TEST_POSTGRES, which other test binaries may
// share, only this process's.
func TestBareCopyCost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := Config{PostgresURL: pgtest.URL(t), Records: 20_000, Customers: 2000, Batch: 5000}.withDefaults()
	recs, err := prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := rowsOf(cfg, recs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := bareCopy(ctx, cfg, rows, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.rate <= 0 || c.goUs <= 0 || c.pgUs <= 0 {
		t.Fatalf("bare COPY: %v rows/s, this process %v µs a row, PostgreSQL %v", c.rate, c.goUs, c.pgUs)
	}
	n := float64(cfg.Records)
	most := (float64(runtime.NumCPU())*n/c.rate + 2*0.01) / n * 1e6
	cpu := c.goUs + c.pgUs
	if os.Getenv("SHOPSTREAM_TEST_POSTGRES") != "" {
		cpu = c.goUs
	}
	if cpu > most {
		t.Errorf("bare COPY: %v + %v µs of CPU a row, more than %d cores give in its time (%v µs a row)",
			c.goUs, c.pgUs, runtime.NumCPU(), most)
	}
}
