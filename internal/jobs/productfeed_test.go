package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// feedShop writes the same batches to two stores: one whose product fold
// has a ProductFeed that is given the batches as the processor gives them,
// the other folding by reading everything back. After every step both
// rollups must be the same.
type feedShop struct {
	t          *testing.T
	fed, plain testStore
	feed       *ProductFeed
	mu         sync.Mutex
	owned      map[int32]bool
	next       map[int32]int64
	rnd        *rand.Rand
	start      time.Time
	feedLimit  int // the fed fold's ProductFoldOptions.FeedLimit
	// sumEvery, when above 0, has the feed sum what it holds after
	// every sumEvery-th commit it is given (ProductFeed.Sum, as Run
	// does after each).
	sumEvery int
	commits  int
}

func newFeedShop(t *testing.T, fed, plain testStore) *feedShop {
	sh := &feedShop{t: t, fed: fed, plain: plain, owned: map[int32]bool{0: true, 1: true, 2: true},
		next: map[int32]int64{}, rnd: rand.New(rand.NewPCG(7, 7)), start: time.Date(2026, 11, 30, 22, 40, 0, 0, time.UTC)}
	sh.feed = NewProductFeed(ProductFeedConfig{Owns: func(p int32) bool {
		sh.mu.Lock()
		defer sh.mu.Unlock()
		return sh.owned[p]
	}})
	return sh
}

func (sh *feedShop) own(p int32, owned bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.owned[p] = owned
}

// batch commits n offsets of partition p to both stores: every seventh
// offset is quarantined (no stored transaction; the last offset too when
// quarantineLast), the rest are orders of one to three lines over twenty
// products, two currencies and three hours around midnight. When seen,
// the feed is given the batch, as the processor gives it every commit.
// It returns how many transactions were stored.
func (sh *feedShop) batch(p int32, n int, seen, quarantineLast bool) int {
	sh.t.Helper()
	from := sh.next[p]
	part := store.Part{Partition: p, From: from, To: from + int64(n)}
	for off := from; off < part.To; off++ {
		if off%7 == 6 || quarantineLast && off == part.To-1 {
			part.Quarantined = append(part.Quarantined, store.Quarantined{Partition: p, Offset: off, Reason: "schema", Raw: []byte("x")})
			continue
		}
		cur := "EUR"
		if sh.rnd.IntN(5) == 0 {
			cur = "JPY"
		}
		items := "["
		for k := range 1 + sh.rnd.IntN(3) {
			if k > 0 {
				items += ","
			}
			items += fmt.Sprintf(`{"product_id":"P%02d","category":"c","quantity":%d,"unit_price":%d.25}`, sh.rnd.IntN(20), 1+sh.rnd.IntN(3), 1+sh.rnd.IntN(90))
		}
		tx := storetest.Tx(fmt.Sprintf("p%d-%d", p, off), fmt.Sprintf("c%03d", sh.rnd.IntN(300)),
			sh.start.Add(time.Duration(sh.rnd.IntN(3*3600))*time.Second), 100, p, off)
		tx.Currency, tx.ItemsJSON = cur, []byte(items+"]")
		part.Txs = append(part.Txs, tx)
	}
	sh.next[p] = part.To
	for _, s := range []testStore{sh.fed, sh.plain} {
		b := &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{part}}
		if err := s.WriteBatch(context.Background(), b); err != nil {
			sh.t.Fatalf("WriteBatch: %v", err)
		}
		if s == sh.fed && seen {
			sh.feed.Commit(b, time.Now())
			if sh.commits++; sh.sumEvery > 0 && sh.commits%sh.sumEvery == 0 {
				sh.feed.Sum()
			}
		}
	}
	return len(part.Txs)
}

// fold runs both folds to the end and checks that their rollups are the
// same; it returns how many transactions the feed handed over, and in how many
// chunks the fold with the feed reached the end.
func (sh *feedShop) fold(chunk int) (fed, chunks int) {
	sh.t.Helper()
	ctx := context.Background()
	for _, s := range []testStore{sh.fed, sh.plain} {
		o := store.ProductFoldOptions{Limit: chunk, Now: time.Now()}
		if s == sh.fed {
			o.Feed, o.FeedLimit = sh.feed, sh.feedLimit
		}
		for i := 0; ; i++ {
			if i == 1000 {
				sh.t.Fatal("the fold did not reach the end in 1,000 chunks")
			}
			c, err := s.(store.ProductFolder).FoldProducts(ctx, o)
			if err != nil {
				sh.t.Fatalf("FoldProducts: %v", err)
			}
			if s == sh.fed {
				fed += c.Fed
				chunks++
			}
			if c.Done {
				break
			}
		}
	}
	sh.same()
	return fed, chunks
}

