package pipeline

import (
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// TestQuarantineDuplicatesNamesKeptCopy: each copy the store reports goes
// to quarantine with its labels, its detail naming where the stored copy
// is, or saying that this is not recorded (an id PostgreSQL refuses
// from before migration 0040 whose transaction was gone); the other
// records stay.
func TestQuarantineDuplicatesNamesKeptCopy(t *testing.T) {
	t.Parallel()
	p := &Processor{cfg: Config{DeadLetterTopic: "dlq"}}
	b := &store.Batch{Parts: []store.Part{{
		Partition: 4,
		Txs: []store.Tx{
			{TransactionID: "kept-known", Partition: 4, Offset: 10},
			{TransactionID: "new", Partition: 4, Offset: 11},
			{TransactionID: "kept-unknown", Partition: 4, Offset: 12},
		},
		Labels: []store.Label{{TransactionID: "kept-unknown"}, {TransactionID: "new"}},
	}}}
	p.quarantineDuplicates(b, &store.DuplicateError{
		IDs: []string{"kept-known", "kept-unknown"},
		Copies: []store.DuplicateCopy{
			{TransactionID: "kept-known", Partition: 4, Offset: 10, KeptPartition: 1, KeptOffset: 7},
			{TransactionID: "kept-unknown", Partition: 4, Offset: 12, KeptPartition: -1, KeptOffset: -1},
		},
	})
	part := b.Parts[0]
	if len(part.Txs) != 1 || part.Txs[0].TransactionID != "new" {
		t.Fatalf("kept %+v; want only the new transaction", part.Txs)
	}
	if len(part.Labels) != 1 || part.Labels[0].TransactionID != "new" {
		t.Errorf("labels %+v; want only the new transaction's", part.Labels)
	}
	if len(part.Quarantined) != 2 {
		t.Fatalf("quarantined %+v; want 2", part.Quarantined)
	}
	for i, want := range []string{"kept-known is stored already, at partition 1 offset 7", "kept-unknown is stored already (where its copy was stored is not recorded)"} {
		q := part.Quarantined[i]
		if q.Reason != string(quality.DuplicateID) || !strings.HasSuffix(q.Detail, want) {
			t.Errorf("quarantined %d: %s %q; want %s ... %q", i, q.Reason, q.Detail, quality.DuplicateID, want)
		}
	}
}
