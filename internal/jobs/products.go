package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// ProductFoldName is the product fold's job name and leader lock.
const ProductFoldName = "product-fold"

// ProductFoldStore is what the product fold reads and writes.
type ProductFoldStore interface {
	TryLead(ctx context.Context, name string) (release func(), ok bool, err error)
	store.ProductFolder
}

// ProductFoldConfig configures the product fold.
type ProductFoldConfig struct {
	Store ProductFoldStore
	// Chunk is the most transactions one database transaction folds.
	// Defaults to 5000.
	Chunk int
	// Busy, if set, says whether the processor is behind (see
	// jobs.Job.BusyShare); while it is, a run stops after BusyRun and
	// leaves the rest to the next, so one run of a long catch-up does not
	// hold the database for minutes at a time.
	Busy func() bool
	// BusyRun is the longest run while Busy. Defaults to 250 ms.
	BusyRun time.Duration
	// BusyChunk is the most transactions a chunk folds while Busy, so
	// that a chunk's read and write, which compete with the processor's
	// batches for the database and the CPU, are short. Defaults to a
	// tenth of Chunk.
	BusyChunk int
	// Feed, if set, hands the fold what this process's processor
	// committed (ProductFeed), instead of reading it back.
	Feed store.ProductFeed
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// ProductFold fills the product rollup (GET /api/v1/products/top with a
// range) off the batches' write path: each run, on the leader, folds the
// transactions stored since its cursor, a chunk per database transaction,
// until it reaches the end (store.ProductFolder).
type ProductFold struct {
	cfg ProductFoldConfig
	log *slog.Logger
}

// ProductFoldReport is what one run folded.
type ProductFoldReport struct {
	Chunks, Transactions, Rows int
	// Fed is how many of the Transactions the feed summed
	// (ProductFoldConfig.Feed), the rest being read back.
	Fed int
	// Done is true when the run reached the end of the stored
	// transactions; Restarted when it emptied the rollup to fold an
	// import stored behind its cursor; GaveWay when it stopped before the
	// end because the processor is behind (ProductFoldConfig.Busy).
	Done, Restarted, GaveWay bool
}

// NewProductFold checks the configuration.
func NewProductFold(cfg ProductFoldConfig) (*ProductFold, error) {
	if cfg.Store == nil {
		return nil, errors.New("product fold: no store")
	}
	if cfg.Chunk == 0 {
		cfg.Chunk = 5000
	}
	if cfg.Chunk < 1 {
		return nil, fmt.Errorf("product fold: chunk %d, want at least 1", cfg.Chunk)
	}
	if cfg.BusyRun == 0 {
		cfg.BusyRun = 250 * time.Millisecond
	}
	if cfg.BusyChunk == 0 {
		cfg.BusyChunk = max(1, cfg.Chunk/10)
	}
	if cfg.BusyChunk < 1 {
		return nil, fmt.Errorf("product fold: busy chunk %d, want at least 1", cfg.BusyChunk)
	}
	if cfg.BusyRun < 0 {
		return nil, fmt.Errorf("product fold: busy run %v must not be negative", cfg.BusyRun)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &ProductFold{cfg: cfg, log: cfg.Logger.With("component", ProductFoldName)}, nil
}

// Job returns the job to give a Runner: a run every interval, taking at
// most busyShare of the time while the runner's Busy reports true (see
// Job.BusyShare; 0: no bound).
func (f *ProductFold) Job(interval time.Duration, busyShare float64) Job {
	return Job{Name: ProductFoldName, Interval: interval, BusyShare: busyShare, Run: func(ctx context.Context) error {
		_, err := f.RunOnce(ctx)
		return err
	}}
}

// RunOnce takes the leader lock and folds chunks until the end of the
// stored transactions (or ctx ends: what was committed stays). It returns
// an error wrapping ErrSkipped when another instance leads.
func (f *ProductFold) RunOnce(ctx context.Context) (ProductFoldReport, error) {
	var rep ProductFoldReport
	release, ok, err := f.cfg.Store.TryLead(ctx, ProductFoldName)
	if err != nil {
		return rep, fmt.Errorf("product fold: %w", err)
	}
	if !ok {
		return rep, fmt.Errorf("product fold: %w: another instance holds the lead", ErrSkipped)
	}
	defer release()
	start := time.Now()
	for !rep.Done {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		// While the processor is behind, chunks are small, and what the
		// feed holds is taken a chunk at a time too, so that the run can
		// give way soon.
		limit, feedLimit := f.cfg.Chunk, 0
		if f.cfg.Busy != nil && f.cfg.Busy() {
			limit, feedLimit = f.cfg.BusyChunk, f.cfg.BusyChunk
		}
		began := time.Now()
		c, err := f.cfg.Store.FoldProducts(ctx, store.ProductFoldOptions{Limit: limit, Now: f.cfg.Now(), Feed: f.cfg.Feed, FeedLimit: feedLimit})
		if errors.Is(err, store.ErrFoldRace) {
			// Another fold committed since the cursor was read (a leader
			// that lost its lock mid-chunk): read it again.
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("product fold after %d chunks: %w", rep.Chunks, err)
		}
		f.log.Debug("product fold chunk", "transactions", c.Transactions, "fed", c.Fed, "rows", c.Rows,
			"took", time.Since(began).Round(time.Millisecond))
		rep.Chunks++
		rep.Transactions += c.Transactions
		rep.Fed += c.Fed
		rep.Rows += c.Rows
		rep.Done = c.Done
		if c.Restarted {
			rep.Restarted = true
			f.log.Info("product fold: transactions were imported behind the cursor; folding every stored transaction again")
		}
		if !rep.Done && f.cfg.Busy != nil && time.Since(start) >= f.cfg.BusyRun && f.cfg.Busy() {
			rep.GaveWay = true
			break
		}
	}
	if rep.Transactions > 0 || rep.Restarted {
		f.log.Info("product fold", "transactions", rep.Transactions, "fed", rep.Fed, "rows", rep.Rows, "chunks", rep.Chunks, "took", time.Since(start).Round(time.Millisecond),
			"gave_way", rep.GaveWay)
	}
	return rep, nil
}