// unsummed is how many transactions the feed holds that it has not
// summed.
func (sh *feedShop) unsummed() int {
	sh.feed.mu.Lock()
	defer sh.feed.mu.Unlock()
	n := 0
	for _, fp := range sh.feed.parts {
		n += len(fp.txs)
	}
	return n
}

// same fails unless both rollups hold the same totals and customer
// estimates per product, currency and hour, and count the same
// transactions.
func (sh *feedShop) same() {
	sh.t.Helper()
	ctx := context.Background()
	var products []string
	for i := range 20 {
		products = append(products, fmt.Sprintf("P%02d", i))
	}
	for h := -1; h < 4; h++ {
		from := sh.start.Truncate(time.Hour).Add(time.Duration(h) * time.Hour)
		var got [2][]store.ProductTotal
		var cust [2]map[string]int64
		for i, s := range []testStore{sh.fed, sh.plain} {
			r := s.(store.ProductRollups)
			tot, err := r.ProductTotals(ctx, from, from.Add(time.Hour))
			if err != nil {
				sh.t.Fatal(err)
			}
			slices.SortFunc(tot, func(a, b store.ProductTotal) int {
				if a.ProductID != b.ProductID {
					return cmp.Compare(a.ProductID, b.ProductID)
				}
				return cmp.Compare(a.Currency, b.Currency)
			})
			got[i] = tot
			if cust[i], err = r.ProductCustomers(ctx, products, from, from.Add(time.Hour)); err != nil {
				sh.t.Fatal(err)
			}
		}
		if !slices.Equal(got[0], got[1]) {
			sh.t.Fatalf("hour %s: with the feed %+v, read back %+v", from.Format(time.RFC3339), got[0], got[1])
		}
		for p, n := range cust[1] {
			if cust[0][p] != n {
				sh.t.Fatalf("hour %s, %s: %d customers with the feed, %d read back", from.Format(time.RFC3339), p, cust[0][p], n)
			}
		}
		if len(cust[0]) != len(cust[1]) {
			sh.t.Fatalf("hour %s: customers of %d products with the feed, %d read back", from.Format(time.RFC3339), len(cust[0]), len(cust[1]))
		}
	}
	var n [2]int64
	for i, s := range []testStore{sh.fed, sh.plain} {
		st, err := s.(store.ProductRollups).ProductFoldState(ctx)
		if err != nil {
			sh.t.Fatal(err)
		}
		n[i] = st.Transactions
	}
	if n[0] != n[1] {
		sh.t.Fatalf("the rollup holds %d transactions with the feed, %d read back", n[0], n[1])
	}
}

// A fold with a ProductFeed adds exactly what a fold that reads every
// transaction back adds, whatever the feed saw: from the first fold on, a
// feed that started late, missed a commit, lost and regained a partition,
// saw its sums folded by a fold without it, or handed over sums whose
// fold then rolled back; and it hands over what it can, so that the
// steady stream is not read back. So too whether the feed summed what it
// holds ahead of the takes after every commit, after every other one
// (sums and unsummed transactions after them), or never.
func TestProductFeedFoldsWhatReadingBackFolds(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) testStore{
		"SQLite":     func(t *testing.T) testStore { return openSQLite(t) },
		"PostgreSQL": func(t *testing.T) testStore { return openPostgres(t, pgtest.URL(t)) },
	} {
		for _, sumEvery := range []int{0, 1, 2} {
			t.Run(fmt.Sprintf("%s/sum-every-%d", name, sumEvery), func(t *testing.T) {
				testProductFeed(t, open, sumEvery)
			})
		}
	}
}

