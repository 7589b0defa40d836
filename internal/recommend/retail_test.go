package recommend

import (
	"compress/gzip"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

type purchase struct {
	customer, item string
	at             time.Time
}

// readRetail reads the UCI Online Retail log (CC BY 4.0, Chen, Sain and Guo
// 2012; see testdata/datasets/README.md): the purchase lines with a
// customer, a positive quantity and price, and a product stock code
// (starting with a digit: postage, fees and manual lines are not products),
// in time order. Cancellations (invoices starting with C) are left out.
func readRetail(t testing.TB) []purchase {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "datasets", "retail", "online_retail_2010-12_2011-06.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(zr)
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	var out []purchase
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		inv, code, qty, date, price, cust := rec[0], rec[1], rec[3], rec[4], rec[5], rec[6]
		if cust == "" || strings.HasPrefix(inv, "C") || code == "" || code[0] < '0' || code[0] > '9' {
			continue
		}
		q, _ := strconv.Atoi(qty)
		p, _ := strconv.ParseFloat(price, 64)
		if q <= 0 || p <= 0 {
			continue
		}
		at, err := time.Parse("2006-01-02 15:04:05", date)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, purchase{customer: strings.TrimSuffix(cust, ".0"), item: code, at: at})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// split folds the purchases before cut into counts and returns the test
// cases: customers with history before cut and items new to them after.
func split(ps []purchase, cut time.Time) (*Counts, []Case) {
	c := NewCounts(0)
	bought := map[string]map[string]bool{}
	newAfter := map[string][]string{}
	for _, p := range ps {
		if p.at.Before(cut) {
			c.Add(p.customer, p.item)
			if bought[p.customer] == nil {
				bought[p.customer] = map[string]bool{}
			}
			bought[p.customer][p.item] = true
			continue
		}
		if b := bought[p.customer]; b != nil && !b[p.item] {
			b[p.item] = true // count each new item once
			newAfter[p.customer] = append(newAfter[p.customer], p.item)
		}
	}
	var cases []Case
	for cust, rel := range newAfter {
		cases = append(cases, Case{Customer: cust, History: c.History(cust), Relevant: rel})
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Customer < cases[j].Customer })
	return c, cases
}

// TestRetailItemItemBeatsPopularity evaluates on a real shop's order log:
// trained on December to May, tested on each customer's new items in June.
// Item-item must beat popularity clearly: its precision interval lies
// wholly above popularity's.
func TestRetailItemItemBeatsPopularity(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the retail log")
	}
	ps := readRetail(t)
	if len(ps) < 150_000 {
		t.Fatalf("read %d purchase lines; the log has about 180,000 such lines", len(ps))
	}
	cut := time.Date(2011, 6, 1, 0, 0, 0, 0, time.UTC)
	c, cases := split(ps, cut)
	if len(cases) < 500 {
		t.Fatalf("%d test customers", len(cases))
	}
	const k, boot = 10, 300
	pop := Evaluate("popularity", c.ItemItem(ItemConfig{}).Popularity(), cases, k, c.Items(), boot, 1)
	results := []Metrics{pop}
	var best Metrics
	for _, s := range []Similarity{Cosine, Jaccard, Lift} {
		m := c.ItemItem(ItemConfig{Similarity: s})
		r := Evaluate("item-item "+s.String(), m, cases, k, c.Items(), boot, 1)
		results = append(results, r)
		if s == Jaccard {
			best = r
			t.Logf("item-item jaccard model: %d items, %d bytes (%.0f bytes per item)", c.Items(), m.Bytes(), float64(m.Bytes())/float64(c.Items()))
		}
	}
	if e, err := c.EASE(EASEConfig{}); err != nil {
		t.Errorf("EASE: %v", err)
	} else {
		results = append(results, Evaluate("EASE", e, cases, k, c.Items(), boot, 1))
	}
	// The same training purchases through counts bounded well below what
	// the log holds (1.3 million pairs, 2,716 customers), so that both
	// bounds prune all along; the test customers' histories stay theirs.
	bounds := CountsConfig{MaxPairs: 250_000, MaxCustomers: 1000}
	bc := NewBoundedCounts(bounds)
	for _, p := range ps {
		if p.at.Before(cut) {
			bc.Add(p.customer, p.item)
		}
	}
	bounded := Evaluate("item-item jaccard, bounded", bc.ItemItem(ItemConfig{}), cases, k, c.Items(), boot, 1)
	results = append(results, bounded)
	forgotten, pruned := bc.Dropped()
	t.Logf("bounded counts %+v: %d pairs kept of %d, %d pruned; %d customers kept, %d forgotten; %d bytes against %d",
		bounds, bc.Pairs(), c.Pairs(), pruned, bc.Kept(), forgotten, bc.Bytes(), c.Bytes())
	if pruned == 0 || forgotten == 0 {
		t.Errorf("the bounds dropped %d pairs and %d customers: the comparison exercises nothing", pruned, forgotten)
	}
	t.Logf("retail log, split 2011-06-01, %d test customers, %d items, %d purchase lines", len(cases), c.Items(), len(ps))
	for _, r := range results {
		t.Logf("%-20s P@10 %.4f [%.4f, %.4f]  R@10 %.4f  NDCG@10 %.4f  HR@10 %.4f  coverage %.3f",
			r.Method, r.Precision, r.PrecCI.Low, r.PrecCI.High, r.Recall, r.NDCG, r.HitRate, r.Coverage)
	}
	if best.PrecCI.Low <= pop.PrecCI.High || best.NDCGCI.Low <= pop.NDCGCI.High {
		t.Errorf("item-item (P@10 %.4f [%.4f, %.4f]) does not clearly beat popularity (P@10 %.4f [%.4f, %.4f])",
			best.Precision, best.PrecCI.Low, best.PrecCI.High, pop.Precision, pop.PrecCI.Low, pop.PrecCI.High)
	}
	// Bounded, item-item must still beat popularity clearly and rank
	// within the unbounded model's interval.
	if bounded.PrecCI.Low <= pop.PrecCI.High || bounded.Precision < best.PrecCI.Low || bounded.NDCG < best.NDCGCI.Low {
		t.Errorf("bounded item-item (P@10 %.4f [%.4f, %.4f], NDCG@10 %.4f) falls behind: popularity's P@10 interval [%.4f, %.4f], unbounded P@10 [%.4f, %.4f] NDCG [%.4f, %.4f]",
			bounded.Precision, bounded.PrecCI.Low, bounded.PrecCI.High, bounded.NDCG, pop.PrecCI.Low, pop.PrecCI.High,
			best.PrecCI.Low, best.PrecCI.High, best.NDCGCI.Low, best.NDCGCI.High)
	}
}
