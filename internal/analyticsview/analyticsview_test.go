package analyticsview

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

func TestCustomerJSON(t *testing.T) {
	t.Parallel()
	cluster := 2
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	row := store.CustomerAnalytics{CustomerID: "c1", RecencyDays: 3, FrequencyDays: 4, MonetaryCents: 12345, R: 5, F: 4, M: 3,
		Segment: "champions", Cluster: &cluster, UpdatedAt: at,
		CLV: &store.CLVFigures{ProbAlive: 0.5, ExpectedPurchases: 2, ExpectedAOV: 60, Value: 100, ModelVersion: 7}}
	b, err := json.Marshal(CustomerOf(&row))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"customer_id":"c1","recency_days":3,"frequency_days":4,"monetary_cents":12345,"r":5,"f":4,"m":3,` +
		`"segment":"champions","cluster":2,"clv":{"p_alive":0.5,"expected_purchases":2,"expected_aov":60,"value":100,` +
		`"model_version":7},"updated_at":"2026-03-01T00:00:00Z"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	row.CLV, row.Cluster = nil, nil
	if c := CustomerOf(&row); c.CLV != nil || c.Cluster != nil {
		t.Errorf("missing CLV and cluster must stay null: %+v", c)
	}
}

func TestCohortMatrix(t *testing.T) {
	t.Parallel()
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	feb := jan.AddDate(0, 1, 0)
	cells := []store.CohortCell{
		{Month: jan, MonthOffset: 0, Size: 10, Active: 10, RevenueCents: 1000},
		{Month: jan, MonthOffset: 1, Size: 10, Active: 4, RevenueCents: 500},
		{Month: feb, MonthOffset: 0, Size: 0, Active: 0},
	}
	asOf := feb.Add(9*24*time.Hour + 13*time.Hour) // 10 February, 13:00
	m := CohortMatrix(cells, store.CohortTimes{ComputedAt: feb, AsOf: asOf}, 100)
	if m.ComputedAt == nil || len(m.Cohorts) != 2 || m.Cohorts[0].Month != "2026-01" || m.Cohorts[1].Month != "2026-02" {
		t.Fatalf("matrix = %+v", m)
	}
	if r := m.Cohorts[0]; len(r.Retention) != 2 || r.Retention[1] != 0.4 || r.Revenue[1] != 5 {
		t.Errorf("january = %+v", r)
	}
	// In yen, a minor unit is a yen.
	if r := CohortMatrix(cells, store.CohortTimes{ComputedAt: feb, AsOf: asOf}, 1).Cohorts[0]; r.Revenue[1] != 500 {
		t.Errorf("january in yen = %+v, want 500 in February", r)
	}
	if r := m.Cohorts[1]; r.Retention[0] != 0 {
		t.Errorf("an empty cohort's retention must be 0, not NaN: %+v", r)
	}
	// February is unfinished: each cohort's February cell is marked.
	if p := m.Partial; p == nil || *p != (PartialMonth{Month: "2026-02", Days: 10, DaysInMonth: 28}) || m.AsOf == nil || !m.AsOf.Equal(asOf) {
		t.Errorf("partial month = %+v as of %v, want 10 of 28 days of 2026-02", p, m.AsOf)
	}
	if p := m.Cohorts[0].PartialOffset; p == nil || *p != 1 {
		t.Errorf("january's partial offset = %v, want 1 (February)", p)
	}
	if p := m.Cohorts[1].PartialOffset; p == nil || *p != 0 {
		t.Errorf("february's partial offset = %v, want 0", p)
	}
	// A matrix as of a later month has no cell of it: nothing marked.
	late := CohortMatrix(cells, store.CohortTimes{ComputedAt: feb, AsOf: feb.AddDate(0, 1, 0)}, 100)
	if late.Partial == nil || late.Partial.Month != "2026-03" || late.Cohorts[0].PartialOffset != nil || late.Cohorts[1].PartialOffset != nil {
		t.Errorf("as of March: %+v", late)
	}
	// A matrix stored before the as-of was recorded marks nothing.
	if old := CohortMatrix(cells, store.CohortTimes{ComputedAt: feb}, 100); old.Partial != nil || old.AsOf != nil || old.Cohorts[0].PartialOffset != nil {
		t.Errorf("without an as-of: %+v", old)
	}
	if e := CohortMatrix(nil, store.CohortTimes{}, 100); e.ComputedAt != nil || e.Cohorts == nil {
		t.Errorf("before the first refresh: %+v", e)
	}
}

// TestScoreNotes explains a score no customer has: by the newest day's
// tie when the top recency score is missing and that tie is over a
// fifth, by the least frequency's for F = 1, generically otherwise; and
// says nothing when every score has customers.
func TestScoreNotes(t *testing.T) {
	full := [5]int64{20, 20, 20, 20, 20}
	if n := ScoreNotes(&store.ScoreCounts{Customers: 100, R: full, F: full, M: full, NewestDay: 3, LeastFrequency: 19}, nil); len(n) != 0 {
		t.Fatalf("every score has customers, notes %q", n)
	}
	n := ScoreNotes(&store.ScoreCounts{Customers: 100, R: [5]int64{20, 20, 20, 40, 0}, F: full, M: full, NewestDay: 40, LeastFrequency: 19},
		[]string{"Champions", "New"})
	if len(n) != 2 || !strings.HasPrefix(n[0], "No customer scores R = 5: 40% of the customers (40) last bought on the newest day") ||
		n[1] != "So these segments are empty: Champions, New." {
		t.Fatalf("R = 5 missing: notes %q", n)
	}
	if n := ScoreNotes(&store.ScoreCounts{Customers: 100, R: full, F: [5]int64{20, 0, 40, 20, 20}, M: full}, nil); len(n) != 0 {
		t.Fatalf("F = 2 unused but no segment empty: notes %q, want none", n)
	}
	n = ScoreNotes(&store.ScoreCounts{Customers: 100, R: full, F: [5]int64{0, 45, 15, 20, 20}, M: [5]int64{20, 20, 0, 40, 20}, NewestDay: 3, LeastFrequency: 45}, []string{"New", "Promising"})
	if len(n) != 3 || !strings.Contains(n[0], "F = 1: 45% of the customers (45) bought on the fewest days") ||
		!strings.HasPrefix(n[1], "No customer scores M = 3: ties across the quintile boundaries") {
		t.Fatalf("F = 1 and M = 3 missing: notes %q", n)
	}
	if n := ScoreNotes(&store.ScoreCounts{}, []string{"Champions"}); len(n) != 0 {
		t.Fatalf("no customers, notes %q", n)
	}
}

func TestCurrencyNote(t *testing.T) {
	if n := CurrencyNote(map[string]int64{"EUR": 5}); n != "" {
		t.Errorf("one currency: %q", n)
	}
	if n := CurrencyNote(nil); n != "" {
		t.Errorf("none: %q", n)
	}
	n := CurrencyNote(map[string]int64{"EUR": 5, "USD": 900, "GBP": 5})
	if !strings.Contains(n, "3 currencies (USD, EUR, GBP, by revenue)") {
		t.Errorf("three currencies: %q", n)
	}
}
