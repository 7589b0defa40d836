package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/recommend"
)

// recommendCSV is a small shop, worked out by hand. Before 2011-01-01: u1,
// u2 and u3 buy A and B; u4 buys A; u5 and u6 buy C and D; u7 buys C. So A
// has 4 customers, B and C 3, D 2; A-B and C-D are neighbours (3 and 2
// co-purchasers). After: u4 buys B, u7 buys D (both new to them), u1 buys
// A again (not new), u8 is new (no history). At k = 1, item-item ranks B
// for u4 and D for u7 (both hits); popularity, leaving out what each
// bought, ranks B for u4 (hit) and A for u7 (miss).
func recommendCSV(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")
	inv := 600000
	buy := func(cust, prod, date string) {
		inv++
		fmt.Fprintf(&b, "%d,%s,PRODUCT %s,2,%s,1.25,%s,United Kingdom\n", inv, prod, prod, date, cust)
	}
	for _, u := range []string{"11", "12", "13"} {
		buy(u, "10A", "12/1/2010 9:00")
		buy(u, "10B", "12/2/2010 9:00")
	}
	buy("14", "10A", "12/3/2010 9:00")
	for _, u := range []string{"15", "16"} {
		buy(u, "10C", "12/4/2010 9:00")
		buy(u, "10D", "12/5/2010 9:00")
	}
	buy("17", "10C", "12/6/2010 9:00")
	buy("14", "10B", "1/5/2011 9:00")
	buy("17", "10D", "1/6/2011 9:00")
	buy("11", "10A", "1/7/2011 9:00")
	buy("18", "10A", "1/8/2011 9:00")
	p := filepath.Join(t.TempDir(), "shop.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRecommendEval(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rep, _ := importJSON(t, "--csv", recommendCSV(t), "--data-dir", dir)
	if rep.Stored != 16 || rep.Quarantined != 0 {
		t.Fatalf("import stored %d and quarantined %d; want all 16: %+v", rep.Stored, rep.Quarantined, rep)
	}
	var stdout, stderr bytes.Buffer
	err := runRecommend(context.Background(), []string{"eval", "--split", "2011-01-01", "--k", "1", "--json", "--data-dir", dir, "--bootstrap", "50"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("recommend eval: %v\n%s", err, stderr.String())
	}
	var ev evalReport
	if err := json.Unmarshal(stdout.Bytes(), &ev); err != nil {
		t.Fatalf("decoding %s: %v", stdout.String(), err)
	}
	if ev.Lines != 16 || ev.TrainLines != 12 || ev.Products != 4 || ev.TestCustomers != 2 || ev.EASEError != "" {
		t.Fatalf("eval report %+v", ev)
	}
	got := map[string][2]float64{}
	for _, m := range ev.Methods {
		got[m.Method] = [2]float64{m.Precision, m.Coverage}
		if m.PrecCI.Low > m.Precision || m.PrecCI.High < m.Precision {
			t.Errorf("%s: precision %v outside its interval %+v", m.Method, m.Precision, m.PrecCI)
		}
	}
	want := map[string][2]float64{
		"popularity":        {0.5, 0.5}, // B for u4, A for u7
		"item-item jaccard": {1, 0.5},   // B and D
		"item-item cosine":  {1, 0.5},
		"item-item lift":    {1, 0.5},
	}
	for m, w := range want {
		if g, ok := got[m]; !ok || math.Abs(g[0]-w[0]) > 1e-9 || math.Abs(g[1]-w[1]) > 1e-9 {
			t.Errorf("%s: precision, coverage = %v, want %v", m, g, w)
		}
	}
	if _, ok := got["EASE"]; !ok {
		t.Errorf("EASE missing from %v", got)
	}

	// The table names every method.
	stdout.Reset()
	if err := runRecommend(context.Background(), []string{"eval", "--split", "2011-01-01", "--data-dir", dir}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"popularity", "item-item jaccard", "item-item cosine", "item-item lift", "EASE", "P@10"} {
		if !strings.Contains(stdout.String(), m) {
			t.Errorf("the table lacks %q:\n%s", m, stdout.String())
		}
	}
}

func TestRecommendEvalRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importJSON(t, "--csv", recommendCSV(t), "--data-dir", dir)
	for _, args := range [][]string{
		{},
		{"train"},
		{"eval", "--data-dir", dir},
		{"eval", "--split", "2011-13-01", "--data-dir", dir},
		{"eval", "--split", "2011-01-01", "--k", "0", "--data-dir", dir},
		{"eval", "--split", "2009-01-01", "--data-dir", dir}, // nothing before
		{"eval", "--split", "2012-01-01", "--data-dir", dir}, // nothing after
	} {
		var stdout, stderr bytes.Buffer
		if err := runRecommend(context.Background(), args, &stdout, &stderr); err == nil {
			t.Errorf("recommend %v succeeded:\n%s", args, stdout.String())
		}
	}
}

func TestRecommendFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{nil, true},
		{[]string{"--recommend-similarity", "lift", "--recommend-neighbours", "20"}, true},
		{[]string{"--recommend-rebuild-interval", "0"}, true},
		{[]string{"--recommend-similarity", "pearson"}, false},
		{[]string{"--recommend-neighbours", "0"}, false},
		{[]string{"--recommend-fold-interval", "0s"}, false},
		{[]string{"--recommend-rebuild-interval", "-1s"}, false},
		{[]string{"--recommend-max-customers", "0", "--recommend-max-pairs", "0"}, true},
		{[]string{"--recommend-max-customers", "-1"}, false},
		{[]string{"--recommend-max-pairs", "-5"}, false},
	} {
		fs := newFlagSet("serve", io.Discard)
		var rf recommendFlags
		rf.register(fs)
		if err := parseFlags(fs, tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		cfg, err := rf.config()
		if (err == nil) != tc.ok {
			t.Errorf("%v: config error %v, want ok %v", tc.args, err, tc.ok)
		}
		if tc.ok && len(tc.args) == 4 && tc.args[0] == "--recommend-similarity" && (cfg.Item.Similarity != recommend.Lift || cfg.Item.Neighbours != 20) {
			t.Errorf("%v: config %+v", tc.args, cfg)
		}
		if tc.ok && len(tc.args) == 4 && tc.args[0] == "--recommend-max-customers" && (cfg.MaxCustomers != -1 || cfg.MaxPairs != -1) {
			t.Errorf("%v: bounds %d customers, %d pairs; want -1 (none)", tc.args, cfg.MaxCustomers, cfg.MaxPairs)
		}
		if tc.ok && tc.args == nil && (cfg.MaxCustomers != 100_000 || cfg.MaxPairs != 1_000_000) {
			t.Errorf("defaults: bounds %d customers, %d pairs", cfg.MaxCustomers, cfg.MaxPairs)
		}
	}
}
