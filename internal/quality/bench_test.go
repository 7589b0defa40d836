package quality

import (
	"fmt"
	"testing"

	"github.com/shopstream/shopstream/internal/event"
)

// BenchmarkDecode measures the checks on the hot path: one clean record
// decoded and validated, as the processor does for every record.
func BenchmarkDecode(b *testing.B) {
	cfg := Config{}.WithDefaults()
	raw := []byte(good)
	var tx event.Transaction
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if f := cfg.Decode(raw, now, &tx); f != nil {
			b.Fatal(f)
		}
	}
}

// BenchmarkCheckText is the text check alone on a clean record.
func BenchmarkCheckText(b *testing.B) {
	raw := []byte(good)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if f := checkText(raw); f != nil {
			b.Fatal(f)
		}
	}
}

// BenchmarkChecks is the contract's checks alone, on the hot path: the text
// check, the scan for unknown fields and every field check of a clean,
// decoded record (the JSON decode itself is BenchmarkDecode's). The target
// is under 1 µs per record.
func BenchmarkChecks(b *testing.B) {
	c := Default()
	raw := []byte(good)
	var tx event.Transaction
	if err := event.Decode(raw, &tx); err != nil {
		b.Fatal(err)
	}
	var res Result
	b.ReportAllocs()
	for b.Loop() {
		if f := checkText(raw); f != nil {
			b.Fatal(f)
		}
		res.UnknownFields = appendUnknownFields(res.UnknownFields[:0], raw)
		c.Validate(&tx, now, &res)
		if res.Failure != nil || len(res.Warnings) > 0 || len(res.UnknownFields) > 0 {
			b.Fatal(res.Failure, res.Warnings, res.UnknownFields)
		}
	}
}

// BenchmarkUnknownFields is the scan for unknown top-level fields alone.
func BenchmarkUnknownFields(b *testing.B) {
	raw := []byte(good)
	var dst []string
	for b.Loop() {
		if dst = appendUnknownFields(dst[:0], raw); len(dst) > 0 {
			b.Fatal(dst)
		}
	}
}

// BenchmarkValidate is the field checks alone on a decoded record.
func BenchmarkValidate(b *testing.B) {
	c := Default()
	var tx event.Transaction
	if err := event.Decode([]byte(good), &tx); err != nil {
		b.Fatal(err)
	}
	var res Result
	for b.Loop() {
		if c.Validate(&tx, now, &res); res.Failure != nil {
			b.Fatal(res.Failure)
		}
	}
}

// BenchmarkDedup checks a stream of distinct transaction ids against a
// window of 100,000, the processor's per partition: every check looks
// the id up, forgets the oldest and remembers the new one.
func BenchmarkDedup(b *testing.B) {
	ids := make([]string, 1<<20)
	for i := range ids {
		ids[i] = fmt.Sprintf("tx_%016x", uint64(i)*0x9e3779b97f4a7c15)
	}
	d := NewDedup(100_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if f := d.Check(ids[i&(len(ids)-1)]); f != nil {
			b.Fatal(f)
		}
		i++
	}
}
