package pipeline_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// fuzzStall bounds the wait for one input's records to be committed:
// longer means the pipeline stalled.
const fuzzStall = 30 * time.Second

// FuzzProcessor feeds hostile records through a real processor, on the
// embedded Kafka broker and SQLite, and checks after every input that each
// record produced so far was committed exactly once, stored or
// quarantined (stored + quarantined = produced, in the processor's counts
// and in the store), within fuzzStall of being produced.
//
// An input is a script of records, each drawn from its next bytes: a valid
// transaction, a valid one with some bytes overwritten, one cut short, or
// raw bytes (possibly empty). One broker, store and processor serve every
// input of a fuzzing process, so the state builds up as it would in a
// long run (duplicates of earlier ids, state replays).
func FuzzProcessor(f *testing.F) {
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{1, 40, 0, 'x', 1, 200, 0, 0, 3, 90})
	f.Add(append([]byte{2, 15}, `{"items":[{}]}`...))
	f.Add(append([]byte{2, 28}, `{"card":{"bin":"4111111111111111"}}`...))
	f.Add([]byte{0, 1, 0x80, 0, 0, 1, 0x30, 0, 0xff, 3, 0})
	f.Add(append([]byte{2, 9}, "\xff\xfe\x00{}\"\\u"...))
	f.Add([]byte{2, 255}) // a tombstone: quarantined as empty_record with empty raw bytes

	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: 4})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(b.Close)
	st, err := sqlite.Open(context.Background(), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	committed := make(chan struct{}, 1)
	p, err := pipeline.New(pipeline.Config{Brokers: b.Addrs(), Store: st, Group: "fuzz", Logger: quiet, MaxBatch: 200,
		OnCommit: func(*store.Batch, time.Time) {
			select {
			case committed <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	f.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.Errorf("processor: %v", err)
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic(bus.TopicTransactions))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(cl.Close)

	var produced int64 // records produced by earlier inputs, all committed
	seq := 0
	f.Fuzz(func(t *testing.T, script []byte) {
		recs := scriptRecords(script, &seq)
		if len(recs) == 0 {
			return
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatalf("producing %d records: %v", len(recs), err)
		}
		produced += int64(len(recs))
		deadline := time.NewTimer(fuzzStall)
		defer deadline.Stop()
		for {
			s := p.Stats()
			if got := s.Stored + s.Quarantined; got == produced {
				break
			} else if got > produced {
				t.Fatalf("committed %d records (%d stored, %d quarantined), but only %d were produced", got, s.Stored, s.Quarantined, produced)
			}
			select {
			case <-committed:
			case <-deadline.C:
				s := p.Stats()
				t.Fatalf("stalled: %d of %d records committed %s after the last were produced", s.Stored+s.Quarantined, produced, fuzzStall)
			case err := <-done:
				done <- err
				t.Fatalf("processor stopped: %v", err)
			}
		}
		sum, err := st.Summary(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if sum.TransactionsTotal+sum.QuarantinedTotal != produced {
			t.Fatalf("the store holds %d transactions and %d quarantined records, want %d in all",
				sum.TransactionsTotal, sum.QuarantinedTotal, produced)
		}
	})
}

// maxScriptRecords bounds the records of one input.
const maxScriptRecords = 32

// scriptRecords turns a fuzz input into records (see FuzzProcessor).
// Each record starts with an op byte: op%4 is 0 for a valid transaction,
// 1 for a valid one with bytes overwritten (count, then position (2
// bytes) and value for each), 2 for raw bytes (length, then the bytes;
// length 255 is a tombstone, a record without a value),
// 3 for a valid one cut after the position given by the next byte. op/4
// picks the customer, so the partition.
func scriptRecords(script []byte, seq *int) []*kgo.Record {
	next := func() byte {
		if len(script) == 0 {
			return 0
		}
		c := script[0]
		script = script[1:]
		return c
	}
	var recs []*kgo.Record
	for len(script) > 0 && len(recs) < maxScriptRecords {
		op := next()
		key := fmt.Appendf(nil, "C%02d", op/4%16)
		var value []byte
		switch op % 4 {
		case 0:
			value = validRecord(seq, key)
		case 1:
			value = validRecord(seq, key)
			for n := next() % 8; n > 0; n-- {
				pos := int(binary.BigEndian.Uint16([]byte{next(), next()})) % len(value)
				value[pos] = next()
			}
		case 2:
			n := int(next())
			if n == 255 {
				break // a tombstone: no value at all
			}
			n = min(n, len(script))
			value = append([]byte{}, script[:n]...)
			script = script[n:]
		case 3:
			value = validRecord(seq, key)
			value = value[:int(next())%len(value)]
		}
		recs = append(recs, &kgo.Record{Key: key, Value: value})
	}
	return recs
}

// validRecord is a clean transaction with a new id, of customer key.
func validRecord(seq *int, key []byte) []byte {
	*seq++
	cents := event.Cents(100 + *seq%5000)
	tx := event.Transaction{SchemaVersion: 1, TransactionID: fmt.Sprintf("F%08d", *seq), CustomerID: string(key),
		EventTime:  time.Now().UTC().Add(-time.Minute),
		Items:      []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: cents}},
		TotalCents: cents, Currency: "EUR", PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: "0001"},
		DeviceID: "D1", IPAddress: "10.1.2.3", BillingCountry: "DE", ShippingCountry: "DE", Channel: "web"}
	b, err := event.Marshal(&tx)
	if err != nil {
		panic(err) // a fixed, valid transaction always encodes
	}
	return b
}
