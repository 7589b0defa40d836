package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

func TestGenerateToFileIsReproducible(t *testing.T) {
	dir := t.TempDir()
	run := func(name string) ([]byte, []byte) {
		out, labels := filepath.Join(dir, name+".jsonl"), filepath.Join(dir, name+".csv")
		var stdout, stderr bytes.Buffer
		err := runGenerate(context.Background(), []string{
			"--out", out, "--labels", labels, "--rate", "0", "--count", "1000", "--seed", "5",
			"--customers", "500", "--fraud-rate", "0.05", "--bad-rate", "0.01",
		}, &stdout, &stderr)
		if err != nil {
			t.Fatalf("generate: %v\n%s", err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "done: 1000 records") {
			t.Fatalf("no summary on stderr: %q", stderr.String())
		}
		v, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		l, err := os.ReadFile(labels)
		if err != nil {
			t.Fatal(err)
		}
		return v, l
	}
	v1, l1 := run("a")
	v2, l2 := run("b")
	if !bytes.Equal(v1, v2) || !bytes.Equal(l1, l2) {
		t.Fatal("two runs with the same seed wrote different files")
	}
	lines := strings.Split(strings.TrimSuffix(string(v1), "\n"), "\n")
	rows := strings.Split(strings.TrimSuffix(string(l1), "\n"), "\n")
	if len(lines) != 1000 || len(rows) != 1001 {
		t.Fatalf("%d lines and %d label rows, want 1000 and 1001", len(lines), len(rows))
	}
	for i, line := range lines {
		var tx event.Transaction
		err := event.Decode([]byte(line), &tx)
		isBad := strings.HasSuffix(rows[i+1], ",malformed_json") || strings.HasSuffix(rows[i+1], ",wrong_type") ||
			strings.HasSuffix(rows[i+1], ",too_many_decimals") || strings.HasSuffix(rows[i+1], ",invalid_text")
		if err != nil && !isBad {
			t.Fatalf("line %d (%s) does not decode: %v\n%s", i+1, rows[i+1], err, line)
		}
	}
	if !strings.Contains(lines[0], `"event_time":"2026-01-01T00:00:00.000Z"`) {
		t.Fatalf("first record does not start at the default start: %s", lines[0])
	}
}

// TestGenerateContinue: a second generator with the same seed and
// --continue 1 goes on in the same shop: none of its transaction IDs is
// the first one's, and the customers both saw order on the same devices;
// another seed is another shop, where they do not.
func TestGenerateContinue(t *testing.T) {
	dir := t.TempDir()
	gen := func(name string, args ...string) []event.Transaction {
		out := filepath.Join(dir, name+".jsonl")
		var stdout, stderr bytes.Buffer
		args = append([]string{"--out", out, "--rate", "0", "--count", "20000", "--customers", "2000", "--fraud-rate", "0"}, args...)
		if err := runGenerate(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("generate %v: %v\n%s", args, err, stderr.String())
		}
		v, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var txs []event.Transaction
		for _, line := range strings.Split(strings.TrimSuffix(string(v), "\n"), "\n") {
			var tx event.Transaction
			if err := event.Decode([]byte(line), &tx); err != nil {
				t.Fatal(err)
			}
			txs = append(txs, tx)
		}
		return txs
	}
	first := gen("first", "--seed", "5")
	ids := map[string]bool{}
	devices := map[string]map[string]bool{}
	for _, tx := range first {
		ids[tx.TransactionID] = true
		if devices[tx.CustomerID] == nil {
			devices[tx.CustomerID] = map[string]bool{}
		}
		devices[tx.CustomerID][tx.DeviceID] = true
	}
	known := func(txs []event.Transaction) (returning, sameDevice int) {
		for _, tx := range txs {
			if ids[tx.TransactionID] {
				t.Fatalf("transaction id %s repeats the first generator's", tx.TransactionID)
			}
			if d := devices[tx.CustomerID]; d != nil {
				returning++
				if d[tx.DeviceID] {
					sameDevice++
				}
			}
		}
		return
	}
	r, same := known(gen("continued", "--seed", "5", "--continue", "1"))
	if r < 10_000 || float64(same) < 0.8*float64(r) {
		t.Errorf("continued: %d orders by the first run's customers, %d on a device they used there; want most", r, same)
	}
	r, same = known(gen("other", "--seed", "6"))
	if float64(same) > 0.2*float64(r) {
		t.Errorf("another seed: %d of %d returning customers' orders on a device of the first shop; want few", same, r)
	}
}

func TestGenerateStartAndHistoryFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "h.jsonl")
	var stdout, stderr bytes.Buffer
	err := runGenerate(context.Background(), []string{
		"--out", out, "--rate", "0", "--count", "50", "--start", "2025-06-01T00:00:00Z", "--history", "2d", "--customers", "100",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr.String())
	}
	v, _ := os.ReadFile(out)
	if !bytes.HasPrefix(v, []byte(`{"schema_version":1,`)) || !bytes.Contains(v, []byte(`"event_time":"2025-06-01T00:00:00.000Z"`)) {
		t.Fatalf("history does not start at --start:\n%.300s", v)
	}
}

