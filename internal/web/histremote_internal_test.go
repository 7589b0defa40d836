package web

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// TestRemoteRingsHoldAndRefresh: a server holds the saved samples of at
// most remoteMax instances, the least recently asked for going first; a
// name with no samples is not held and evicts nothing; an instance held
// reads the rows saved since only after remoteRefresh.
func TestRemoteRingsHoldAndRefresh(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	names := []string{"p1", "p2", "p3", "p4", "p5"}
	for _, n := range names {
		if err := SeedSystemHistory(st, n, time.Now().Add(-31*time.Minute), 30); err != nil {
			t.Fatal(err)
		}
	}
	clock := time.Now()
	r := newRemoteRings(st)
	r.now = func() time.Time { return clock }
	ask := func(inst string) (*histRing, bool) {
		t.Helper()
		clock = clock.Add(time.Second)
		h, ok, err := r.ring(ctx, inst)
		if err != nil {
			t.Fatal(err)
		}
		return h, ok
	}
	heldNow := func() []string {
		r.mu.Lock()
		defer r.mu.Unlock()
		var ks []string
		for k := range r.rings {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	for _, n := range names[:4] {
		if _, ok := ask(n); !ok {
			t.Fatalf("%s: no samples", n)
		}
	}
	if _, ok := ask("nobody"); ok {
		t.Error("an instance that saved nothing has samples")
	}
	if got := heldNow(); !slices.Equal(got, names[:4]) {
		t.Errorf("held %v after asking for one with no samples, want %v", got, names[:4])
	}
	ask("p1")
	if _, ok := ask("p5"); !ok {
		t.Fatal("p5: no samples")
	}
	if got, want := heldNow(), []string{"p1", "p3", "p4", "p5"}; !slices.Equal(got, want) {
		t.Errorf("held %v, want %v (p2 asked for least recently)", got, want)
	}

	h, _ := ask("p1")
	h.mu.Lock()
	n := len(h.tiers[0].samples)
	last := h.tiers[0].samples[n-1]
	h.mu.Unlock()
	if err := st.SaveSystemSample(ctx, store.SystemSample{Instance: "p1", Step: 300, At: last.at.Add(5 * time.Minute),
		Data: encodeSample(last, h.metaNow())}, histTiers[0].keep); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		h, _ := ask("p1")
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.tiers[0].samples)
	}
	if got := count(); got != n {
		t.Errorf("%d samples a second later, want %d (read again after %v)", got, n, remoteRefresh)
	}
	clock = clock.Add(remoteRefresh)
	if got := count(); got != n+1 {
		t.Errorf("%d samples after %v, want %d: the row saved since", got, remoteRefresh, n+1)
	}
}
