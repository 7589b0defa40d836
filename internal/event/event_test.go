package event

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func sample() Transaction {
	return Transaction{SchemaVersion: 1, TransactionID: "t1", CustomerID: "c1",
		EventTime: time.Date(2026, 11, 24, 18, 3, 12, 123e6, time.UTC),
		Items: []Item{{ProductID: "P1", Category: "electronics", Quantity: 1, UnitPriceCents: 19999},
			{ProductID: "P\"2", Category: "acc\nessories", Quantity: 2, UnitPriceCents: 950}},
		TotalCents: 21899, Currency: "EUR", PaymentMethod: "card", Card: Card{BIN: "411111", Last4: "4242"},
		DeviceID: "d", IPAddress: "81.2.69.160", BillingCountry: "DE", ShippingCountry: "DE", Channel: "web"}
}

func TestRoundTrip(t *testing.T) {
	in := sample()
	b, err := Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"total_amount":218.99`)) || !bytes.Contains(b, []byte(`"unit_price":9.50`)) {
		t.Fatalf("money not written with two decimals: %s", b)
	}
	var out Transaction
	if err := Decode(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.TotalCents != in.TotalCents || out.ItemsCents() != 21899 || !out.EventTime.Equal(in.EventTime) || out.Items[1].ProductID != `P"2` {
		t.Fatalf("round trip changed the transaction: %+v", out)
	}
}

func TestCents(t *testing.T) {
	tests := []struct {
		json string
		want Cents
		ok   bool
	}{
		{"0", 0, true}, {"12.34", 1234, true}, {"0.1", 10, true}, {"0.015", 2, true}, {"-3.5", -350, true},
		{"1e2", 10000, true}, {`"12"`, 0, false}, {"1e300", 0, false}, {"true", 0, false},
	}
	for _, tc := range tests {
		var c Cents
		err := c.UnmarshalJSON([]byte(tc.json))
		if (err == nil) != tc.ok || (tc.ok && c != tc.want) {
			t.Errorf("Cents(%s) = %d, %v; want %d, ok=%v", tc.json, c, err, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		c    Cents
		want string
	}{{0, "0.00"}, {5, "0.05"}, {1234, "12.34"}, {-7, "-0.07"}, {-12345, "-123.45"}} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("Cents(%d).String() = %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestAppendItemsJSONIsValidJSON(t *testing.T) {
	tx := sample()
	tx.Items = append(tx.Items, Item{ProductID: "\x01\xff€", Category: `\`, Quantity: 3, UnitPriceCents: 1})
	b := AppendItemsJSON(nil, tx.Items)
	var items []struct {
		ProductID string  `json:"product_id"`
		Category  string  `json:"category"`
		Quantity  int     `json:"quantity"`
		UnitPrice float64 `json:"unit_price"`
	}
	if err := json.Unmarshal(b, &items); err != nil {
		t.Fatalf("AppendItemsJSON wrote invalid JSON %s: %v", b, err)
	}
	if len(items) != 3 || items[1].ProductID != `P"2` || items[2].Category != `\` || items[0].UnitPrice != 199.99 {
		t.Fatalf("items decoded as %+v", items)
	}
}

// FuzzDecode: the decoder of records from Kafka never panics, and what it
// accepts re-encodes and decodes to the same transaction.
func FuzzDecode(f *testing.F) {
	s := sample()
	b, _ := Marshal(&s)
	f.Add(b)
	f.Add([]byte(`{"items":[{"unit_price":"x"}]}`))
	f.Add([]byte(`{"total_amount":1e400}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tx Transaction
		if err := Decode(data, &tx); err != nil {
			return
		}
		again, err := Marshal(&tx)
		if err != nil {
			t.Fatalf("re-encoding an accepted record: %v", err)
		}
		var back Transaction
		if err := Decode(again, &back); err != nil {
			t.Fatalf("decoding a re-encoded record %s: %v", again, err)
		}
		if back.TotalCents != tx.TotalCents || back.TransactionID != tx.TransactionID || len(back.Items) != len(tx.Items) {
			t.Fatalf("re-encoding changed the record: %+v vs %+v", back, tx)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	s := sample()
	raw, _ := Marshal(&s)
	var tx Transaction
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := Decode(raw, &tx); err != nil {
			b.Fatal(err)
		}
	}
}
