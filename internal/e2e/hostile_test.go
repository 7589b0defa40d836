package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/generate"
)

// hostileCase is one record a real deployment may send, and the quarantine
// reason it must get ("" when it must be stored).
type hostileCase struct {
	name   string
	key    []byte
	value  []byte
	reason string
	// part, when >= 0, is the partition to produce to (else by key).
	part int32
}

// stringFields are the event's string fields as JSON paths, each of which
// gets a NUL and an invalid UTF-8 sequence in turn.
var stringFields = [][]string{
	{"transaction_id"}, {"customer_id"}, {"currency"}, {"payment_method"},
	{"card", "bin"}, {"card", "last4"}, {"device_id"}, {"ip_address"},
	{"billing_country"}, {"shipping_country"}, {"channel"},
	{"items", "0", "product_id"}, {"items", "0", "category"},
}

// withField returns the event JSON v with the string at path set to s; the
// marker text is then replaced by raw bytes, so bytes no JSON encoder would
// write (invalid UTF-8) reach the processor as a producer sent them.
func withField(t *testing.T, v []byte, path []string, s string, raw []byte) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(v, &ev); err != nil {
		t.Fatal(err)
	}
	var cur any = ev
	for i, p := range path {
		last := i == len(path)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[p] = s
			} else {
				if c[p] == nil {
					c[p] = map[string]any{}
				}
				cur = c[p]
			}
		case []any:
			var idx int
			fmt.Sscan(p, &idx)
			cur = c[idx]
		}
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if raw != nil {
		out = bytes.Replace(out, []byte("@RAW@"), raw, 1)
	}
	return out
}

// TestHostileInput produces what real deployments send besides good
// records (tombstones, empty values, NUL and invalid UTF-8 in every string
// field, a full card number, fields over 255 bytes, the same transaction id on
// two partitions in one batch and in different batches) and checks on both
// stores that nothing stalls, every record is stored or quarantined once
// with the reason it must get, and no full card number is kept.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store func(*testing.T) *storeEnv
	}{{"postgres", postgresStore}, {"sqlite", sqliteStore}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hostileInput(t, embeddedKafka(t), tc.store(t))
		})
	}
}

