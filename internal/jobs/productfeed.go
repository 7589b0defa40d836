package jobs

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// ProductFeed keeps, as they commit, the transactions a processor of
// this process stores, per partition (what the fold reads of them:
// customer, event time, currency and the items JSON the batch already
// holds), and hands them to the product fold (store.ProductFeed), which
// then need not read them back from the store: reading them back was
// about 4 µs of the database's CPU per transaction, in a burst every
// fold that delayed the stream's batches.
//
// While Run runs, the feed sums what it keeps into the rollup's rows as
// the commits come (Sum), on its own goroutine, and hands the fold the
// sums: decoding and summing the items was the fold's own burst, half a
// second of a core every ten seconds at 20,000 tx/s, which delayed the
// batches of those seconds. While the processor is behind (Busy) Run
// sums nothing: the fold then sums what it takes, on its goroutine, and
// gives way (ProductFoldConfig.Busy), so that the summing does not take
// the stream's CPU when it has none to spare. So too without Run.
//
// A partition's transactions cover a run of consecutive offsets, [from,
// to). The fold takes them when they start right after its cursor; when
// they start later it reads back from the store what lies between (the
// feed keeps adding from the same offset meanwhile) and then takes them;
// when its cursor is already inside them or past them (a fold without the
// feed read them back), the feed drops them. A partition this process
// does not own, or whose commits the feed has not seen since it last lost
// track, is read back as without a feed. The feed loses track on a gap
// between commits (a partition lost and regained), when it holds more
// than MaxPending transactions and rows, and while no fold has taken
// anything for Idle (the fold runs in another process): it then keeps
// nothing until the next take.
type ProductFeed struct {
	busy       func() bool
	owns       func(partition int32) bool
	maxPending int
	idle       time.Duration
	now        func() time.Time
	wake       chan struct{}

	mu        sync.Mutex
	summed    *sync.Cond // a partition's summing ended (feedPart.summing)
	parts     map[int32]*feedPart
	pending   int // transactions held unsummed and rows of sums, all partitions
	lastTake  time.Time
	takes     int64 // non-empty hand-overs
	readBacks int64 // answers that left a read-back to the fold
	sums      int64 // transactions summed ahead of a take

	// Tests' hooks, when set: summedHook is called by Sum after it
	// summed a partition's transactions, before it takes the lock again;
	// waitHook by Take, under the lock, when it waits for a sum.
	summedHook func(partition int32)
	waitHook   func()
}

// feedPart is one partition's transactions: those stored at offsets
// [from, to), the last one's id when it is at to-1. The first n of them
// are summed in sum (sumRows rows), and txs are the ones after them.
type feedPart struct {
	from, to int64
	txs      []store.ProductTx
	lastID   string
	sum      *store.ProductAcc
	n        int
	sumRows  int
	summing  bool // Sum is adding txs to sum outside the lock
}

// ProductFeedConfig configures a ProductFeed.
type ProductFeedConfig struct {
	// Owns reports whether this process's processor owns a partition now
	// (pipeline.Processor.Owns); it can be set later (SetOwns). While it
	// is not set, every partition is read back.
	Owns func(partition int32) bool
	// Busy, if set, says whether the processor is behind
	// (pipeline.Processor.Behind): Run then sums nothing. It can be set
	// later (SetBusy).
	Busy func() bool
	// MaxPending bounds the transactions held unsummed (80 bytes each,
	// and the items JSON their batches wrote, which they keep from being
	// freed) and the rows of the sums (a few hundred bytes each, over a
	// KiB for a row of more than 32 customers, whose sketch is then the
	// full 1,024 registers), all partitions together: past it the feed drops what it holds and the
	// fold reads it back. Defaults to 250,000 (about 60 MB), above ten
	// seconds of the stream at 20,000 tx/s, the fold's default interval,
	// when nothing is summed ahead.
	MaxPending int
	// Idle is how long the feed keeps transactions without a take.
	// Defaults to 2 minutes.
	Idle time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
}

// NewProductFeed returns a feed; give its Commit to the processor
// (pipeline.Config.OnCommit) and the feed to the product fold
// (ProductFoldConfig.Feed).
func NewProductFeed(cfg ProductFeedConfig) *ProductFeed {
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 250_000
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := &ProductFeed{busy: cfg.Busy, owns: cfg.Owns, maxPending: cfg.MaxPending, idle: cfg.Idle, now: cfg.Now,
		wake: make(chan struct{}, 1), parts: map[int32]*feedPart{}, lastTake: cfg.Now()}
	f.summed = sync.NewCond(&f.mu)
	return f
}

// Run sums what the feed keeps after each commit (Sum), unless the
// processor is behind, until ctx ends.
func (f *ProductFeed) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-f.wake:
			f.sumUnlessBusy()
		}
	}
}

// sumUnlessBusy sums what the feed keeps unless the processor is behind;
// it reports whether it did.
func (f *ProductFeed) sumUnlessBusy() bool {
	f.mu.Lock()
	busy := f.busy
	f.mu.Unlock()
	if busy != nil && busy() {
		return false
	}
	f.Sum()
	return true
}

