package entitystage

import (
	"errors"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

func TestMessagesRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	row := &store.Tx{TransactionID: "t1", CustomerID: "c1", CardBIN: "411111", CardLast4: "0042", DeviceID: "d9",
		IPAddress: "10.0.0.7", EventTime: at, ProducedAt: at.Add(time.Second)}
	msgs := Messages("")(row, nil)
	want := []string{"device:d9", "card:411111-0042", "ip:10.0.0.7"}
	if len(msgs) != len(want) {
		t.Fatalf("%d messages, want %d", len(msgs), len(want))
	}
	for i, m := range msgs {
		if m.Target != DefaultTopic || m.Kind != "kafka" || string(m.Key) != want[i] || m.Ref != "t1" || !m.Identifying {
			t.Errorf("message %d: %+v", i, m)
		}
		var r Record
		if err := DecodeRecord(m.Key, m.Payload, &r); err != nil {
			t.Fatalf("message %d does not decode: %v", i, err)
		}
		if r.Entity != want[i] || r.TransactionID != "t1" || r.CustomerID != "c1" || r.Card != "411111-0042" ||
			!r.EventTime.Equal(at) || !r.ProducedAt.Equal(at.Add(time.Second)) {
			t.Errorf("message %d decodes to %+v", i, r)
		}
	}
	// No card, no device: only the address.
	if msgs := Messages("x")(&store.Tx{TransactionID: "t2", CustomerID: "c2", IPAddress: "1.1.1.1", EventTime: at}, nil); len(msgs) != 1 || msgs[0].Target != "x" {
		t.Errorf("a transaction with an address only: %+v", msgs)
	}
}

func TestDecodeRecordRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ key, value string }{
		{"", `{`},
		{"", `{"entity":"shoe:1","transaction_id":"t","customer_id":"c","event_time":"2026-01-01T00:00:00Z"}`},
		{"device:2", `{"entity":"device:1","transaction_id":"t","customer_id":"c","event_time":"2026-01-01T00:00:00Z"}`},
		{"", `{"entity":"device:1","customer_id":"c","event_time":"2026-01-01T00:00:00Z"}`},
		{"", `{"entity":"device:1","transaction_id":"t","event_time":"2026-01-01T00:00:00Z"}`},
		{"", `{"entity":"device:1","transaction_id":"t","customer_id":"c"}`},
	} {
		var r Record
		var key []byte
		if c.key != "" {
			key = []byte(c.key)
		}
		if err := DecodeRecord(key, []byte(c.value), &r); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s %s: %v, want ErrBadRecord", c.key, c.value, err)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte("device:1"), []byte(`{"entity":"device:1","transaction_id":"t","customer_id":"c","event_time":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(nil), []byte(`{"entity":"card:4-1","transaction_id":"t","customer_id":"c","card":"4-1","event_time":"2026-01-01T00:00:00Z","produced_at":"2026-01-01T00:00:01Z"}`))
	f.Add([]byte("x"), []byte(`null`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		var r Record
		err := DecodeRecord(key, value, &r)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v is not ErrBadRecord", err)
			}
			return
		}
		if r.Entity == "" || r.TransactionID == "" || r.CustomerID == "" || r.EventTime.IsZero() {
			t.Fatalf("accepted an incomplete record %+v", r)
		}
		if key != nil && string(key) != r.Entity {
			t.Fatalf("accepted key %q for entity %q", key, r.Entity)
		}
	})
}
