package quality

import (
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
