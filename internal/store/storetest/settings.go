package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"sync"
	"testing"

	"github.com/shopstream/shopstream/internal/store"
)

// testAddressKey: the first candidate stored is the deployment's key;
// later candidates, and candidates racing it, read that one; a short
// candidate is refused.
func testAddressKey(t *testing.T, s store.Store) {
	ctx := context.Background()
	ss, ok := s.(store.Settings)
	if !ok {
		t.Skipf("%T keeps no settings", s)
	}
	const n = 8
	keys := make([][]byte, n)
	cands := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		cands[i] = make([]byte, store.AddressKeyLen)
		rand.Read(cands[i])
		wg.Go(func() {
			k, err := ss.AddressKey(ctx, cands[i])
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	won := 0
	for i, k := range keys {
		if !bytes.Equal(k, keys[0]) {
			t.Fatalf("process %d read key %x, process 0 %x", i, k, keys[0])
		}
		if bytes.Equal(k, cands[i]) {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d racing candidates are the key, want 1", won, n)
	}
	again, err := ss.AddressKey(ctx, bytes.Repeat([]byte{1}, store.AddressKeyLen))
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Fatalf("a later process read %x (%v), want %x", again, err, keys[0])
	}
	if _, err := ss.AddressKey(ctx, []byte("short")); err == nil {
		t.Error("a 5-byte candidate was accepted")
	}
}

// RunAddressKeyAcross: two processes on one database (two stores opened
// at one location, at once) read one address key, and two deployments
// (two databases) have different keys. fresh makes a new database and
// returns its location; openAt opens a store at a location, closing it
// when the test ends.
func RunAddressKeyAcross(t *testing.T, fresh func(t *testing.T) string, openAt func(t *testing.T, loc string) store.Store) {
	ctx := context.Background()
	key := func(s store.Store) []byte {
		t.Helper()
		c := make([]byte, store.AddressKeyLen)
		rand.Read(c)
		k, err := s.(store.Settings).AddressKey(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	one, other := fresh(t), fresh(t)
	p1, p2 := openAt(t, one), openAt(t, one)
	k1, k2 := key(p1), key(p2)
	if !bytes.Equal(k1, k2) {
		t.Fatalf("two processes on one database read keys %x and %x", k1, k2)
	}
	if k := key(openAt(t, other)); bytes.Equal(k, k1) {
		t.Fatalf("two deployments share the address key %x", k)
	}
}
