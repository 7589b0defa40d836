package e2e

import (
	"regexp"
	"testing"
	"time"
)

// Ambiguous commit test parameters.
const (
	ambiguousRecords = 20_000
	ambiguousSeed    = 20260304
	ambiguousBatch   = 500
	// ambiguousCutAt is the batch commit whose reply is lost.
	ambiguousCutAt = 5
)

// committedLine is what the processor logs when its retry finds the batch
// committed by the attempt whose reply was lost.
var committedLine = regexp.MustCompile(`msg="batch found committed by an earlier attempt whose reply was lost"`)

// TestAmbiguousCommit loses the reply to one batch's COMMIT (PostgreSQL):
// the batch is stored, the processor sees an error. It is what a database
// crash or a network failure during a commit does, and what
// TestDatabaseRestart runs into now and then; here a proxy between the
// processor and PostgreSQL (pgProxy) makes it happen on cue, at the 5th
// batch, with records waiting behind it.
//
// The processor's retry must find the batch stored (its partitions' stored
// offsets already equal the batch's end), count it as written and carry on
// with the batches queued behind it: every record stored exactly once.
func TestAmbiguousCommit(t *testing.T) {
	t.Parallel()
	k := embeddedKafka(t)
	s := postgresStore(t)
	proxy, proxied := newPGProxy(t, s.url, ambiguousCutAt)
	through := *s
	through.args = []string{"--postgres", proxied}
	r := newRig(t, k, &through, ambiguousBatch)
	f := newFeed(t, ambiguousSeed)
	f.produce(t, k, r.topic, ambiguousRecords)
	ends := k.endOffsets(t, r.topic)

	p := r.start(t, "processor")
	r.waitCaughtUp(t, ends, 2*time.Minute, p)
	if proxy.cuts.Load() != 1 {
		t.Fatalf("the proxy cut %d commits, want 1 (%d batch commits seen)", proxy.cuts.Load(), proxy.commits.Load())
	}
	if !p.logged(committedLine) {
		t.Errorf("the processor did not report the batch found committed: its retry of the lost commit took another path")
	}
	r.verify(t, &f.want, ends)
	p.stop(t, 30*time.Second)
}
