package cli

import (
	"bytes"
	"context"
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
	"github.com/shopstream/shopstream/internal/privacy"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// serve --ip-hash-key-file: POST /api/v1/score hashes the posted address
// with the processor's key, so a rule on the address's purchases counts
// the stored (hashed) history; without the flag the raw address matches
// none of it. A key file too short is refused, naming the flag.
func TestServeScoresOnHashedIPs(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "ip.key")
	key := []byte("0123456789abcdef0123456789abcdef")
	rules := filepath.Join(dir, "rules.json")
	short := filepath.Join(dir, "short.key")
	for name, b := range map[string][]byte{keyFile: append(key, '\n'), short: []byte("short\n"),
		rules: []byte(`[{"name": "busy_ip", "when": "ip_count_1h >= 4", "weight": 0.5, "reason": "a busy address"}]`)} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	now := time.Now().UTC().Truncate(time.Second)
	mk := func(id string, at time.Time) event.Transaction {
		return event.Transaction{SchemaVersion: event.SchemaVersion, TransactionID: id, CustomerID: "c1", EventTime: at,
			Items: []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: 1000}}, TotalCents: 1000,
			Currency: "EUR", PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: "0001"}, DeviceID: "D1",
			IPAddress: "10.1.2.3", BillingCountry: "DE", ShippingCountry: "DE", Channel: "web"}
	}
	// The history as process --ip-hash-key-file stores it.
	f, err := privacy.New(privacy.Config{IPKey: key})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	part := store.Part{Partition: 0, To: 5}
	for i := range 5 {
		tx := mk(fmt.Sprintf("p%d", i), now.Add(-time.Duration(50-10*i)*time.Minute))
		f.View().Transaction(&tx, nil)
		part.Txs = append(part.Txs, pipeline.NewTx(&tx, 0, int64(i), tx.EventTime, nil))
	}
	err = st.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{part}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(mk("p5", now))
	if err != nil {
		t.Fatal(err)
	}

	score := func(args ...string) web.ScoreResponse {
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
	hashed := score("--ip-hash-key-file", keyFile)
	if hashed.History != 5 || hashed.Decision != "review" || !strings.Contains(string(hashed.Reasons), "busy_ip") {
		t.Errorf("with the key: %+v %s; want the history's address counted (busy_ip)", hashed, hashed.Reasons)
	}
	raw := score()
	if raw.History != 5 || strings.Contains(string(raw.Reasons), "busy_ip") {
		t.Errorf("without the key: %+v %s; the raw address matched the hashed history", raw, raw.Reasons)
	}
	err = Run(context.Background(), []string{"serve", "--data-dir", data, "--ip-hash-key-file", short}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), "-ip-hash-key-file") || !strings.Contains(err.Error(), "at least 32") {
		t.Errorf("serve with a 6-byte key file: %v", err)
	}
}
