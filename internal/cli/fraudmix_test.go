package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

func TestFraudMixFlag(t *testing.T) {
	t.Parallel()
	var f fraudMixFlag
	if f.mix() != nil {
		t.Fatal("unset flag must leave the generator's default")
	}
	if err := f.Set("fraud_ring=0.1, bot_burst=0"); err != nil {
		t.Fatal(err)
	}
	m := f.mix()
	if m["fraud_ring"] != 0.1 || m["bot_burst"] != 0 || m["card_testing"] != 0.25 {
		t.Errorf("mix %v: want fraud_ring 0.1 and bot_burst 0 over the defaults", m)
	}
	if got := f.String(); got != "bot_burst=0,fraud_ring=0.1" {
		t.Errorf("String() = %q", got)
	}
	for _, bad := range []string{"fraud_rings=1", "fraud_ring", "fraud_ring=-1", "fraud_ring=x"} {
		var g fraudMixFlag
		err := g.Set(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if strings.HasPrefix(bad, "fraud_rings") && !strings.Contains(err.Error(), "friendly_fraud") {
			t.Errorf("%q: error %q does not list the known scenarios", bad, err)
		}
	}
}

func TestEntityFlagsValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f    entityFlags
		flag string
	}{
		{entityFlags{on: true, window: time.Second, minRing: 3, maxEvents: 5000}, "-entity-window"},
		{entityFlags{on: true, window: time.Hour, minRing: 1, maxEvents: 5000}, "-entity-min-ring"},
		{entityFlags{on: true, window: time.Hour, minRing: 3, maxEvents: 5}, "-entity-max-events"},
		{entityFlags{on: true, window: time.Hour, minRing: 3, maxEvents: 5000, model: true}, "-entity-model-weight"},
	} {
		err := c.f.validate()
		if err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%+v: %v, want an error naming %s", c.f, err, c.flag)
		}
	}
	on := entityFlags{on: true, window: time.Hour, minRing: 3, maxEvents: 5000}
	if on.validate() != nil || on.repartition() == nil || len(on.topics()) != 1 {
		t.Error("an entity stage that is on queues no repartition records")
	}
	if off := (entityFlags{window: time.Hour, minRing: 3}); off.repartition() != nil || off.topics() != nil {
		t.Error("an entity stage that is off queues repartition records")
	}
}

// TestRunFraudMix: run's mix is the default with the rings and spread card
// testing; pairs given are laid over it.
func TestRunFraudMix(t *testing.T) {
	t.Parallel()
	f := fraudMixFlag{base: runFraudMix}
	if m := f.mix(); m["fraud_ring"] != 0.1 || m["card_testing_spread"] != 0.05 || m["card_testing"] != 0.25 || m["friendly_fraud"] != 0 {
		t.Errorf("run's mix %v", m)
	}
	if err := f.Set("fraud_ring=0"); err != nil {
		t.Fatal(err)
	}
	if m := f.mix(); m["fraud_ring"] != 0 || m["card_testing_spread"] != 0.05 {
		t.Errorf("fraud_ring=0 over run's mix: %v", m)
	}
	if runFraudMix["fraud_ring"] != 0.1 {
		t.Error("setting the flag changed run's default mix")
	}
}

// TestEntityRepartitionSince: with since set (run), transactions older
// than it get no repartition records, the others one per entity.
func TestEntityRepartitionSince(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	f := entityFlags{on: true, window: 24 * time.Hour, minRing: 3, maxEvents: 5000, since: since}
	hook := f.repartition()
	row := store.Tx{TransactionID: "t1", CustomerID: "c1", DeviceID: "d1", CardBIN: "411111", CardLast4: "1234", IPAddress: "10.0.0.1",
		EventTime: since.Add(-time.Second)}
	if out := hook(&row, nil); len(out) != 0 {
		t.Errorf("a transaction before since queued %d repartition records", len(out))
	}
	row.EventTime = since
	if out := hook(&row, nil); len(out) != 3 {
		t.Errorf("a transaction at since queued %d repartition records, want 3", len(out))
	}
}
