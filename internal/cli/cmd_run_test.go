package cli

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"

	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// TestRunCommand runs `shopstream run` as the README's quick start does
// (smaller, and for a few seconds) and checks that what it reports stored
// is in the store, with history backfilled, fraud scored and nothing left
// uncommitted.
func TestRunCommand(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"run", "--duration", "4s", "--addr", "127.0.0.1:0", "--data-dir", dir,
		"--customers", "20000", "--history", "2d", "--rate", "500", "--analytics-interval", "0"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`stored (\d+) transactions \(revenue [0-9.]+ [A-Z]{3}(?:, [0-9.]+ [A-Z]{3})*\), (\d+) fraud alerts, (\d+) quarantined records`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no final report in the output:\n%s", stdout.String())
	}
	if !regexp.MustCompile(`dashboard on http://127\.0\.0\.1:\d+`).MatchString(stdout.String()) {
		t.Fatalf("the dashboard address is not printed:\n%s", stdout.String())
	}
	stored, _ := strconv.ParseInt(m[1], 10, 64)
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sum, err := st.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Two days of history for 20,000 customers is over a thousand orders,
	// and 4 s at 500/s adds up to 2,000 more.
	if sum.TransactionsTotal != stored || stored < 1000 {
		t.Fatalf("run reported %d stored, the store holds %d; want equal and at least 1000", stored, sum.TransactionsTotal)
	}
	offs, err := st.Offsets(context.Background(), "shopstream", "transactions")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	for _, o := range offs {
		committed += o
	}
	if committed != sum.TransactionsTotal+sum.QuarantinedTotal {
		t.Fatalf("stored offsets cover %d records, the store holds %d + %d quarantined", committed, sum.TransactionsTotal, sum.QuarantinedTotal)
	}
	// The default experiments are stored.
	exps, err := st.ExperimentRows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(exps) != 2 || exps[0].Name != "recs-aa" || exps[1].Name != "recs-ab" {
		t.Fatalf("stored experiments %+v, want recs-aa and recs-ab", exps)
	}
}
