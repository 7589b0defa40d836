package e2e

import (
	"regexp"
	"testing"
	"time"
)

// Scale-out test parameters: 50 waves of 800 records, one every 200 ms, so
// the stream lasts 10 s: long enough for a join (a rebalance waits for the
// members' next heartbeat, up to 3 s) and a leave while it flows.
const (
	scaleWaves    = 50
	scaleWaveSize = 800
	scaleEvery    = 200 * time.Millisecond
	scaleSeed     = 20260302
	scaleBatch    = 500
)

func TestScaleOut(t *testing.T) {
	t.Parallel()
	scaleOut(t, embeddedKafka(t), postgresStore(t))
}

// scaleOut runs one processor on a live stream, starts a second in the same
// group a fifth of the way in (it joins: the partitions are shared), stops
// the first with SIGTERM once the join is done and 60% is produced (it
// leaves: it commits what it holds and the second takes over), and checks the totals once the stream is consumed.
// Each processor logs how many records it committed when it stops; both
// must have committed some, and the two counts must add up to the totals
// exactly.
func scaleOut(t *testing.T, k *kafkaEnv, s *storeEnv) {
	r := newRig(t, k, s, scaleBatch)
	f := newFeed(t, scaleSeed)

	p1 := r.start(t, "processor 1", "--instance-id", "scale-out-1") // two at once need two ids
	st := f.stream(k, r.topic, scaleWaves, scaleWaveSize, scaleEvery)
	r.waitCommitted(t, 0, time.Minute, p1)

	st.waitProduced(t, scaleWaves*scaleWaveSize/5)
	p2 := r.start(t, "processor 2", "--instance-id", "scale-out-2")
	// The join is done when the first has given up partitions and the
	// second has got them and committed a batch of them.
	waitLogged(t, p1, time.Minute, revokedLine)
	waitLogged(t, p2, time.Minute, assignedLine)
	c := r.committed()
	r.waitCommitted(t, c, time.Minute, p1, p2)
	t.Logf("processor 2 joined with %d of %d records produced, %d committed", st.produced.Load(), scaleWaves*scaleWaveSize, r.committed())

	st.waitProduced(t, scaleWaves*scaleWaveSize*3/5)
	t.Logf("stopping processor 1 with SIGTERM: %d records produced, %d committed", st.produced.Load(), r.committed())
	p1.stop(t, 30*time.Second)
	s1, q1 := p1.stoppedCounts(t)

	st.wait(t)
	ends := k.endOffsets(t, r.topic)
	r.waitCaughtUp(t, ends, 2*time.Minute, p2)
	r.verify(t, &f.want, ends)
	p2.stop(t, 30*time.Second)
	s2, q2 := p2.stoppedCounts(t)

	t.Logf("processor 1 committed %d transactions and %d quarantined records, processor 2 %d and %d", s1, q1, s2, q2)
	if s1 == 0 || s2 == 0 {
		t.Errorf("processor 1 stored %d transactions, processor 2 %d: both should have done part of the work", s1, s2)
	}
	if s1+s2 != f.want.stored || q1+q2 != f.want.quarantined {
		t.Errorf("the processors committed %d+%d = %d transactions and %d+%d = %d quarantined records; want %d and %d",
			s1, s2, s1+s2, q1, q2, q1+q2, f.want.stored, f.want.quarantined)
	}
}

// Log lines of the processor: partitions given up, and some assigned.
var (
	revokedLine  = regexp.MustCompile(`msg="partitions revoked".* partitions="?\[\d`)
	assignedLine = regexp.MustCompile(`msg="partitions assigned".* partitions="?\[\d`)
)

// waitLogged waits until c has logged a line matching re.
func waitLogged(t *testing.T, c *child, timeout time.Duration, re *regexp.Regexp) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !c.logged(re) {
		c.mustRun(t)
		if time.Now().After(deadline) {
			t.Fatalf("%s has logged no line matching %s after %s", c.name, re, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
