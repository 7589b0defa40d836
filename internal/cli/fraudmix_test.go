package cli

import (
	"strings"
	"testing"
	"time"
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
