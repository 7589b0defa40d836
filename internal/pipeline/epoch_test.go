package pipeline_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
)

// TestGroupRecreated: a Kafka group's generation starts again at 1 when the
// group is deleted and recreated (an operator's reset, offsets expired while
// every processor was down, a broker that lost its state). Batches carry
// the store's ownership epoch instead, which never goes backwards, so a
// processor of the recreated group stores the new records instead of being
// fenced as a zombie for ever.
func TestGroupRecreated(t *testing.T) {
	t.Parallel()
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st := openSQLite(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(wave string) {
		t.Helper()
		var rs []*kgo.Record
		for p := range int32(4) {
			for i := range 5 {
				rs = append(rs, txRecord(t, fmt.Sprintf("%s-%d-%d", wave, p, i), p))
			}
		}
		if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	const group = "g-recreated"
	// Two processors one after the other and then together: the group
	// goes through several generations, and the store holds the latest.
	produce("a")
	_, stop1 := startProcessor(t, b.Addrs(), st, group, nil)
	waitCaughtUp(t, b.Addrs(), st, group)
	produce("b")
	_, stop2 := startProcessor(t, b.Addrs(), st, group, nil)
	produce("c")
	waitCaughtUp(t, b.Addrs(), st, group)
	stop1()
	stop2()

	resp, err := kadm.NewClient(cl).DeleteGroups(context.Background(), group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("deleting the group: %v", err)
	}
	produce("d")
	_, stop3 := startProcessor(t, b.Addrs(), st, group, nil)
	defer stop3()
	waitCaughtUp(t, b.Addrs(), st, group)
	ids := storedIDs(t, st, 4)
	if len(ids) != 80 {
		t.Fatalf("%d distinct transactions stored, want 80", len(ids))
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("%s stored %d times", id, n)
		}
	}
}
