package analytics

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cdnowDir is the CDNOW sample shipped with the repository (see
// testdata/datasets/README.md).
var cdnowDir = filepath.Join("..", "..", "testdata", "datasets", "cdnow")

// readCDNOW reads one of the CDNOW summary files into summaries; the
// columns are ID, x, t_x, T and, when present, the mean repeat spend zbar.
func readCDNOW(t testing.TB, name string) []Summary {
	t.Helper()
	f, err := os.Open(filepath.Join(cdnowDir, name))
	if err != nil {
		t.Fatalf("opening CDNOW data: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	var out []Summary
	for i, row := range rows[1:] {
		num := func(j int) float64 {
			v, err := strconv.ParseFloat(strings.TrimSpace(row[j]), 64)
			if err != nil {
				t.Fatalf("%s row %d column %d: %v", name, i+2, j, err)
			}
			return v
		}
		s := Summary{CustomerID: strings.TrimSpace(row[0]), Frequency: int(num(1)), Recency: num(2), Age: num(3)}
		if len(row) > 4 {
			s.MonetaryMean = num(4)
		}
		out = append(out, s)
	}
	return out
}

// readCDNOWPurchases reads the raw CDNOW sample: master id, sample id,
// date YYYYMMDD, number of CDs, dollar value, separated by spaces.
func readCDNOWPurchases(t testing.TB) []Purchase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cdnowDir, "CDNOW_sample.txt"))
	if err != nil {
		t.Fatalf("opening CDNOW data: %v", err)
	}
	var out []Purchase
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 5 {
			t.Fatalf("CDNOW_sample.txt line %d: %d fields, want 5", i+1, len(f))
		}
		day, err := time.Parse("20060102", f[2])
		if err != nil {
			t.Fatalf("CDNOW_sample.txt line %d: %v", i+1, err)
		}
		amount, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			t.Fatalf("CDNOW_sample.txt line %d: %v", i+1, err)
		}
		id, _ := strconv.Atoi(f[1])
		out = append(out, Purchase{CustomerID: strconv.Itoa(id), Time: day, Amount: amount})
	}
	return out
}