func testProductFeed(t *testing.T, open func(t *testing.T) testStore, sumEvery int) {
	sh := newFeedShop(t, open(t), open(t))
	sh.sumEvery = sumEvery
	// Partition 2's first batch is committed before the feed
	// started (a restart): its offsets are read back.
	sh.batch(2, 40, false, false)
	want := 0
	for range 3 {
		want += sh.batch(0, 50, true, false) + sh.batch(1, 30, true, true) + sh.batch(2, 20, true, false)
	}
	// The first fold reads back partition 2's first batch and
	// takes the rest, in one chunk: reaching the end, it has
	// folded everything committed before it began.
	if fed, chunks := sh.fold(1000); fed != want || chunks != 1 {
		t.Fatalf("the first fold took %d transactions from the feed in %d chunks, want all %d committed after it started, in 1",
			fed, chunks, want)
	}
	// The steady stream: everything from the feed, in one chunk,
	// or in chunks of FeedLimit (while the processor is behind).
	want = sh.batch(0, 70, true, false) + sh.batch(1, 35, true, false)
	if fed, chunks := sh.fold(10); fed != want || chunks != 1 {
		t.Fatalf("a steady fold took %d from the feed in %d chunks, want %d in 1", fed, chunks, want)
	}
	want = sh.batch(0, 70, true, false) + sh.batch(1, 35, true, false)
	sh.feedLimit = 10
	// The sums come whole: the limit bounds what the fold sums.
	if raw := sh.unsummed(); sumEvery == 1 && raw != 0 || sumEvery != 1 && raw == 0 {
		t.Fatalf("summing after every %d commits left %d unsummed", sumEvery, raw)
	} else if fed, chunks := sh.fold(1000); fed != want || chunks < raw/10 || chunks > raw/10+2 {
		t.Fatalf("a steady fold took %d from the feed in %d chunks, want %d in chunks of 10 unsummed (%d of them)", fed, chunks, want, raw)
	}
	sh.feedLimit = 0

	// A commit the feed missed: the fold reads back from the
	// cursor to the next commit it saw, then takes the rest.
	sh.batch(0, 20, false, false)
	want = sh.batch(0, 30, true, false) + sh.batch(1, 14, true, true)
	if fed, _ := sh.fold(1000); fed != want {
		t.Fatalf("after a missed commit the fold took %d from the feed, want %d", fed, want)
	}

	// Partition 1 lost: its commits elsewhere are read back,
	// and when it comes back the feed starts again.
	sh.own(1, false)
	sh.batch(1, 21, false, false)
	sh.fold(1000)
	sh.own(1, true)
	sh.batch(1, 21, true, false)
	sh.fold(1000)

	// Another fold, without the feed, folds what the feed
	// summed: the feed's sums are dropped, not added twice.
	sh.batch(0, 40, true, false)
	for {
		c, err := sh.fed.(store.ProductFolder).FoldProducts(context.Background(), store.ProductFoldOptions{Limit: 1000, Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if c.Done {
			break
		}
	}
	sh.batch(0, 10, true, false)
	sh.fold(1000)

	// A fold that takes the sums and then rolls back: nothing
	// is lost, the next fold reads them back.
	sh.batch(0, 28, true, false)
	sh.batch(2, 28, true, true)
	boom := errors.New("stopped before commit")
	for {
		_, err := sh.fed.(store.ProductFolder).FoldProducts(context.Background(),
			store.ProductFoldOptions{Limit: 1000, Now: time.Now(), Feed: sh.feed, BeforeCommit: func() error { return boom }})
		if errors.Is(err, boom) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	sh.batch(0, 7, true, false)
	sh.fold(1000)
	takes, readBacks, summed := sh.feed.Stats()
	if takes == 0 || readBacks == 0 {
		t.Fatalf("feed stats: %d takes, %d read-backs; the steps above need both", takes, readBacks)
	}
	if (summed == 0) != (sumEvery == 0) {
		t.Fatalf("summing after every %d commits: %d summed ahead", sumEvery, summed)
	}
}

// The feed keeps nothing while no fold takes (the fold runs in another
// process) and drops what it holds past MaxPending; the fold then reads
// back, and adds the same.
func TestProductFeedBounds(t *testing.T) {
	sh := newFeedShop(t, openSQLite(t), openSQLite(t))
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	owns := sh.feed.owns
	sh.feed = NewProductFeed(ProductFeedConfig{Owns: owns, Idle: time.Minute, MaxPending: 50, Now: clock})
	sh.batch(0, 14, true, false)
	sh.fold(1000)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	sh.batch(0, 14, true, false)
	if n := len(sh.feed.parts); n != 0 || sh.feed.pending != 0 {
		t.Fatalf("an idle feed holds %d partitions, %d transactions; want none", n, sh.feed.pending)
	}
	if fed, _ := sh.fold(1000); fed != 0 {
		t.Fatalf("after an idle spell the feed handed over %d, want 0 (read back)", fed)
	}
	want := sh.batch(0, 7, true, false)
	if fed, _ := sh.fold(1000); fed != want {
		t.Fatalf("the fold took %d from the feed, want %d", fed, want)
	}
	sh.batch(0, 70, true, false) // 60 orders: past MaxPending
	if n := len(sh.feed.parts); n != 0 || sh.feed.pending != 0 {
		t.Fatalf("past MaxPending: %d partitions and %d transactions kept", n, sh.feed.pending)
	}
	sh.fold(1000)
}

// With Run summing after every commit while a fold takes at the same
// time (as in process: the processor's commits, the feed's goroutine and
// the fold's), the rollup is what reading everything back makes. Run
// under -race, this is also the test of the feed's locking.
func TestProductFeedSumsWhileTheStreamCommits(t *testing.T) {
	sh := newFeedShop(t, openSQLite(t), openSQLite(t))
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- sh.feed.Run(ctx) }()
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		for i := range 60 {
			sh.batch(int32(i%3), 40, true, false)
		}
	}()
	folds := 0
	for done := false; !done; {
		select {
		case <-committed:
			done = true
		default:
		}
		if _, err := sh.fed.(store.ProductFolder).FoldProducts(ctx, store.ProductFoldOptions{Limit: 1000, Now: time.Now(), Feed: sh.feed}); err != nil {
			t.Fatal(err)
		}
		folds++
	}
	sh.fold(1000)
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	takes, _, summed := sh.feed.Stats()
	t.Logf("%d folds during the stream, %d takes, %d transactions summed ahead", folds, takes, summed)
	if takes == 0 {
		t.Fatal("the feed handed nothing over")
	}
}

// While the processor is behind, the feed's goroutine sums nothing: the
// fold sums what it takes at the share it is given then; once the
// processor keeps up, what was left is summed.
func TestProductFeedSumsNothingWhileBehind(t *testing.T) {
	sh := newFeedShop(t, openSQLite(t), openSQLite(t))
	var mu sync.Mutex
	behind := true
	sh.feed.SetBusy(func() bool { mu.Lock(); defer mu.Unlock(); return behind })
	want := sh.batch(0, 30, true, false) + sh.batch(1, 30, true, false)
	if sh.feed.sumUnlessBusy() {
		t.Fatal("the feed summed while the processor is behind")
	}
	if n := sh.unsummed(); n != want {
		t.Fatalf("%d unsummed while behind, want all %d", n, want)
	}
	mu.Lock()
	behind = false
	mu.Unlock()
	if !sh.feed.sumUnlessBusy() {
		t.Fatal("the feed did not sum once the processor kept up")
	}
	if n := sh.unsummed(); n != 0 {
		t.Fatalf("%d unsummed once the processor kept up, want 0", n)
	}
	if fed, _ := sh.fold(1000); fed != want {
		t.Fatalf("the fold took %d from the feed, want %d", fed, want)
	}
}

// A take of a partition whose transactions the feed is summing waits for
// the sum and hands it over whole: it neither hands over the transactions
// being summed (they would be folded twice) nor a sum still being added
// to.
func TestProductFeedTakeWaitsForTheSum(t *testing.T) {
	sh := newFeedShop(t, openSQLite(t), openSQLite(t))
	want := sh.batch(0, 30, true, false)
	inSum, release := make(chan struct{}), make(chan struct{})
	sh.feed.summedHook = func(int32) { close(inSum); <-release }
	summed := make(chan struct{})
	go func() { defer close(summed); sh.feed.Sum() }()
	<-inSum
	waiting := make(chan struct{})
	sh.feed.waitHook = func() { close(waiting) }
	took := make(chan store.ProductTake, 1)
	go func() { took <- sh.feed.Take(0, store.RowMark{Offset: -1}, 1000) }()
	var tk store.ProductTake
	select {
	case <-waiting:
		close(release)
		<-summed
		tk = <-took
	case tk = <-took:
		close(release)
		<-summed
		t.Errorf("the take returned while the partition was being summed")
	}
	if !tk.Taken || tk.Sum == nil || tk.Summed != want || len(tk.Txs) != 0 {
		t.Fatalf("take during a sum: taken %v, sum %v of %d transactions, %d unsummed; want the sum of all %d and none unsummed",
			tk.Taken, tk.Sum != nil, tk.Summed, len(tk.Txs), want)
	}
}
