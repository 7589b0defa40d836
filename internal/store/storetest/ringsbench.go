package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// BenchRingPage stores n rings of 3 to 6 accounts over 4 partitions, a
// tenth of them sharing an account with a ring of another partition and a
// twentieth the accounts of another ring, and times a page of 20 with its
// counts (store.Entities.EntityRingPage, what GET /api/v1/fraud/rings
// reads), over all stored rings: the merge reads them all.
func BenchRingPage(b *testing.B, s store.Store, n int) {
	ctx := context.Background()
	es, ok := s.(store.Entities)
	if !ok {
		b.Skipf("%T keeps no entity state", s)
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const parts, perBatch = 4, 500
	var off [parts]int64
	for i := 0; i < n; i += perBatch {
		p := int32(i / perBatch % parts)
		var rs []store.EntityRing
		for j := i; j < min(i+perBatch, n); j++ {
			var members []string
			for k := range 3 + j%4 {
				members = append(members, fmt.Sprintf("c%07d-%d", j, k))
			}
			switch {
			case j%20 == 1:
				members = []string{fmt.Sprintf("c%07d-0", j-1), fmt.Sprintf("c%07d-1", j-1), fmt.Sprintf("c%07d-2", j-1)}
			case j%10 == 3:
				members[0] = fmt.Sprintf("c%07d-1", j-perBatch)
			}
			key := fmt.Sprintf("device:d%07d", j)
			rs = append(rs, store.EntityRing{Key: key, Members: members, Entities: []string{key}, Reason: "ring of " + key,
				TransactionID: fmt.Sprintf("t%07d", j), ProducedAt: t0, FirstEventTime: t0, LastEventTime: t0.Add(time.Duration(j) * time.Second)})
		}
		err := es.WriteEntityBatch(ctx, &store.EntityBatch{Group: "entities", Topic: "transactions.entities",
			Parts: []store.EntityPart{{Partition: p, From: off[p], To: off[p] + 1, Rings: rs}}})
		if err != nil {
			b.Fatal(err)
		}
		off[p]++
	}
	b.ResetTimer()
	var c store.RingCount
	for b.Loop() {
		rs, cnt, err := es.EntityRingPage(ctx, store.RingFilter{Limit: 20})
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) != 20 {
			b.Fatalf("%d rings in a page of 20", len(rs))
		}
		c = cnt
	}
	b.ReportMetric(float64(c.Rings), "rings")
}