// TestGenerateStartAuto: --start auto starts the simulated clock so that
// the --count records end before now, within the last three days (the
// calendar makes the end jump with the start; see generate.StartEndingBy).
func TestGenerateStartAuto(t *testing.T) {
	var stdout, stderr bytes.Buffer
	before := time.Now()
	if err := runGenerate(context.Background(), []string{"--out", "-", "--rate", "0", "--count", "3000", "--customers", "1000", "--start", "auto"},
		&stdout, &stderr); err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr.String())
	}
	after := time.Now()
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	var first, last event.Transaction
	if err := event.Decode([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := event.Decode([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3000 || !first.EventTime.Before(last.EventTime) || last.EventTime.After(after.Add(-time.Minute)) ||
		last.EventTime.Before(before.Add(-3*24*time.Hour)) {
		t.Fatalf("%d records from %v to %v, want 3000 ending within the three days before %v", len(lines), first.EventTime, last.EventTime, before)
	}
	if !strings.Contains(stderr.String(), "--start auto: "+first.EventTime.UTC().Truncate(time.Second).Format(time.RFC3339)) {
		t.Errorf("the chosen start is not on stderr: %q", stderr.String())
	}
}

func TestGenerateToStdout(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := runGenerate(context.Background(), []string{"--out", "-", "--rate", "0", "--count", "3", "--customers", "50"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stdout.String(), "\n"); n != 3 {
		t.Fatalf("%d lines on stdout, want 3", n)
	}
}

func TestGenerateFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "--out and --brokers"},
		{[]string{"--out", "x", "--brokers", "y:9092"}, "--out and --brokers"},
		{[]string{"--out", "x", "--rate", "-1"}, "-rate"},
		{[]string{"--out", "x", "--rate", "fast"}, "-rate"},
		{[]string{"--out", "x", "--history", "a year"}, "-history"},
		{[]string{"--out", "x", "--duration", "-5s"}, "-duration"},
		{[]string{"--out", "x", "--start", "yesterday"}, "-start"},
		{[]string{"--out", "x", "--start", "auto", "--count", "100"}, "-start"}, // not at --rate 0
		{[]string{"--out", "x", "--start", "auto", "--rate", "0"}, "-start"},    // no --count
		{[]string{"--out", "x", "--start", "auto", "--rate", "0", "--count", "9", "--history", "1d"}, "-start"},
		{[]string{"--out", "x", "--customers", "0"}, "-customers"},
		{[]string{"--out", "x", "--products", "10"}, "-products"},
		{[]string{"--out", "x", "--fraud-rate", "0.9"}, "-fraud-rate"},
		{[]string{"--out", "x", "--bad-rate", "2"}, "-bad-rate"},
		{[]string{"--out", "x", "--count", "-3"}, "-count"},
		{[]string{"--out", "x", "--continue", "-1"}, "-continue"},
		{[]string{"--out", "x", "--labels", "x"}, "-labels"},
		{[]string{"--brokers", " , "}, "-brokers"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := runGenerate(context.Background(), tt.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !IsUsage(err) {
			t.Errorf("generate %v: error %v, want a usage error naming %s", tt.args, err, tt.want)
		}
	}
}

func TestParseDayDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"365d", 365 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"90s", 90 * time.Second, true},
		{"0", 0, true},
		{"d", 0, false},
		{"-1d", 0, false},
		{"1.5d", 0, false},
		{"-2h", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDayDuration(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("parseDayDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
