package pipeline_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
)

// pausingStore holds the first batch written through it until release is
// closed, then writes it and reports the store's answer on result.
type pausingStore struct {
	store.Store
	once    sync.Once
	held    chan *store.Batch
	release chan struct{}
	result  chan error
}

func (s *pausingStore) WriteBatch(ctx context.Context, b *store.Batch) error {
	first := false
	s.once.Do(func() { first = true })
	if !first {
		return s.Store.WriteBatch(ctx, b)
	}
	s.held <- b
	<-s.release
	err := s.Store.WriteBatch(ctx, b)
	s.result <- err
	return err
}

// TestZombieCommitIsRefused makes a zombie: processor A holds an
// uncommitted batch when the group removes it (as a session expiry would)
// and B takes every partition in a newer generation and commits them. When
// A's write finally reaches the store, it is refused, and nothing is stored
// twice.
func TestZombieCommitIsRefused(t *testing.T) {
	t.Parallel()
	brokers := embedded(t)
	base := openSQLite(t)
	want := produce(t, brokers, 600, 0)
	const group = "g-zombie"
	start := func(clientID string, st store.Store, m *pipeline.Metrics) (*pipeline.Processor, func()) {
		p, err := pipeline.New(pipeline.Config{Brokers: brokers, Store: st, Group: group, Logger: quiet, MaxBatch: 100, Writers: 1, Metrics: m,
			KafkaOpts: []kgo.Opt{kgo.ClientID(clientID), kgo.SessionTimeout(6 * time.Second), kgo.RebalanceTimeout(6 * time.Second),
				kgo.HeartbeatInterval(200 * time.Millisecond)}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("processor %s: %v", clientID, err)
				}
			})
		}
		t.Cleanup(stop)
		return p, stop
	}

	zst := &pausingStore{Store: base, held: make(chan *store.Batch, 1), release: make(chan struct{}), result: make(chan error, 1)}
	mA := pipeline.NewMetrics(prometheus.NewRegistry())
	a, stopA := start("proc-a", zst, mA)
	var held *store.Batch
	select {
	case held = <-zst.held:
	case <-time.After(60 * time.Second):
		t.Fatal("processor A wrote nothing")
	}
	released := false
	defer func() {
		if !released {
			close(zst.release)
		}
	}()

	// The group drops A, as its session expiring would, while A still
	// holds its batch; B takes the partitions and commits them.
	evict(t, brokers, group, "proc-a")
	b, stopB := start("proc-b", base, nil)
	waitCaughtUp(t, brokers, base, group)

	close(zst.release)
	released = true
	var err error
	select {
	case err = <-zst.result:
	case <-time.After(60 * time.Second):
		t.Fatal("A's held write never finished")
	}
	if _, ok := store.IsFenced(err); !ok {
		t.Fatalf("the zombie's write of generation %d returned %v, want a *store.FencedError", held.Generation, err)
	}
	waitFor(t, "A to count the fence", func() bool { return testutil.ToFloat64(mA.WriteErrors.WithLabelValues("fenced")) >= 1 })
	waitCaughtUp(t, brokers, base, group)
	stopB()
	stopA()

	ids := storedIDs(t, base, 4)
	for id, n := range ids {
		if n != 1 {
			t.Errorf("transaction %s stored %d times", id, n)
		}
	}
	checkTotals(t, base, want)
	if sa, sb := a.Stats(), b.Stats(); sa.Stored+sa.Quarantined+sb.Stored+sb.Quarantined != int64(want.good+want.bad) {
		t.Fatalf("A committed %+v and B %+v; together want exactly %d", sa, sb, want.good+want.bad)
	}
}

// evict removes the member of group whose client id is clientID, as the
// coordinator does when a member's session expires.
func evict(t *testing.T, brokers []string, group, clientID string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	described, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = group
	for _, m := range described[group].Members {
		if m.ClientID == clientID {
			lm := kmsg.NewLeaveGroupRequestMember()
			lm.MemberID = m.MemberID
			req.Members = append(req.Members, lm)
		}
	}
	if len(req.Members) != 1 {
		t.Fatalf("group %s has %d members with client id %s, want 1", group, len(req.Members), clientID)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("removing %s from group %s: %v", clientID, group, err)
	}
}
