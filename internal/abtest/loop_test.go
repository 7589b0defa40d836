package abtest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/abtest"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/testrace"
)

// exposureQueue is the generate.Exposures the site fills.
type exposureQueue struct {
	mu sync.Mutex
	xs []generate.Exposure
}

func (q *exposureQueue) push(x generate.Exposure) {
	q.mu.Lock()
	q.xs = append(q.xs, x)
	q.mu.Unlock()
}

func (q *exposureQueue) Drain(buf []generate.Exposure) []generate.Exposure {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf, q.xs...)
	q.xs = q.xs[:0]
	return buf
}

// loopResult is what a closed loop found.
type loopResult struct {
	records  int
	detected bool
	ab, aa   *abtest.Results
}

// closedLoop runs the whole loop in process on the generator's clock: the
// synthetic shop's purchases are stored, the recommendation service folds
// them, a share of the buyers is shown recommendations (the A/B or the
// A/A experiment assigns them and records the exposure), the shop's
// customers respond to what they were shown, and the A/B's results are
// looked at every 10,000 records until the sequential test finds the
// effect or maxRecords are made.
func closedLoop(t *testing.T, seed int64, uplift float64, maxRecords int) loopResult {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	q := &exposureQueue{}
	gen, err := generate.New(generate.Config{Seed: seed, Customers: 50_000, Products: 500, FraudRate: -1,
		Response: generate.Response{Exposures: q, Rate: 0.2, Better: recsvc.MethodItemItem, Uplift: uplift, Delay: 2 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	var now time.Time
	clk := func() time.Time { return now }
	exps, err := abtest.New(abtest.Config{Store: st.(store.Experiments), Now: clk})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := recsvc.New(recsvc.Config{Store: st.(store.Purchases), Assigner: exps, Now: clk})
	if err != nil {
		t.Fatal(err)
	}
	var batch []store.Tx
	var off int64
	flush := func() {
		if len(batch) == 0 {
			return
		}
		err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions",
			Parts: []store.Part{{Partition: 0, From: off - int64(len(batch)), To: off, Txs: batch}}})
		if err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	var tx event.Transaction
	res := loopResult{}
	const warmUp = 20_000
	for i := 0; i < maxRecords; i++ {
		rec := gen.Next()
		// The site is visited a second after the purchase that brings the
		// buyer there, so that purchase is not in the exposure's window.
		now = rec.EventTime.Add(time.Second)
		if err := event.Decode(rec.Value, &tx); err != nil {
			t.Fatal(err)
		}
		batch = append(batch, pipeline.NewTx(&tx, 0, off, rec.EventTime, nil))
		off++
		if len(batch) == 500 {
			flush()
		}
		switch {
		case i == warmUp:
			flush()
			if _, err := recs.Fold(ctx); err != nil {
				t.Fatal(err)
			}
			recs.Rebuild()
			abDef := ab("ab", 0.5)
			abDef.Window, abDef.Start = abtest.Duration(30*time.Minute), now
			aa := ab("aa", 1)
			aa.Window, aa.Start = abtest.Duration(30*time.Minute), now.Add(time.Millisecond)
			aa.Variants[0].Recommender = recsvc.MethodItemItem
			for _, d := range []abtest.Definition{abDef, aa} {
				if _, err := exps.Create(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
		case i > warmUp && i%5000 == 0:
			flush()
			if _, err := recs.Fold(ctx); err != nil {
				t.Fatal(err)
			}
			if i%20_000 == 0 {
				recs.Rebuild()
			}
		}
		// A third of the buyers after the warm-up come back to the site and
		// are shown five products.
		if i > warmUp && rng.Float64() < 1.0/3 {
			r, err := recs.Recommend(tx.CustomerID, 5, false)
			if err != nil {
				t.Fatal(err)
			}
			if r.Experiment != "" {
				x := generate.Exposure{CustomerID: tx.CustomerID, At: now, Recommender: r.Method}
				for _, it := range r.Items {
					x.Products = append(x.Products, it.Item)
				}
				q.push(x)
			}
		}
		if i > warmUp && i%10_000 == 0 {
			res.records = i
			if res.ab, err = exps.Results(ctx, "ab"); err != nil {
				t.Fatal(err)
			}
			if res.ab.Comparisons[0].Significant {
				res.detected = true
				break
			}
		}
	}
	flush()
	if res.aa, err = exps.Results(ctx, "aa"); err != nil {
		t.Fatal(err)
	}
	return res
}

func describe(r *abtest.Results) string {
	c := r.Comparisons[0]
	s := fmt.Sprintf("%s: ", r.Experiment.Name)
	for _, v := range r.Variants {
		s += fmt.Sprintf("%s %d/%d (%.4f) ", v.Name, v.Conversions, v.Exposures, v.ConversionRate)
	}
	if sq := c.Conversion.Sequential; sq != nil {
		s += fmt.Sprintf("relative lift %.3f, sequential [%.3f, %.3f]", sq.Lift, sq.Low, sq.High)
	}
	if f := c.Conversion.Relative; f != nil {
		s += fmt.Sprintf(", fixed [%.3f, %.3f] p=%.3g", f.Low, f.High, *f.PValue)
	}
	return s + fmt.Sprintf(", SRM p=%.3g", r.SampleRatio.PValue)
}

// TestClosedLoop plants a 30% relative uplift in the response to
// item-item's recommendations: the A/B (popularity against item-item) must
// find it by the sequential test within 300,000 records (about 25,000
// exposed customers), while the A/A (item-item against itself) finds
// nothing and neither shows a sample-ratio mismatch.
func TestClosedLoop(t *testing.T) {
	testrace.SkipUnderRace(t)
	if testing.Short() {
		t.Skip("a closed loop of up to 300,000 records")
	}
	t.Parallel()
	r := closedLoop(t, 11, 0.3, 300_000)
	t.Logf("after %d records: %s", r.records, describe(r.ab))
	t.Logf("%s", describe(r.aa))
	if !r.detected {
		t.Fatalf("the planted uplift was not found")
	}
	if lift := r.ab.Comparisons[0].Conversion.Sequential.Lift; lift <= 0 {
		t.Fatalf("found an effect of the wrong sign: %v", lift)
	}
	if r.aa.Comparisons[0].Significant {
		t.Fatalf("the A/A found an effect")
	}
	if r.ab.SampleRatio.Mismatch || r.aa.SampleRatio.Mismatch {
		t.Fatal("a sample-ratio mismatch")
	}
}
