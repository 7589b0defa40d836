package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
)

// TestStreamSendsLateCommits: on PostgreSQL an alert's ID, and the number
// of an alert's change, are taken before their transaction commits, so
// one committed late can carry a lower number than one the stream has
// sent. The hub must send it all the same, once, on the tick after the
// commit, and give up a number never committed (a rollback) without
// stalling what comes after.
func TestStreamSendsLateCommits(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	st, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := New(Config{Store: st, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.hub()
	events := make(chan []byte, 64)
	h.mu.Lock()
	h.subs[events] = struct{}{}
	h.mu.Unlock()
	// sent runs one tick and returns the transaction IDs the named event
	// carried.
	sent := func(kind string) []string {
		t.Helper()
		h.once()
		var ids []string
		for {
			select {
			case b := <-events:
				if !strings.HasPrefix(string(b), "event: "+kind+"\n") {
					continue
				}
				var d struct {
					Alerts []AlertJSON `json:"alerts"`
				}
				if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[1], "data: ")), &d); err != nil {
					t.Fatal(err)
				}
				for _, a := range d.Alerts {
					ids = append(ids, a.TransactionID)
				}
			default:
				return ids
			}
		}
	}
	conn := func() *pgx.Conn {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	late, early := conn(), conn()
	const ins = `INSERT INTO alerts (transaction_id, customer_id, event_time, risk, decision, reasons, amount_cents) VALUES ($1, 'c1', now(), 0.95, 'decline', '[]', 1250)`
	if _, err := early.Exec(ctx, ins, "first"); err != nil {
		t.Fatal(err)
	}
	if got := sent("alerts"); len(got) != 0 {
		t.Fatalf("the first tick sent %v: it only notes where the alerts stand", got)
	}
	sent("labels")

	// "slow" takes its ID, then "quick" takes the next and commits first.
	slow, err := late.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := slow.Exec(ctx, ins, "slow"); err != nil {
		t.Fatal(err)
	}
	if _, err := early.Exec(ctx, ins, "quick"); err != nil {
		t.Fatal(err)
	}
	if got := sent("alerts"); !slices.Equal(got, []string{"quick"}) {
		t.Fatalf("sent %v, want [quick]", got)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sent("alerts"); !slices.Equal(got, []string{"slow"}) {
		t.Fatalf("after the late commit: sent %v, want [slow]", got)
	}
	// A rolled-back insert leaves a gap that never fills; what follows
	// still goes out at once, and nothing goes twice.
	gone, err := late.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gone.Exec(ctx, ins, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := gone.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := early.Exec(ctx, ins, "after"); err != nil {
		t.Fatal(err)
	}
	if got := sent("alerts"); !slices.Equal(got, []string{"after"}) {
		t.Fatalf("after a rollback: sent %v, want [after]", got)
	}
	if got := sent("alerts"); len(got) != 0 {
		t.Fatalf("a tick with nothing new sent %v", got)
	}

	// The same for changes: "slow" is marked fraud in a transaction that
	// commits after "quick" is marked.
	mark, err := late.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const upd = `UPDATE alerts SET status = 'fraud', labelled_at = now() WHERE transaction_id = $1`
	if _, err := mark.Exec(ctx, upd, "slow"); err != nil {
		t.Fatal(err)
	}
	if _, err := early.Exec(ctx, upd, "quick"); err != nil {
		t.Fatal(err)
	}
	if got := sent("labels"); !slices.Equal(got, []string{"quick"}) {
		t.Fatalf("changes: sent %v, want [quick]", got)
	}
	if err := mark.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sent("labels"); !slices.Equal(got, []string{"slow"}) {
		t.Fatalf("after the late change committed: sent %v, want [slow]", got)
	}
	if got := sent("labels"); len(got) != 0 {
		t.Fatalf("a tick with no change sent %v", got)
	}
}
