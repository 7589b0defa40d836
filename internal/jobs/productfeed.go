package jobs

import (
	"sync"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// ProductFeed sums, as they commit, the transactions a processor of this
// process stores, per partition, and hands the sums to the product fold
// (store.ProductFeed), which then need not read those transactions back
// from the store: reading them back and decoding their items again was
// about 8 µs of CPU per transaction, the process's and the database's
// together, in bursts that delayed the stream's batches every fold.
//
// A partition's sums cover a run of consecutive offsets, [from, to). The
// fold takes them when they start right after its cursor; when they start
// later it reads back from the store what lies between (the feed keeps
// summing from the same offset meanwhile) and then takes them; when its
// cursor is already inside them or past them (a fold without the feed
// read them back), the feed drops them. A partition this process does not own, or
// whose commits the feed has not seen since it last lost track, is read
// back as without a feed. The feed loses track on a gap between commits
// (a partition lost and regained), when its sums grow past MaxRows, and
// while no fold has taken anything for Idle (the fold runs in another
// process): summing then stops until the next take.
type ProductFeed struct {
	owns    func(partition int32) bool
	maxRows int
	idle    time.Duration
	now     func() time.Time

	mu        sync.Mutex
	parts     map[int32]*feedPart
	lastTake  time.Time
	takes     int64 // sums handed over
	readBacks int64 // answers that left a read-back to the fold
}

// feedPart is one partition's sums: the transactions stored at offsets
// [from, to), the last one's id when it is at to-1.
type feedPart struct {
	from, to int64
	sums     *store.ProductAcc
	n        int
	lastID   string
}

// ProductFeedConfig configures a ProductFeed.
type ProductFeedConfig struct {
	// Owns reports whether this process's processor owns a partition now
	// (pipeline.Processor.Owns); it can be set later (SetOwns). While it
	// is not set, every partition is read back.
	Owns func(partition int32) bool
	// MaxRows bounds a partition's sums (rollup rows, a few hundred bytes
	// each); past it the feed drops them and the fold reads the partition
	// back. Defaults to 200,000.
	MaxRows int
	// Idle is how long the feed keeps summing without a take. Defaults to
	// 2 minutes.
	Idle time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
}

// NewProductFeed returns a feed; give its Commit to the processor
// (pipeline.Config.OnCommit) and the feed to the product fold
// (ProductFoldConfig.Feed).
func NewProductFeed(cfg ProductFeedConfig) *ProductFeed {
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = 200_000
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &ProductFeed{owns: cfg.Owns, maxRows: cfg.MaxRows, idle: cfg.Idle, now: cfg.Now,
		parts: map[int32]*feedPart{}, lastTake: cfg.Now()}
}

// Commit adds a committed batch of the transactions topic to the sums.
// The processor calls it after each commit, in commit order per
// partition.
func (f *ProductFeed) Commit(b *store.Batch, _ time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.now().Sub(f.lastTake) > f.idle {
		clear(f.parts)
		return
	}
	for i := range b.Parts {
		part := &b.Parts[i]
		fp := f.parts[part.Partition]
		if fp == nil || fp.to != part.From {
			// The first commit seen, or one after a gap: sums start here.
			fp = &feedPart{from: part.From, to: part.From, sums: &store.ProductAcc{}}
			f.parts[part.Partition] = fp
		}
		var t store.ProductTx
		for j := range part.Txs {
			tx := &part.Txs[j]
			t = store.ProductTx{CustomerID: tx.CustomerID, EventTime: tx.EventTime, Currency: tx.Currency, ItemsJSON: tx.ItemsJSON}
			fp.sums.Add(&t)
		}
		fp.n += len(part.Txs)
		fp.to = part.To
		fp.lastID = ""
		if k := len(part.Txs); k > 0 && part.Txs[k-1].Offset == part.To-1 {
			fp.lastID = part.Txs[k-1].TransactionID
		}
		if fp.sums.Len() > f.maxRows {
			delete(f.parts, part.Partition)
		}
	}
}

// Take implements store.ProductFeed.
func (f *ProductFeed) Take(partition int32, mark store.RowMark) store.ProductTake {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastTake = f.now()
	fp := f.parts[partition]
	if fp == nil {
		f.readBacks++
		return store.ProductTake{}
	}
	if f.owns == nil || !f.owns(partition) {
		delete(f.parts, partition)
		f.readBacks++
		return store.ProductTake{}
	}
	next := mark.Offset + 1
	switch {
	case next == fp.from:
		t := store.ProductTake{Taken: true, Sums: fp.sums, Transactions: fp.n, Through: fp.to - 1, LastID: fp.lastID}
		f.parts[partition] = &feedPart{from: fp.to, to: fp.to, sums: &store.ProductAcc{}}
		if fp.n > 0 {
			f.takes++
		}
		return t
	case next < fp.from:
		f.readBacks++
		return store.ProductTake{Bounded: true, Bound: fp.from}
	default:
		// The cursor is inside the sums or past them (a fold without
		// this feed read them back): they are dropped, and summing
		// starts again at the next commit.
		delete(f.parts, partition)
		f.readBacks++
		return store.ProductTake{}
	}
}

// SetOwns sets Config.Owns.
func (f *ProductFeed) SetOwns(owns func(partition int32) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owns = owns
}

// Stats returns how many sums the feed handed over and how many answers
// left a read-back to the fold.
func (f *ProductFeed) Stats() (takes, readBacks int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.takes, f.readBacks
}
