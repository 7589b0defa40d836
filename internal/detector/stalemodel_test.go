package detector_test

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// oldLayout rewrites a model's encoding as a build without the last
// feature wrote it: its feature names one fewer, the CRC-32C made again.
func oldLayout(t *testing.T, b []byte) []byte {
	t.Helper()
	const head = len("SSFM") + 1
	n, k := binary.Uvarint(b[head:])
	if n != uint64(fraud.NumFeatures) {
		t.Fatalf("model of %d features, want %d", n, fraud.NumFeatures)
	}
	p := head + k
	var names []byte
	for range n - 1 {
		l, k := binary.Uvarint(b[p:])
		names = append(names, b[p:p+k+int(l)]...)
		p += k + int(l)
	}
	l, k := binary.Uvarint(b[p:])
	p += k + int(l) // the last name, dropped
	out := append([]byte(nil), b[:head]...)
	out = binary.AppendUvarint(out, n-1)
	out = append(out, names...)
	out = append(out, b[p:len(b)-4]...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crc32.MakeTable(crc32.Castagnoli)))
}

// TestStaleActiveModelRetrained: a stored active model trained on the
// features of the build before new_ship_address is refused by the
// watcher (the processor scores with the rules alone, no crash, no
// mis-read vector), and the trainer replaces it at its next check,
// within its interval, with a version of this build's features, active
// at once; the watcher then scores with it.
func TestStaleActiveModelRetrained(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	det := newDetector(t)
	w := detector.NewModelWatcher(det, st, detector.WatchConfig{Logger: quiet})

	old := oldLayout(t, tinyModel(t, 1))
	var fm fraud.ForestModel
	if err := fm.UnmarshalBinary(old); err == nil || !strings.Contains(err.Error(), "different features") {
		t.Fatalf("the old layout decodes: %v", err)
	}
	if _, err := st.SaveFraudModel(ctx, store.FraudModel{Status: store.StatusActive, Params: old, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if det.Active() != nil {
		t.Fatal("a model of other features is in use")
	}
	// Scoring goes on with the rules alone.
	shop := newShop(t, st, det, 7, 2)
	shop.feed(6_000)

	clk := &clock{now: time.Now()}
	tr, err := detector.NewTrainer(det, st, detector.TrainConfig{Now: clk.Now, Logger: quiet, MinRows: 250, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, st); got != "2:active 1:retired" {
		t.Fatalf("after the trainer's first check: %s, want 2:active 1:retired", got)
	}
	m, err := st.FraudModel(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Note, "replaces version 1") {
		t.Errorf("note %q", m.Note)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if a := det.Active(); a == nil || a.Version != 2 {
		t.Fatalf("in use after the retraining: %+v, want version 2", a)
	}
	// The new version is of this build: the next check is on schedule.
	if err := tr.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, st); got != "2:active 1:retired" {
		t.Fatalf("a check within the interval: %s", got)
	}
}

// TestTransactionOfKeepsTheAddressKey: the event rebuilt from a stored row
// (partition replay, the score API's history) carries the row's address
// key, which the feature state takes as a key, so a replayed state knows
// the customers' addresses (new_ship_address).
func TestTransactionOfKeepsTheAddressKey(t *testing.T) {
	row := store.Tx{TransactionID: "t1", CustomerID: "c1", ShippingAddress: "0123456789abcdef"}
	if got := detector.TransactionOf(&row).ShippingAddress; got != row.ShippingAddress {
		t.Fatalf("shipping address %q, want the row's key %q", got, row.ShippingAddress)
	}
}