func hostileInput(t *testing.T, k *kafkaEnv, s *storeEnv) {
	g, err := generate.New(generate.Config{Seed: 99, Customers: 2_000, FraudRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-20 * time.Minute).Truncate(time.Millisecond)
	next := func() generate.Record {
		at = at.Add(50 * time.Millisecond)
		return g.NextAt(at)
	}
	var cases []hostileCase
	for range 300 {
		r := next()
		cases = append(cases, hostileCase{name: "good", key: r.Key, value: r.Value, part: -1})
	}
	for _, f := range stringFields {
		name := strings.Join(f, ".")
		r := next()
		cases = append(cases, hostileCase{name: "NUL in " + name, key: r.Key, value: withField(t, r.Value, f, "ab\x00cd", nil), reason: "invalid_text", part: -1})
		r = next()
		cases = append(cases, hostileCase{name: "invalid UTF-8 in " + name, key: r.Key, value: withField(t, r.Value, f, "ab@RAW@cd", []byte{0xff, 0xfe}), reason: "invalid_text", part: -1})
	}
	const pan = "4111111111111111" // Luhn-valid test card number
	r := next()
	cases = append(cases,
		hostileCase{name: "tombstone", key: r.Key, value: nil, reason: "empty_record", part: -1},
		hostileCase{name: "empty value", key: r.Key, value: []byte{}, reason: "empty_record", part: -1},
		hostileCase{name: "full card number as BIN", key: r.Key, value: withField(t, r.Value, []string{"card", "bin"}, pan, nil), reason: "invalid_card", part: -1},
	)
	r = next()
	cases = append(cases, hostileCase{name: "full card number as last4", key: r.Key, value: withField(t, r.Value, []string{"card", "last4"}, pan, nil), reason: "invalid_card", part: -1})
	r = next()
	cases = append(cases, hostileCase{name: "oversized device_id", key: r.Key, value: withField(t, r.Value, []string{"device_id"}, strings.Repeat("d", 200<<10), nil), reason: "field_too_long", part: -1})
	// Long fields that do not compress: PostgreSQL refused their index
	// entries (a product's windows, an entity's events) over 2,704 bytes,
	// and with them every write of the product fold or the entity stage.
	noise := rand.New(rand.NewPCG(1, 2))
	for _, f := range [][]string{{"items", "0", "product_id"}, {"device_id"}, {"ip_address"}, {"items", "0", "category"}} {
		b := make([]byte, 2000)
		for i := range b {
			b[i] = "0123456789abcdef"[noise.IntN(16)]
		}
		r = next()
		cases = append(cases, hostileCase{name: "4,000 random bytes in " + strings.Join(f, "."), key: r.Key, value: withField(t, r.Value, f, string(b)+strings.ToUpper(string(b)), nil), reason: "field_too_long", part: -1})
	}
	// A year typed wrong: the monthly cohorts would span 1,800 years.
	r = next()
	cases = append(cases, hostileCase{name: "event time in year 211", key: r.Key, value: withField(t, r.Value, []string{"event_time"}, "0211-03-15T10:00:00Z", nil), reason: "out_of_range", part: -1})
	// The same transaction on two partitions, produced together (one
	// batch): the first stored wins, the other copy is a duplicate.
	dup := next()
	cases = append(cases,
		hostileCase{name: "duplicate original", key: dup.Key, value: dup.Value, part: 0},
		hostileCase{name: "duplicate copy, same batch", key: []byte("someone-else"), value: dup.Value, reason: "duplicate_id", part: 1},
	)

	rig := newRig(t, k, s, 500)
	prod, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(rig.topic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(cs []hostileCase) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rs := make([]*kgo.Record, len(cs))
		for i, c := range cs {
			p := c.part
			if p < 0 {
				p = int32(i % partitions)
			}
			rs[i] = &kgo.Record{Key: c.key, Value: c.value, Partition: p}
		}
		if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("producing: %v", err)
		}
	}
	produce(cases)
	proc := rig.start(t, "processor")
	rig.waitCaughtUp(t, k.endOffsets(t, rig.topic), 90*time.Second, proc)

	// The same transaction again on another partition, after the first is
	// stored: a duplicate found in the store.
	late := next()
	first := []hostileCase{{name: "stored first", key: late.Key, value: late.Value, part: 2}}
	produce(first)
	rig.waitCaughtUp(t, k.endOffsets(t, rig.topic), 60*time.Second, proc)
	again := []hostileCase{{name: "duplicate copy, later batch", key: []byte("another-key"), value: late.Value, reason: "duplicate_id", part: 3}}
	produce(again)
	rig.waitCaughtUp(t, k.endOffsets(t, rig.topic), 60*time.Second, proc)
	cases = append(append(cases, first...), again...)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wantReasons := map[string]int{}
	wantStored, flexible := 0, 0
	for _, c := range cases {
		switch c.reason {
		case "":
			wantStored++
		case "?":
			flexible++
		default:
			wantReasons[c.reason]++
		}
	}
	var stored int
	if err := s.query(ctx, "SELECT count(*) FROM transactions", func(scan func(...any) error) error { return scan(&stored) }); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	quarantined := 0
	if err := s.query(ctx, "SELECT reason, count(*) FROM quarantine GROUP BY reason", func(scan func(...any) error) error {
		var reason string
		var n int
		if err := scan(&reason, &n); err != nil {
			return err
		}
		got[reason] = n
		quarantined += n
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if stored+quarantined != len(cases) {
		t.Errorf("stored %d + quarantined %d = %d, want the %d records produced", stored, quarantined, stored+quarantined, len(cases))
	}
	if stored < wantStored || stored > wantStored+flexible {
		t.Errorf("stored %d transactions, want %d (+%d oversized)", stored, wantStored, flexible)
	}
	for reason, n := range wantReasons {
		if got[reason] != n {
			t.Errorf("quarantined as %s: %d, want %d (all reasons: %v)", reason, got[reason], n, got)
		}
	}
	// No full card number kept anywhere: quarantine rows or outbox.
	for _, q := range []string{"SELECT raw FROM quarantine", "SELECT payload FROM outbox"} {
		if err := s.query(ctx, q, func(scan func(...any) error) error {
			var b []byte
			if err := scan(&b); err != nil {
				return err
			}
			if bytes.Contains(b, []byte(pan)) {
				t.Errorf("%s: a row holds the full card number: %.200q", q, b)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	proc.mustRun(t)
}
