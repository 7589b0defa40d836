package fraud

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// ordinaryEntities draws n entity events per kind of honest-looking
// traffic: a device or card of one account, sometimes a household's two;
// an IP address behind carrier NAT with many accounts of about one card
// each; a home of one or two accounts.
func ordinaryEntities(seed uint64, n int) []EntitySample {
	r := rand.New(rand.NewPCG(seed, 7))
	few := func() int { // 0 mostly, 1 at times, rarely 2
		if r.IntN(10) < 8 {
			return 0
		}
		return 1 + r.IntN(10)/9
	}
	var out []EntitySample
	for range n {
		acc := 1 + few()/2 // a household's second account at times
		tx := acc + few()
		out = append(out,
			EntitySample{Kind: EntityDevice, Features: EntityFeatures{Customers: acc, Transactions: tx, Cards: acc + few()/2}},
			EntitySample{Kind: EntityCard, Features: EntityFeatures{Customers: acc, Transactions: tx, Cards: 1}},
			EntitySample{Kind: EntityAddress, Features: EntityFeatures{Customers: acc, Transactions: tx, Cards: acc}})
		nat := 1 + r.IntN(40)
		out = append(out, EntitySample{Kind: EntityIP, Features: EntityFeatures{Customers: nat, Transactions: nat + few(), Cards: nat + few()/2}})
	}
	return out
}

