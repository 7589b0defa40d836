package evaluate

import (
	"context"
	"time"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
)

// demoRecord is a record of the demo's stream and whether it is live.
type demoRecord struct {
	rec  generate.Record
	live bool
}

// demoSink hands generate.Run's records to the evaluation.
type demoSink struct {
	ch   chan<- demoRecord
	live bool
}

func (s *demoSink) Write(ctx context.Context, r generate.Record) error {
	select {
	case s.ch <- demoRecord{r, s.live}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *demoSink) Flush(context.Context) error { return nil }

// simClock is the demo's wall clock: it stands still while the history
// is generated and moves only when the live phase sleeps for its pace.
type simClock struct{ t time.Time }

func (c *simClock) now() time.Time { return c.t }

func (c *simClock) sleep(ctx context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return ctx.Err()
}

// demoStream runs gen as `shopstream run` does (generate.Run: the history,
// then the live phase at the demo's pace), on a simulated clock, and
// returns the records one by one: next reports the record, whether it is
// live, and false once the stream has ended. stop ends it early.
func demoStream(ctx context.Context, gen *generate.Generator, d *Demo) (next func() (generate.Record, bool, bool), stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan demoRecord, 1024)
	sink := &demoSink{ch: ch}
	clk := &simClock{t: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		// Run stops at the end of Live or with ctx; its error can only be
		// the sink's, which is ctx's.
		_ = generate.Run(ctx, gen, sink, generate.RunConfig{
			Rate: d.Rate, History: d.History, Duration: d.Live, Ramp: d.Ramp,
			Now: clk.now, Sleep: clk.sleep,
			HistoryDone: func(int64) { sink.live = true },
		})
	}()
	next = func() (generate.Record, bool, bool) {
		r, ok := <-ch
		return r.rec, r.live, ok
	}
	stop = func() {
		cancel()
		for range ch { // let Run's writes return
		}
		<-done
	}
	return next, stop
}

// ringSample keeps the newest fraud.ModelSampleLimit feature vectors.
type ringSample struct {
	v    [][]float64
	next int
}

func (r *ringSample) add(f *fraud.Features) {
	if len(r.v) < fraud.ModelSampleLimit {
		r.v = append(r.v, f.Vector(make([]float64, 0, fraud.NumFeatures)))
		return
	}
	r.v[r.next] = f.Vector(r.v[r.next][:0])
	r.next = (r.next + 1) % len(r.v)
}

// vectors returns the kept vectors, oldest first.
func (r *ringSample) vectors() [][]float64 {
	return append(r.v[r.next:len(r.v):len(r.v)], r.v[:r.next]...)
}
