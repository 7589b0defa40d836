package fraud

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// TestRingPoolMatchesFixedRing feeds the same events, late ones among
// them, to entities with spilling rings and to fixed rings of entRing
// slots, as device records held them before, and checks that every
// entity holds the same events in the same slots, while most entities,
// seen once, take no ring of the pool and forgetting entities returns
// their rings for reuse.
func TestRingPoolMatchesFixedRing(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var pool ringPool[devEvent]
	var tab table[device]
	tab.release = pool.release
	fixed := map[uint64]*[entRing]devEvent{}
	now := uint32(1_000_000)
	for i := range 20_000 {
		now += uint32(rng.IntN(3))
		at := now
		if rng.IntN(10) == 0 {
			at -= uint32(rng.IntN(600)) // late
		}
		var k uint64
		if rng.IntN(5) == 0 {
			k = uint64(1 + rng.IntN(50)) // busy: many events
		} else {
			k = uint64(1000 + i) // seen once
		}
		e := devEvent{sec: at, card: uint16(1 + rng.IntN(9)), cust: uint16(1 + rng.IntN(9))}
		sec := func(e *devEvent) uint32 { return e.sec }

		d := tab.put(k)
		d.last = max(d.last, at)
		ring := pool.room(d)
		if j := oldest(ring, at, sec); j >= 0 {
			ring[j] = e
		}
		f := fixed[k]
		if f == nil {
			f = new([entRing]devEvent)
			fixed[k] = f
		}
		if j := oldest(f[:], at, sec); j >= 0 {
			f[j] = e
		}
	}
	for k, f := range fixed {
		var got [entRing]devEvent
		copy(got[:], pool.view(tab.get(k)))
		if got != *f {
			t.Fatalf("entity %d holds %v, a fixed ring %v", k, got, *f)
		}
	}
	if n := pool.rings.len(); n != 50 {
		t.Errorf("%d rings in the pool, want one for each of the 50 busy entities", n)
	}

	// Forgetting the busy entities frees their rings; new busy entities
	// take them again rather than growing the pool.
	if n := tab.evict(func(d *device) bool { return pool.view(d)[0] != (devEvent{}) && d.over != 0 }); n != 50 {
		t.Fatalf("evicted %d busy entities, want 50", n)
	}
	if len(pool.free) != 50 {
		t.Fatalf("%d rings free after forgetting the busy entities, want 50", len(pool.free))
	}
	for k := uint64(1); k <= 50; k++ {
		d := tab.put(k)
		for s := uint32(1); s <= 2; s++ {
			pool.room(d)[s-1] = devEvent{sec: s}
		}
	}
	if n, free := pool.rings.len(), len(pool.free); n != 50 || free != 0 {
		t.Errorf("pool of %d rings with %d free after 50 entities spilled again, want 50 and 0", n, free)
	}
	for _, size := range []uintptr{unsafe.Sizeof(device{}), unsafe.Sizeof(network{})} {
		if size != 16 {
			t.Errorf("a device or IP address record takes %d bytes, want 16", size)
		}
	}
	if size := unsafe.Sizeof(card{}); size != 20 {
		t.Errorf("a card record takes %d bytes, want 20", size)
	}
}

// TestEntityRingsCompact checks that after a busy day's devices are
// forgotten the pool shrinks to the rings still in use, and that the
// devices kept score as before.
func TestEntityRingsCompact(t *testing.T) {
	t.Parallel()
	s := testState(t)
	var txs []txn
	for i := range 3000 {
		d := "busy-" + strconv.Itoa(i)
		txs = append(txs, txn{at: time.Duration(i) * time.Second, device: d}, txn{at: time.Duration(i)*time.Second + 1, device: d})
	}
	keep := []txn{{at: 30 * time.Hour, device: "kept"}, {at: 30*time.Hour + time.Minute, device: "kept"}}
	feed(s, txs...)
	feed(s, keep...)
	if n := s.devRings.rings.len(); n != 3001 {
		t.Fatalf("%d rings, want 3001", n)
	}
	probe := txn{at: 30*time.Hour + 2*time.Minute, device: "kept"}
	before := s.Features(probe.event())
	if n := s.Expire(t0.Add(30 * time.Hour)); n < 3000 {
		t.Fatalf("expired %d keys, want the 3000 busy devices at least", n)
	}
	if n, free := s.devRings.rings.len(), len(s.devRings.free); n != 1 || free != 0 {
		t.Errorf("after the busy devices were forgotten the pool holds %d rings, %d free; want 1 and 0", n, free)
	}
	after := s.Features(probe.event())
	if after.Values != before.Values {
		t.Errorf("features of the kept device changed with the compaction:\n%v\n%v", before.Values, after.Values)
	}
	if after.Values[DeviceCount10m] != 3 {
		t.Errorf("DeviceCount10m %v, want 3 (two kept events and the probe)", after.Values[DeviceCount10m])
	}
}
