package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// serve keys a posted shipping address with the deployment's key, the
// store's unless --address-key-file gives another: with the store's, the
// customer's home, stored keyed by a processor of the deployment, is not
// new to the customer; with another key it is; and with none stored, serve
// stores one that a later process reads.
func TestServeKeysAddressesAsTheStore(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.json")
	otherKey := filepath.Join(dir, "other.key")
	for name, b := range map[string][]byte{otherKey: []byte("another deployment's 32-byte key\n"),
		rules: []byte(`[{"name": "new_address", "when": "new_ship_address", "weight": 0.5, "reason": "an address new to the customer"}]`)} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	now := time.Now().UTC().Truncate(time.Second)
	mk := func(id string, at time.Time, addr string) event.Transaction {
		return event.Transaction{SchemaVersion: event.SchemaVersion, TransactionID: id, CustomerID: "c1", EventTime: at,
			Items: []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: 1000}}, TotalCents: 1000,
			Currency: "EUR", PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: "0001"}, DeviceID: "D1",
			IPAddress: "10.1.2.3", BillingCountry: "DE", ShippingCountry: "DE", ShippingAddress: addr, Channel: "web"}
	}
	// The history as a processor of the deployment stores it: keyed with
	// the store's key, taken as the first process takes it.
	st, err := sqlite.Open(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	candidate := make([]byte, store.AddressKeyLen)
	rand.Read(candidate)
	key, err := st.AddressKey(context.Background(), candidate)
	if err != nil {
		t.Fatal(err)
	}
	part := store.Part{Partition: 0, To: 3}
	for i := range 3 {
		tx := mk(fmt.Sprintf("p%d", i), now.Add(-time.Duration(30-i)*24*time.Hour), "Flat 2, 14 Mill Lane, Otley 40213")
		row := pipeline.NewTx(&tx, 0, int64(i), tx.EventTime, nil)
		row.ShippingAddress = event.AddressKey(key, tx.ShippingAddress)
		part.Txs = append(part.Txs, row)
	}
	err = st.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{part}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(mk("p3", now, "FLAT 2 14 MILL LANE  OTLEY 40213."))
	if err != nil {
		t.Fatal(err)
	}
	score := func(data string, args ...string) web.ScoreResponse {
		t.Helper()
		urls := make(chan string, 1)
		stdout := &watchWriter{want: regexp.MustCompile(`dashboard on (http://127\.0\.0\.1:\d+)`)}
		stdout.found = func() { urls <- stdout.want.FindStringSubmatch(stdout.buf.String())[1] }
		stderr := &watchWriter{}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", data, "--rules", rules}, args...), stdout, stderr)
		}()
		var url string
		select {
		case url = <-urls:
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, stderr.String())
		}
		resp, err := http.Post(url+"/api/v1/score", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var v web.ScoreResponse
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		cancel()
		if runErr := <-done; runErr != nil {
			t.Fatalf("serve: %v\n%s", runErr, stderr.String())
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /api/v1/score: %d, %v", resp.StatusCode, err)
		}
		return v
	}
	if v := score(data); v.History != 3 || strings.Contains(string(v.Reasons), "new_address") {
		t.Errorf("with the store's key: %+v %s; the customer's home taken for a new address", v, v.Reasons)
	}
	if v := score(data, "--address-key-file", otherKey); v.History != 3 || !strings.Contains(string(v.Reasons), "new_address") {
		t.Errorf("with another key: %+v %s; want the home new (keyed otherwise than the history)", v, v.Reasons)
	}
	// A fresh deployment: serve stores a key, which the next process reads.
	fresh := filepath.Join(dir, "fresh")
	score(fresh)
	st, err = sqlite.Open(context.Background(), fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, err := st.AddressKey(context.Background(), candidate)
	if err != nil || bytes.Equal(k, candidate) || bytes.Equal(k, key) || len(k) != store.AddressKeyLen {
		t.Errorf("the fresh store's key %x (%v): want the one serve stored, neither the candidate nor the other store's", k, err)
	}
}
