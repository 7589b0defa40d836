package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
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
		{"0", 0, true}, {"12.34", 1234, true}, {"0.1", 10, true}, {"0.015", 0, false}, {"-3.5", -350, true},
		{"1e2", 10000, true}, {`"12"`, 0, false}, {"1e300", 0, false}, {"true", 0, false},
		{"0.1000", 10, true}, {"1.23e1", 1230, true}, {"1234E-2", 1234, true}, {"0.29", 29, true},
		{"1.13", 113, true}, {"4.35", 435, true}, {"0e999", 0, true}, {"-0.0", 0, true}, {"null", 0, true},
		{"01", 0, false}, {"1.", 0, false}, {".5", 0, false}, {"+1", 0, false}, {"1e", 0, false}, {"1e+", 0, false},
		{"--1", 0, false}, {"1.2.3", 0, false}, {"0x10", 0, false}, {"1_000", 0, false}, {"NaN", 0, false},
		{"Infinity", 0, false}, {"12345678901234567890", 0, false}, {"10000000000000.01", 0, false},
		{"9999999999999.99", 999999999999999, true}, {"1e-400", 0, false},
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

func TestMoneyInCurrency(t *testing.T) {
	tests := []struct {
		currency, total, price string
		want                   Cents // total, in minor units; price is total/2
		err                    error // nil, ErrPrecision, or ErrMalformed for other errors
	}{
		{"EUR", "12.34", "6.17", 1234, nil},
		{"EUR", "12.3", "6.15", 1230, nil},
		{"EUR", "12.345", "6.17", 0, ErrPrecision},
		{"EUR", "12.34", "6.175", 0, ErrPrecision},
		{"EUR", "12.340000", "6.1700", 1234, nil}, // trailing zeros add no precision
		{"JPY", "1234", "617", 1234, nil},
		{"JPY", "1234.00", "617.0", 1234, nil},
		{"JPY", "1234.5", "617", 0, ErrPrecision},
		{"JPY", "12.34", "6.17", 0, ErrPrecision},
		{"JPY", "1.234e3", "6.17e2", 1234, nil},
		{"BHD", "12.345", "6.1725", 0, ErrPrecision},
		{"BHD", "12.346", "6.173", 12346, nil},
		{"BHD", "0.002", "0.001", 2, nil},
		{"BHD", "12.3", "6.15", 12300, nil},
		{"KWD", "1.0005", "0.5", 0, ErrPrecision},
		{"CLF", "1.2346", "0.6173", 12346, nil},
		{"", "12.34", "6.17", 1234, nil},    // missing currency: two decimals
		{"XBT", "12.34", "6.17", 1234, nil}, // unknown currency: two decimals
		{"XBT", "0.0001", "0", 0, ErrPrecision},
		{"EUR", "1e14", "1", 0, ErrMalformed}, // beyond 10^13 major units
		{"JPY", "9999999999999", "1", 9999999999999, nil},
	}
	for _, tc := range tests {
		raw := `{"schema_version":1,"transaction_id":"t","currency":"` + tc.currency + `","total_amount":` + tc.total +
			`,"items":[{"product_id":"p","quantity":2,"unit_price":` + tc.price + `}]}`
		var tx Transaction
		err := Decode([]byte(raw), &tx)
		switch {
		case tc.err == nil && err != nil:
			t.Errorf("%s %s / %s: %v", tc.currency, tc.total, tc.price, err)
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("%s %s / %s: error %v, want %v", tc.currency, tc.total, tc.price, err, tc.err)
		case tc.err == ErrPrecision && (!errors.Is(err, ErrMalformed) || tx.Currency != tc.currency || tx.TransactionID != "t"):
			t.Errorf("%s %s / %s: a precision error %v must wrap ErrMalformed and keep the record (%+v)", tc.currency, tc.total, tc.price, err, tx)
		case tc.err == nil && tx.TotalCents != tc.want:
			t.Errorf("%s %s: total %d minor units, want %d", tc.currency, tc.total, tx.TotalCents, tc.want)
		case tc.err == nil && tx.Items[0].UnitPriceCents*2 != tc.want && tc.price != "1":
			t.Errorf("%s %s: unit price %d minor units, want %d", tc.currency, tc.price, tx.Items[0].UnitPriceCents, tc.want/2)
		}
	}
}

