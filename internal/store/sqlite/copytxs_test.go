package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// TestCopyTxsLiterals writes batches whose columns are partly the same in
// every row (written into the statement as literals) and partly not
// (bound), with values a literal gets wrong if quoted or typed carelessly,
// and reads every column back with its SQLite type: each must hold what
// was given, whichever way it went in.
func TestCopyTxsLiterals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2011, 3, 4, 5, 6, 7, 890000000, time.UTC)
	base := func(id string, off int64) store.Tx {
		return store.Tx{TransactionID: id, CustomerID: "O'Brien '' x", EventTime: at, TotalCents: 0, Currency: "GBP",
			PaymentMethod: "", Channel: "web", CardBIN: "", CardLast4: "", DeviceID: "dev\x00ice", IPAddress: "\xff\xfe",
			BillingCountry: "GB", ShippingCountry: "GB", ItemsJSON: []byte(`[{"sku":"it's"}]`), Partition: -1, Offset: off,
			Risk: 0.25, Decision: "approve", ReasonsJSON: []byte("[]"), ShadowRisk: 2, HasShadow: true, ProducedAt: at,
			IPCountry: "GB", IPHosting: true}
	}
	// Three rows sharing all but their id and offset; risk 0.25 is the
	// same in all but is not a whole number, so it is bound.
	shared := []store.Tx{base("t1", 0), base("t2", 1), base("t3", 2)}
	// Rows differing in every column that can differ.
	varied := []store.Tx{base("t4", 3), base("t5", 4)}
	v := &varied[1]
	v.CustomerID, v.EventTime, v.TotalCents, v.Currency, v.DeviceID, v.IPAddress = "c5", at.Add(time.Hour), 1234, "EUR", "d5", "10.0.0.1"
	v.ItemsJSON, v.Risk, v.HasShadow, v.Features, v.IPHosting = []byte(`[]`), -3, false, []float32{1.5, -2}, false
	v.Partition, v.Decision, v.ReasonsJSON = -1, "review", []byte(`["x"]`)
	// One row alone: every column a literal.
	single := []store.Tx{base("t6", 5)}
	single[0].Risk, single[0].ShadowRisk = math.Copysign(0, -1), -7 // a negative zero is bound, not written as a literal
	var next int64
	for _, txs := range [][]store.Tx{shared, varied, single} {
		p := store.Part{Partition: -1, From: next, To: next + int64(len(txs)), Txs: txs}
		next = p.To
		if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "literals", Parts: []store.Part{p}}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, txs := range [][]store.Tx{shared, varied, single} {
		for _, tx := range txs {
			var got string
			err := db.QueryRow(`SELECT hex(customer_id) || '|' || event_time || '|' || total_cents || '|' || currency || '|' ||
				hex(device_id) || '|' || hex(ip_address) || '|' || items || '|' || kafka_partition || '|' || kafka_offset || '|' ||
				quote(risk) || '|' || typeof(risk) || '|' || decision || '|' || reasons || '|' || quote(shadow_risk) || '|' ||
				typeof(shadow_risk) || '|' || CASE WHEN features IS NULL THEN 'NULL' ELSE hex(features) END || '|' || produced_at || '|' || ip_hosting || '|' ||
				typeof(customer_id) || typeof(device_id) || typeof(event_time) || typeof(ip_hosting)
				FROM transactions WHERE transaction_id = ?`, tx.TransactionID).Scan(&got)
			if err != nil {
				t.Fatalf("%s: %v", tx.TransactionID, err)
			}
			shadow, shadowType := "NULL", "null"
			if tx.HasShadow {
				shadow, shadowType = fmt.Sprintf("%.1f", tx.ShadowRisk), "real"
			}
			feats := "NULL"
			if tx.Features != nil {
				feats = "0000C03F000000C0" // 1.5, -2 as little-endian float32
			}
			hosting := 0
			if tx.IPHosting {
				hosting = 1
			}
			want := strings.Join([]string{hexOf(tx.CustomerID), fmt.Sprint(tx.EventTime.UnixMicro()), fmt.Sprint(tx.TotalCents), tx.Currency,
				hexOf(tx.DeviceID), hexOf(tx.IPAddress), string(tx.ItemsJSON), fmt.Sprint(tx.Partition), fmt.Sprint(tx.Offset),
				sqliteReal(tx.Risk), "real", tx.Decision, string(tx.ReasonsJSON), shadow, shadowType, feats,
				fmt.Sprint(tx.ProducedAt.UnixMicro()), fmt.Sprint(hosting), "texttextintegerinteger"}, "|")
			if got != want {
				t.Errorf("%s stored as\n %s\nwant\n %s", tx.TransactionID, got, want)
			}
		}
	}
}

// hexOf is s's bytes as SQLite's hex() prints them.
func hexOf(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) }

// sqliteReal is how SQLite's quote() prints a real.
func sqliteReal(f float64) string {
	if f == 0 {
		return "0.0" // a negative zero too
	}
	if f == float64(int64(f)) {
		return fmt.Sprintf("%.1f", f)
	}
	return fmt.Sprint(f)
}
