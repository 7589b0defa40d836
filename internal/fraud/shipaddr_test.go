package fraud

import (
	"errors"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// feedAddr scores and folds in a transaction of c1 shipped to addr.
func feedAddr(s *State, at time.Duration, device, addr string) Features {
	t := txn{at: at, card: "411111/0001", device: device}.event()
	t.ShippingAddress = addr
	f := s.Features(t)
	s.Update(t, &f)
	return f
}

// TestNewShipAddress: an address is new to a customer known before it for
// a day after its first use, whatever its spelling; a first purchase's
// address, and a record without one, are not new.
func TestNewShipAddress(t *testing.T) {
	t.Parallel()
	s := testState(t)
	home := "Flat 2, 14 Mill Lane, Otley 40213"
	steps := []struct {
		name   string
		at     time.Duration
		device string
		addr   string
		want   map[Feature]float64
	}{
		{"first purchase", -40 * 24 * time.Hour, "home", home, map[Feature]float64{NewShipAddress: 0, FirstPurchase: 1}},
		{"home again, spelt another way", -20 * 24 * time.Hour, "home", "FLAT 2 14 MILL LANE  OTLEY 40213.", map[Feature]float64{NewShipAddress: 0}},
		{"no address", -10 * 24 * time.Hour, "home", "", map[Feature]float64{NewShipAddress: 0}},
		{"a drop from a new device", -2 * time.Hour, "thief", "9 Dock Road, Hull 11002", map[Feature]float64{NewShipAddress: 1, NewDevice: 1}},
		{"the drop still new within a day", -1 * time.Hour, "home", "9 dock road hull 11002", map[Feature]float64{NewShipAddress: 1, NewDevice: 0}},
		{"home is not new", 0, "home", home, map[Feature]float64{NewShipAddress: 0}},
		{"the drop known a day later", 23 * time.Hour, "home", "9 Dock Road, Hull 11002", map[Feature]float64{NewShipAddress: 0}},
	}
	for _, st := range steps {
		f := feedAddr(s, st.at, st.device, st.addr)
		t.Run(st.name, func(t *testing.T) { checkFeatures(t, f, st.want) })
	}
}

// TestNewShipAddressReplayedFromKeys: a state rebuilt from stored rows,
// which carry the address's key, not the address, knows the addresses the
// live state knew, with or without a deployment's key.
func TestNewShipAddressReplayedFromKeys(t *testing.T) {
	t.Parallel()
	live, replayed := testState(t), testState(t)
	for i, a := range []string{"1 High St, Leeds", "22 Low Rd, York"} {
		feedAddr(live, time.Duration(i-50)*24*time.Hour, "home", a)
		feedAddr(replayed, time.Duration(i-50)*24*time.Hour, "home", event.AddressKey(nil, a))
	}
	for _, s := range []*State{live, replayed} {
		checkFeatures(t, feedAddr(s, 0, "home", "1 high st leeds"), map[Feature]float64{NewShipAddress: 0})
		checkFeatures(t, feedAddr(s, time.Hour, "home", "3 Other Way"), map[Feature]float64{NewShipAddress: 1})
	}
	// Keyed with a deployment's secret: a replay of the rows stored with
	// that key knows the live addresses, a replay of the unkeyed keys not.
	secret := []byte("a deployment's secret of 32 byte")
	keyed := func() *State {
		s, err := NewState(StateConfig{AddressKey: secret})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	live, replayed, unkeyed := keyed(), keyed(), keyed()
	feedAddr(live, -5*24*time.Hour, "home", "1 High St")
	feedAddr(replayed, -5*24*time.Hour, "home", event.AddressKey(secret, "1 High St"))
	feedAddr(unkeyed, -5*24*time.Hour, "home", event.AddressKey(nil, "1 High St"))
	for _, s := range []*State{live, replayed} {
		checkFeatures(t, feedAddr(s, 0, "home", "1 HIGH ST"), map[Feature]float64{NewShipAddress: 0})
	}
	checkFeatures(t, feedAddr(unkeyed, 0, "home", "1 HIGH ST"), map[Feature]float64{NewShipAddress: 1})
}

// TestCheckpointKeepsAddresses: the addresses survive a checkpoint, and a
// checkpoint of the version before them is refused (the partition is then
// replayed) rather than restored without them.
func TestCheckpointKeepsAddresses(t *testing.T) {
	t.Parallel()
	s := testState(t)
	feedAddr(s, -30*24*time.Hour, "home", "1 High St, Leeds")
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := testState(t)
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	checkFeatures(t, feedAddr(r, 0, "home", "1 High St, Leeds"), map[Feature]float64{NewShipAddress: 0})
	old := append([]byte(nil), b...)
	old[len(checkpointMagic)] = 1
	if err := testState(t).UnmarshalBinary(old); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("a version 1 checkpoint: %v, want ErrBadCheckpoint", err)
	}
}
