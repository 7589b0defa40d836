package event

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func sampleLabel() Label {
	return Label{SchemaVersion: LabelSchemaVersion, LabelID: "cb-tx-1", TransactionID: "tx-1", CustomerID: "c-9",
		Kind: LabelChargeback, Fraud: true, Scenario: "card_testing", ReasonCode: "10.4",
		EventTime:       time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC),
		TransactionTime: time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)}
}

func TestLabelRoundTrip(t *testing.T) {
	for _, l := range []Label{sampleLabel(),
		{SchemaVersion: 1, LabelID: "d-1", TransactionID: "tx-2", Kind: LabelDispute, Fraud: false, EventTime: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}} {
		b, err := MarshalLabel(&l)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Fatalf("not JSON: %s", b)
		}
		var back Label
		if err := DecodeLabel(b, &back); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
		if !reflect.DeepEqual(back, l) {
			t.Fatalf("round trip changed the label:\n got %+v\nwant %+v", back, l)
		}
	}
}

func TestDecodeLabelRefuses(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`nope`, "malformed label"},
		{`{"schema_version":2,"label_id":"a","transaction_id":"t","kind":"chargeback","fraud":true,"event_time":"2026-01-01T00:00:00Z"}`, "schema_version 2"},
		{`{"schema_version":1,"transaction_id":"t","kind":"chargeback","fraud":true,"event_time":"2026-01-01T00:00:00Z"}`, "no label_id"},
		{`{"schema_version":1,"label_id":"a","kind":"chargeback","fraud":true,"event_time":"2026-01-01T00:00:00Z"}`, "no transaction_id"},
		{`{"schema_version":1,"label_id":"a","transaction_id":"t","kind":"refund","fraud":true,"event_time":"2026-01-01T00:00:00Z"}`, `kind "refund"`},
		{`{"schema_version":1,"label_id":"a","transaction_id":"t","kind":"analyst","event_time":"2026-01-01T00:00:00Z"}`, "no fraud verdict"},
		{`{"schema_version":1,"label_id":"a","transaction_id":"t","kind":"chargeback","fraud":false,"event_time":"2026-01-01T00:00:00Z"}`, "fraud false"},
		{`{"schema_version":1,"label_id":"a","transaction_id":"t","kind":"analyst","fraud":true}`, "no event_time"},
		{`{"schema_version":1,"label_id":"a","transaction_id":"t","kind":"analyst","fraud":"yes","event_time":"2026-01-01T00:00:00Z"}`, "malformed label"},
		{`{"schema_version":1,"label_id":"` + strings.Repeat("x", 201) + `","transaction_id":"t","kind":"analyst","fraud":true,"event_time":"2026-01-01T00:00:00Z"}`, "label_id longer"},
	} {
		var l Label
		err := DecodeLabel([]byte(c.in), &l)
		if !errors.Is(err, ErrMalformedLabel) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeLabel(%.60s) = %v, want an error with %q", c.in, err, c.want)
		}
		if !reflect.DeepEqual(l, Label{}) {
			t.Errorf("DecodeLabel(%.60s) left %+v behind", c.in, l)
		}
	}
}

// FuzzDecodeLabel: the decoder of label records from Kafka never panics,
// and what it accepts re-encodes and decodes to the same label.
func FuzzDecodeLabel(f *testing.F) {
	l := sampleLabel()
	b, _ := MarshalLabel(&l)
	f.Add(b)
	f.Add([]byte(`{"schema_version":1,"label_id":"a","transaction_id":"t","kind":"dispute","fraud":false,"event_time":"2026-01-01T00:00:00+02:00"}`))
	f.Add([]byte(`{"fraud":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"schema_version":1,"label_id":"a\u0000","transaction_id":"t","kind":"dispute","fraud":false,"event_time":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte("{\"schema_version\":1,\"label_id\":\"a\xff\",\"transaction_id\":\"t\",\"kind\":\"dispute\",\"fraud\":false,\"event_time\":\"2026-01-01T00:00:00Z\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var l Label
		if err := DecodeLabel(data, &l); err != nil {
			return
		}
		for _, v := range []string{l.LabelID, l.TransactionID, l.CustomerID, l.Scenario, l.ReasonCode} {
			if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
				t.Fatalf("accepted a label whose text no store holds alike: %q", v)
			}
		}
		again, err := MarshalLabel(&l)
		if err != nil {
			t.Fatalf("re-encoding an accepted label: %v", err)
		}
		var back Label
		if err := DecodeLabel(again, &back); err != nil {
			t.Fatalf("decoding a re-encoded label %s: %v", again, err)
		}
		if !back.EventTime.Equal(l.EventTime) || !back.TransactionTime.Equal(l.TransactionTime) {
			t.Fatalf("re-encoding changed the times: %+v vs %+v", back, l)
		}
		back.EventTime, back.TransactionTime, l.EventTime, l.TransactionTime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(back, l) {
			t.Fatalf("re-encoding changed the label: %+v vs %+v", back, l)
		}
	})
}