// Sum adds the transactions each partition holds unsummed to its sums,
// one partition at a time, outside the lock that Commit takes: a take of
// a partition being summed waits for its sum.
func (f *ProductFeed) Sum() {
	f.mu.Lock()
	parts := make([]int32, 0, len(f.parts))
	for p, fp := range f.parts {
		if len(fp.txs) > 0 {
			parts = append(parts, p)
		}
	}
	f.mu.Unlock()
	for _, p := range parts {
		f.mu.Lock()
		fp := f.parts[p]
		if fp == nil || len(fp.txs) == 0 || fp.summing {
			f.mu.Unlock()
			continue
		}
		fp.summing = true
		txs, acc := fp.txs, fp.sum
		f.mu.Unlock()

		if acc == nil {
			acc = new(store.ProductAcc)
		}
		for i := range txs {
			acc.Add(&txs[i])
		}
		if f.summedHook != nil {
			f.summedHook(p)
		}

		f.mu.Lock()
		fp.summing = false
		f.summed.Broadcast()
		if f.parts[p] != fp {
			// Dropped meanwhile (a gap, an idle spell, MaxPending).
			f.mu.Unlock()
			continue
		}
		// Commit appended after txs (never into them), and only a take,
		// which waited for the sum, moves the run's start.
		k := len(txs)
		if k == len(fp.txs) {
			fp.txs = nil
		} else {
			fp.txs = slices.Clone(fp.txs[k:])
		}
		rows := acc.Len()
		f.pending += rows - fp.sumRows - k
		fp.sum, fp.n, fp.sumRows = acc, fp.n+k, rows
		f.sums += int64(k)
		f.mu.Unlock()
	}
}

// Commit adds a committed batch of the transactions topic. The processor
// calls it after each commit, in commit order per partition.
func (f *ProductFeed) Commit(b *store.Batch, _ time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.now().Sub(f.lastTake) > f.idle {
		f.dropAll()
		return
	}
	for i := range b.Parts {
		part := &b.Parts[i]
		fp := f.parts[part.Partition]
		if fp == nil || fp.to != part.From {
			// The first commit seen, or one after a gap: a run starts here.
			f.drop(part.Partition)
			fp = &feedPart{from: part.From, to: part.From}
			f.parts[part.Partition] = fp
		}
		for j := range part.Txs {
			tx := &part.Txs[j]
			fp.txs = append(fp.txs, store.ProductTx{Offset: tx.Offset, TransactionID: tx.TransactionID,
				CustomerID: tx.CustomerID, EventTime: tx.EventTime, Currency: tx.Currency, ItemsJSON: tx.ItemsJSON})
		}
		f.pending += len(part.Txs)
		fp.to = part.To
		fp.lastID = ""
		if k := len(part.Txs); k > 0 && part.Txs[k-1].Offset == part.To-1 {
			fp.lastID = part.Txs[k-1].TransactionID
		}
	}
	if f.pending > f.maxPending {
		f.dropAll()
		return
	}
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// drop forgets a partition's run.
func (f *ProductFeed) drop(partition int32) {
	if fp := f.parts[partition]; fp != nil {
		f.pending -= len(fp.txs) + fp.sumRows
		delete(f.parts, partition)
	}
}

func (f *ProductFeed) dropAll() {
	clear(f.parts)
	f.pending = 0
}

// Take implements store.ProductFeed.
func (f *ProductFeed) Take(partition int32, mark store.RowMark, max int) store.ProductTake {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastTake = f.now()
	fp := f.parts[partition]
	for fp != nil && fp.summing {
		if f.waitHook != nil {
			f.waitHook()
		}
		f.summed.Wait()
		fp = f.parts[partition]
	}
	if fp == nil {
		f.readBacks++
		return store.ProductTake{}
	}
	if f.owns == nil || !f.owns(partition) {
		f.drop(partition)
		f.readBacks++
		return store.ProductTake{}
	}
	next := mark.Offset + 1
	switch {
	case next == fp.from && len(fp.txs) > max:
		// The sums and the first max: the run then starts after the
		// last of them. (Commit appends past the end of fp.txs, never
		// into them.)
		t := store.ProductTake{Taken: true, Txs: fp.txs[:max:max], Through: fp.txs[max-1].Offset,
			LastID: fp.txs[max-1].TransactionID, More: true, Sum: fp.sum, Summed: fp.n}
		f.pending -= max + fp.sumRows
		fp.txs, fp.from = fp.txs[max:], t.Through+1
		fp.sum, fp.n, fp.sumRows = nil, 0, 0
		f.takes++
		return t
	case next == fp.from:
		t := store.ProductTake{Taken: true, Txs: fp.txs, Through: fp.to - 1, LastID: fp.lastID, Sum: fp.sum, Summed: fp.n}
		f.pending -= len(fp.txs) + fp.sumRows
		f.parts[partition] = &feedPart{from: fp.to, to: fp.to}
		if len(fp.txs) > 0 || fp.n > 0 {
			f.takes++
		}
		return t
	case next < fp.from:
		f.readBacks++
		return store.ProductTake{Bounded: true, Bound: fp.from}
	default:
		// The cursor is inside the run or past it (a fold without this
		// feed read it back): it is dropped, and a run starts again at
		// the next commit.
		f.drop(partition)
		f.readBacks++
		return store.ProductTake{}
	}
}

// SetBusy sets Config.Busy.
func (f *ProductFeed) SetBusy(busy func() bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.busy = busy
}

// SetOwns sets Config.Owns.
func (f *ProductFeed) SetOwns(owns func(partition int32) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owns = owns
}

// Stats returns how many non-empty runs the feed handed over, how many
// answers left a read-back to the fold, and how many transactions it
// summed ahead of a take (Sum).
func (f *ProductFeed) Stats() (takes, readBacks, summed int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.takes, f.readBacks, f.sums
}