func TestEntityModelScoresUnusualCountsHigher(t *testing.T) {
	t.Parallel()
	m, err := TrainEntityModel(ordinaryEntities(1, 3000), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Kinds(); len(got) != 4 || got[EntityDevice] != 3000 {
		t.Fatalf("kinds %v, want 4 kinds of 3000 rows", got)
	}
	cases := []struct {
		kind             string
		ordinary, ringed EntityFeatures
	}{
		{EntityDevice, EntityFeatures{Customers: 1, Transactions: 2, Cards: 1}, EntityFeatures{Customers: 6, Transactions: 9, Cards: 6}},
		{EntityCard, EntityFeatures{Customers: 1, Transactions: 2, Cards: 1}, EntityFeatures{Customers: 4, Transactions: 7, Cards: 1}},
		{EntityAddress, EntityFeatures{Customers: 1, Transactions: 1, Cards: 1}, EntityFeatures{Customers: 7, Transactions: 12, Cards: 7}},
		// Card testing behind one address: few accounts, many cards each.
		{EntityIP, EntityFeatures{Customers: 20, Transactions: 21, Cards: 20}, EntityFeatures{Customers: 4, Transactions: 20, Cards: 18}},
	}
	for _, c := range cases {
		lo, _ := m.RawScore(c.kind, c.ordinary)
		hi, _ := m.RawScore(c.kind, c.ringed)
		if !(hi > lo) {
			t.Errorf("%s: raw score %.3f for %+v, not above %.3f for ordinary %+v", c.kind, hi, c.ringed, lo, c.ordinary)
		}
		if e := m.Score(c.kind, c.ordinary); e != 0 {
			t.Errorf("%s: evidence %.3f for ordinary %+v, want 0", c.kind, e, c.ordinary)
		}
		if e := m.Score(c.kind, c.ringed); !(e > 0.25) {
			t.Errorf("%s: evidence %.3f for %+v, want above 0.25", c.kind, e, c.ringed)
		}
	}
	// The same samples and seed grow the same model.
	again, err := TrainEntityModel(ordinaryEntities(1, 3000), 1)
	if err != nil {
		t.Fatal(err)
	}
	f := EntityFeatures{Customers: 3, Transactions: 5, Cards: 4}
	if a, b := m.Score(EntityDevice, f), again.Score(EntityDevice, f); a != b {
		t.Fatalf("retrained on the same seed: %v, then %v", a, b)
	}
}

func TestEntityModelHit(t *testing.T) {
	t.Parallel()
	m, err := TrainEntityModel(ordinaryEntities(2, 2000), 3)
	if err != nil {
		t.Fatal(err)
	}
	f := EntityFeatures{Customers: 5, Transactions: 6, Cards: 9}
	h, ok := m.Hit("device:d-123", f, 24*time.Hour, 0.3)
	if !ok {
		t.Fatal("no hit on 5 accounts and 9 cards on one device")
	}
	e := m.Score(EntityDevice, f)
	want := "device d-123: counts unusual for a device (forest score "
	if h.Rule != EntityModelRule || h.Entity != "device:d-123" || !strings.HasPrefix(h.Reason, want) ||
		!strings.HasSuffix(h.Reason, "): 5 accounts, 6 transactions, 9 cards in 24 h") || math.Abs(h.Weight-0.3*e) > 1e-4 {
		t.Fatalf("hit %+v (evidence %v)", h, e)
	}
	if h, _ := m.Hit("address:3f9c", f, 90*time.Minute, 0.3); !strings.HasPrefix(h.Reason, "shipping address 3f9c: counts unusual for a shipping address") {
		t.Fatalf("address hit %q", h.Reason)
	}
	if h, _ := m.Hit("card:411111-1234", EntityFeatures{Customers: 6, Transactions: 9, Cards: 1}, 24*time.Hour, 0.3); strings.Contains(h.Reason, "cards") {
		t.Fatalf("a card's hit names its cards: %q", h.Reason)
	}
	if _, ok := m.Hit("device:d-1", EntityFeatures{Customers: 1, Transactions: 1, Cards: 1}, time.Hour, 0.3); ok {
		t.Fatal("hit on an ordinary device")
	}
	if _, ok := m.Hit("device:d-123", f, time.Hour, 0); ok {
		t.Fatal("hit at weight 0")
	}
	var none *EntityModel
	if _, ok := none.Hit("device:d-123", f, time.Hour, 0.3); ok {
		t.Fatal("hit without a model")
	}
	// Alone, at the weight below ReviewAt, a hit never raises an approval.
	if _, d := RaiseRisk(0, Approve, []EntityHit{h}, ScorerConfig{}); d != Approve {
		t.Fatalf("the forest alone raised an approval to %v", d)
	}
}

func TestEntityModelTrainErrors(t *testing.T) {
	t.Parallel()
	if _, err := TrainEntityModel(nil, 1); err == nil {
		t.Fatal("trained on nothing")
	}
	if _, err := TrainEntityModel([]EntitySample{{Kind: "phone"}, {Kind: "phone"}}, 1); err == nil {
		t.Fatal("trained on an unknown kind")
	}
	// One kind with enough rows is a model; the others are not scored.
	m, err := TrainEntityModel([]EntitySample{{Kind: EntityIP, Features: EntityFeatures{1, 1, 1}}, {Kind: EntityIP, Features: EntityFeatures{2, 2, 2}},
		{Kind: EntityDevice, Features: EntityFeatures{1, 1, 1}}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.RawScore(EntityDevice, EntityFeatures{9, 9, 9}); ok || m.Score(EntityDevice, EntityFeatures{9, 9, 9}) != 0 {
		t.Fatal("scored a kind without a forest")
	}
}

func TestEntityModelRoundTrip(t *testing.T) {
	t.Parallel()
	m, err := TrainEntityModel(ordinaryEntities(3, 1000), 5)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got EntityModel
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	for _, s := range ordinaryEntities(4, 50) {
		f := s.Features
		f.Customers *= 3
		if a, b := m.Score(s.Kind, f), got.Score(s.Kind, f); a != b {
			t.Fatalf("%s %+v: %v before encoding, %v after", s.Kind, f, a, b)
		}
	}
	if a, b := m.Kinds(), got.Kinds(); len(a) != len(b) || a[EntityIP] != b[EntityIP] {
		t.Fatalf("kinds %v, decoded %v", a, b)
	}
	// Damage is refused.
	flip := append([]byte(nil), b...)
	flip[len(flip)/2] ^= 1
	if err := got.UnmarshalBinary(flip); !errors.Is(err, ErrBadModel) {
		t.Fatalf("damaged: %v", err)
	}
	if err := got.UnmarshalBinary(b[:len(b)-1]); !errors.Is(err, ErrBadModel) {
		t.Fatalf("truncated: %v", err)
	}
	// The main forest's encoding is not an entity model, nor the reverse.
	var fm ForestModel
	if err := fm.UnmarshalBinary(b); !errors.Is(err, ErrBadModel) {
		t.Fatalf("entity model read as the main forest: %v", err)
	}
	if _, err := (&EntityModel{}).MarshalBinary(); err == nil {
		t.Fatal("encoded an empty model")
	}
}

func FuzzUnmarshalEntityModel(f *testing.F) {
	m, err := TrainEntityModel(ordinaryEntities(5, 300), 1)
	if err != nil {
		f.Fatal(err)
	}
	good, err := m.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:100])
	f.Add([]byte("SSEM\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m EntityModel
		if err := m.UnmarshalBinary(data); err != nil {
			return
		}
		// Whatever decodes must score without panicking.
		for _, k := range EntityKinds {
			if s := m.Score(k, EntityFeatures{Customers: 3, Transactions: 4, Cards: 5}); s < 0 || s > 1 || math.IsNaN(s) {
				t.Fatalf("decoded model scores %v", s)
			}
		}
		if _, err := m.MarshalBinary(); err != nil {
			t.Fatalf("a decoded model does not encode: %v", err)
		}
	})
}

// BenchmarkEntityModelScore is the entity forest's cost per entity event
// in the second step: the evidence of an ordinary device's counts (no
// hit) and of an unusual one's (a hit with its reason).
//
//	go test ./internal/fraud -run '^$' -bench EntityModel
func BenchmarkEntityModelScore(b *testing.B) {
	m, err := TrainEntityModel(ordinaryEntities(1, 20_000), 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ordinary", func(b *testing.B) {
		f := EntityFeatures{Customers: 1, Transactions: 2, Cards: 1}
		for b.Loop() {
			if _, ok := m.Hit("device:d-1", f, 24*time.Hour, 0.1); ok {
				b.Fatal("hit")
			}
		}
	})
	b.Run("hit", func(b *testing.B) {
		f := EntityFeatures{Customers: 5, Transactions: 10, Cards: 10}
		for b.Loop() {
			if _, ok := m.Hit("device:d-1", f, 24*time.Hour, 0.1); !ok {
				b.Fatal("no hit")
			}
		}
	})
}
