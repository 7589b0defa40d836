package cli

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/store"
)

// storeSizeEvery is how long a reading of the store's size is reused: a
// scrape more often than that (Prometheus, the dashboard's sampler and a
// curl at once) asks the store at most once.
const storeSizeEvery = 15 * time.Second

const storeSizeHelp = "Bytes the store takes on disk: SQLite's database file with its -wal and -shm files, PostgreSQL's pg_database_size of its database; read at most every 15 s."

var storeSizeDesc = prometheus.NewDesc("shopstream_store_size_bytes", storeSizeHelp, nil, nil)

// storeSizeCollector is shopstream_store_size_bytes, read from the store
// at most every storeSizeEvery (a failed read too: a database that is down
// is asked again only then).
type storeSizeCollector struct {
	s     store.Size
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	at   time.Time
	size int64
	err  error
}

func newStoreSizeCollector(s store.Size) *storeSizeCollector {
	return &storeSizeCollector{s: s, every: storeSizeEvery, now: time.Now}
}

func (c *storeSizeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- storeSizeDesc }

func (c *storeSizeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); c.at.IsZero() || now.Sub(c.at) >= c.every {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.size, c.err = c.s.StoreSize(ctx)
		cancel()
		c.at = now
	}
	if c.err != nil {
		ch <- prometheus.NewInvalidMetric(storeSizeDesc, c.err)
		return
	}
	ch <- prometheus.MustNewConstMetric(storeSizeDesc, prometheus.GaugeValue, float64(c.size))
}