// TestDecodeKeepsNothingFromTheLastRecord: the decoding form is recycled,
// so a field absent from a record must not come from the one before.
func TestDecodeKeepsNothingFromTheLastRecord(t *testing.T) {
	var tx Transaction
	full := `{"currency":"EUR","total_amount":3,"items":[{"product_id":"a","category":"books","quantity":1,"unit_price":1},` +
		`{"product_id":"b","category":"toys","quantity":2,"unit_price":1}]}`
	if err := Decode([]byte(full), &tx); err != nil {
		t.Fatal(err)
	}
	if err := Decode([]byte(`{"items":[{"unit_price":"x"}]}`), &tx); err == nil {
		t.Fatal("a price as a string was accepted")
	}
	if err := Decode([]byte(`{"currency":"EUR","items":[{"quantity":1},{}]}`), &tx); err != nil {
		t.Fatal(err)
	}
	if tx.TotalCents != 0 || len(tx.Items) != 2 || tx.Items[0] != (Item{Quantity: 1}) || tx.Items[1] != (Item{}) {
		t.Fatalf("the second record kept fields of the first: %+v", tx)
	}
}

// TestWireHasEveryField: Decode's wire form reads every field of the
// transaction and its items.
func TestWireHasEveryField(t *testing.T) {
	tags := func(v any) map[string]bool {
		m := map[string]bool{}
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			if tag := rt.Field(i).Tag.Get("json"); tag != "-" { // "-": not on the wire
				m[tag] = true
			}
		}
		return m
	}
	for _, pair := range [][2]any{{Transaction{}, wireTx{}}, {Item{}, wireItem{}}} {
		want, got := tags(pair[0]), tags(pair[1])
		for tag := range want {
			if !got[tag] {
				t.Errorf("%T has no field for %q of %T", pair[1], tag, pair[0])
			}
		}
		if len(got) != len(want) {
			t.Errorf("%T has %d fields, %T %d", pair[1], len(got), pair[0], len(want))
		}
	}
}

func TestMarshalInCurrency(t *testing.T) {
	for _, tc := range []struct {
		currency     string
		total, price Cents
		want         string
	}{
		{"EUR", 21899, 19999, `"total_amount":218.99`},
		{"JPY", 21899, 19999, `"total_amount":21899,`},
		{"BHD", 21899, 19999, `"total_amount":21.899`},
		{"BHD", -5, 19999, `"total_amount":-0.005`},
		{"CLF", 7, 1, `"total_amount":0.0007`},
	} {
		in := sample()
		in.Currency, in.TotalCents, in.Items = tc.currency, tc.total, in.Items[:1]
		in.Items[0].UnitPriceCents = tc.price
		b, err := Marshal(&in)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(tc.want)) {
			t.Errorf("%s %d written as %s, want %s", tc.currency, tc.total, b, tc.want)
		}
		var out Transaction
		if err := Decode(b, &out); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
		if out.TotalCents != tc.total || out.Items[0].UnitPriceCents != tc.price {
			t.Errorf("%s: round trip gave %d and %d, want %d and %d", tc.currency, out.TotalCents, out.Items[0].UnitPriceCents, tc.total, tc.price)
		}
		var std map[string]any
		if err := json.Unmarshal(b, &std); err != nil {
			t.Errorf("Marshal wrote invalid JSON %s: %v", b, err)
		}
	}
}

func TestAppendItemsJSONIn(t *testing.T) {
	items := []Item{{ProductID: "p", Quantity: 1, UnitPriceCents: 1500}}
	for cur, want := range map[string]string{"EUR": `"unit_price":15.00}`, "JPY": `"unit_price":1500}`, "KWD": `"unit_price":1.500}`} {
		if b := AppendItemsJSONIn(nil, items, cur); !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s: %s, want %s", cur, b, want)
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
	f.Add([]byte(`{"currency":"JPY","total_amount":1234,"items":[{"unit_price":617.0,"quantity":2}]}`))
	f.Add([]byte(`{"currency":"BHD","total_amount":1.2345e1,"items":[]}`))
	f.Add([]byte(`{"currency":"EUR","total_amount":-0.10,"items":null}`))
	s.ShippingAddress = "Flat 3, 27 St John's Road, Leeds LS6 1AB"
	b, _ = Marshal(&s)
	f.Add(b)
	f.Add([]byte(`{"shipping_address":"\u00e9\"\n","total_amount":1}`))
	f.Add([]byte(`{"shipping_address":5}`))
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
		if back.TotalCents != tx.TotalCents || back.TransactionID != tx.TransactionID || len(back.Items) != len(tx.Items) ||
			utf8.ValidString(tx.ShippingAddress) && back.ShippingAddress != tx.ShippingAddress {
			t.Fatalf("re-encoding changed the record: %+v vs %+v", back, tx)
		}
		if AddressKey(nil, back.ShippingAddress) != AddressKey(nil, tx.ShippingAddress) {
			t.Fatalf("re-encoding changed the address's key: %q to %q", tx.ShippingAddress, back.ShippingAddress)
		}
		for i := range tx.Items {
			if back.Items[i].UnitPriceCents != tx.Items[i].UnitPriceCents {
				t.Fatalf("re-encoding changed items[%d].unit_price from %d to %d (%s)", i, tx.Items[i].UnitPriceCents, back.Items[i].UnitPriceCents, again)
			}
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
