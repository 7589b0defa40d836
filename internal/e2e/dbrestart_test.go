package e2e

import (
	"regexp"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store/pgtest"
)

// Database restart test parameters: 50 waves of 800 records, one every
// 200 ms, so the stream lasts 10 s and goes on while the database is down.
const (
	restartWaves    = 50
	restartWaveSize = 800
	restartEvery    = 200 * time.Millisecond
	restartSeed     = 20260303
	restartBatch    = 500
	// restartOutage is how long the database stays down the second time.
	restartOutage = 3 * time.Second
)

// retryLine is what the processor logs when a batch write fails and is
// retried.
var retryLine = regexp.MustCompile(`msg="writing batch failed; retrying"`)

// TestDatabaseRestart takes PostgreSQL away twice while a processor writes
// a live stream to it: a third of the way in it restarts it the way a crash
// would (pgtest.Restart: immediate stop, every connection cut, WAL
// recovery), and two thirds of the way in it keeps it down for 3 s
// (pgtest.Stop, then Start). The processor must retry with backoff until the
// database is back, and store everything exactly once.
//
// pgtest restarts the cluster every PostgreSQL test of this package
// shares, so this test must not run beside them: it does not call
// t.Parallel, and every other test in the package does, which makes Go run
// them only after this one has finished.
func TestDatabaseRestart(t *testing.T) {
	k := embeddedKafka(t)
	s := postgresStore(t)
	r := newRig(t, k, s, restartBatch)
	f := newFeed(t, restartSeed)
	const total = restartWaves * restartWaveSize

	p := r.start(t, "processor")
	st := f.stream(k, r.topic, restartWaves, restartWaveSize, restartEvery)
	r.waitCommitted(t, 0, time.Minute, p)

	st.waitProduced(t, total/3)
	before := r.committed()
	start := time.Now()
	pgtest.Restart(t)
	t.Logf("restarted PostgreSQL in %s: %d of %d records produced, %d committed before",
		time.Since(start).Round(time.Millisecond), st.produced.Load(), total, before)
	if st.produced.Load() >= total {
		t.Fatalf("the stream had ended before the database restarted: the test did not restart it mid-stream")
	}
	r.waitCommitted(t, before, time.Minute, p)
	if !p.logged(retryLine) {
		t.Errorf("the processor logged no failed batch write: the restart did not interrupt its writing")
	}

	st.waitProduced(t, total*2/3)
	before = r.committed()
	produced := st.produced.Load()
	pgtest.Stop(t)
	time.Sleep(restartOutage)
	pgtest.Start(t)
	t.Logf("PostgreSQL was down for %s: %d of %d records produced, %d committed before",
		restartOutage, produced, total, before)
	if before >= total {
		t.Fatalf("everything was committed before the outage: the test did not stop the database mid-stream")
	}

	st.wait(t)
	ends := k.endOffsets(t, r.topic)
	r.waitCaughtUp(t, ends, 2*time.Minute, p)
	r.verify(t, &f.want, ends)
	p.stop(t, 30*time.Second)
}
