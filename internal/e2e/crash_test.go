package e2e

import (
	"context"
	"fmt"
	"github.com/shopstream/shopstream/internal/generate"
	"math/rand/v2"
	"regexp"
	"testing"
	"time"
)

// Crash test parameters.
const (
	crashRecords = 40_000
	crashKills   = 5
	crashSeed    = 20260301
	// crashBatch is small so that a processor commits often and a kill
	// lands between, inside and during the commits of many batches.
	crashBatch = 500
	// crashHistory records are produced first, with event times from
	// crashHistoryAge ago: older than the day of state a processor rebuilds
	// (pipeline.Config.StateWindow).
	crashHistory    = 500
	crashHistoryAge = 72 * time.Hour
	// crashResends recent and as many old records are produced again
	// before the last processor starts.
	crashResends = 50
	// crashMaxDelay bounds the random wait between a processor's first
	// commit and its SIGKILL.
	crashMaxDelay = 300 * time.Millisecond
)

// storeDuplicateLine is what the processor logs when the store finds
// transactions of a batch stored already.
var storeDuplicateLine = regexp.MustCompile(`msg="transactions already stored; quarantining them as duplicates"`)

func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		open func(*testing.T) *storeEnv
	}{{"postgres", postgresStore}, {"sqlite", sqliteStore}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			crashRecovery(t, embeddedKafka(t), tc.open(t))
		})
	}
}

// crashRecovery produces crashHistory old and crashRecords recent records,
// then SIGKILLs crashKills processors one after another, each at a seeded
// random moment after it has started committing, produces some of the
// records again, and lets a last processor finish. Whatever the kills
// interrupted (a batch being built, written or committed), the store must
// end up holding every record exactly once, and the records sent again as
// duplicates in quarantine.
func crashRecovery(t *testing.T, k *kafkaEnv, s *storeEnv) {
	r := newRig(t, k, s, crashBatch)
	f := newFeed(t, crashSeed)
	f.history(t, k, r.topic, crashHistory, crashHistoryAge)
	f.produce(t, k, r.topic, crashRecords)

	rng := rand.New(rand.NewPCG(crashSeed, 1))
	midStream := 0
	for i := range crashKills {
		p := r.start(t, fmt.Sprintf("processor %d", i+1))
		before := r.committed()
		first := r.waitCommitted(t, before, 2*time.Minute, p)
		delay := time.Duration(rng.Int64N(int64(crashMaxDelay)))
		time.Sleep(delay)
		p.kill(t)
		at := r.committed()
		t.Logf("kill %d: SIGKILL %s after its first commit; %d -> %d -> %d of %d records committed",
			i+1, delay.Round(time.Millisecond), before, first, at, f.want.records)
		if at < f.want.records {
			midStream++
		}
		k.evictMembers(t, r.group)
	}
	// A kill after everything was committed proves little: most must have
	// interrupted the stream.
	if midStream < crashKills-1 {
		t.Errorf("only %d of %d kills happened with records left to process; the processor is faster than this test assumes",
			midStream, crashKills)
	}

	// Records are sent again: recent ones by a producer that retried
	// across the crash (same key), which the new processor's duplicate
	// check knows from the state it restores, and old ones stored already
	// under another key (a producer that re-keyed them), which land on other
	// partitions, whose state does not know them: only the store's unique
	// key catches those. (A copy on another partition of a record not yet
	// stored is a race between partitions, which the first stored wins.)
	f.resend(t, k, r.topic, f.good, crashResends, rng, false)
	f.resend(t, k, r.topic, storedOf(t, s, f.old), crashResends, rng, true)
	ends := k.endOffsets(t, r.topic)

	last := r.start(t, "processor (final)")
	r.waitCaughtUp(t, ends, 2*time.Minute, last)
	r.verify(t, &f.want, ends)
	if !last.logged(storeDuplicateLine) {
		t.Errorf("the last processor did not log duplicates found by the store: the old records resent took another path")
	}
	last.stop(t, 30*time.Second)
}

// storedOf returns the records of rs that the store holds as transactions.
func storedOf(t *testing.T, s *storeEnv, rs []generate.Record) []generate.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ids := map[string]bool{}
	if err := s.query(ctx, "SELECT transaction_id FROM transactions", func(scan func(...any) error) error {
		var id string
		err := scan(&id)
		ids[id] = true
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var out []generate.Record
	for _, r := range rs {
		if ids[r.TransactionID] {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		t.Fatalf("none of the %d old records is stored yet; the crashes stopped too early to test duplicates the store catches", len(rs))
	}
	return out
}
