package analytics

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	day := func(d int, hour int) time.Time { return time.Date(2024, 1, d, hour, 0, 0, 0, time.UTC) }
	end := day(29, 12) // four weeks after Jan 1
	tests := []struct {
		name      string
		purchases []Purchase
		unit      time.Duration
		want      []Summary
	}{
		{
			name:      "one-time buyer",
			purchases: []Purchase{{"a", day(1, 9), 10}},
			unit:      Week,
			want:      []Summary{{CustomerID: "a", Age: 4, TotalSpend: 10, DaysSinceLast: 28}},
		},
		{
			name: "same-day purchases count once and add up",
			purchases: []Purchase{
				{"a", day(1, 9), 10}, {"a", day(1, 18), 5}, // first day: not a repeat
				{"a", day(8, 9), 20}, {"a", day(8, 23), 4}, // one repeat day worth 24
				{"a", day(15, 9), 6}, // second repeat day
			},
			unit: Week,
			want: []Summary{{CustomerID: "a", Frequency: 2, Recency: 2, Age: 4, MonetaryMean: 15, TotalSpend: 45, DaysSinceLast: 14}},
		},
		{
			name: "in days; purchases after the end day are ignored, on it counted",
			purchases: []Purchase{
				{"b", day(29, 23), 7}, {"a", day(2, 0), 1}, {"a", day(29, 23), 3}, {"a", day(30, 0), 100}, {"c", day(30, 1), 9},
			},
			unit: Day,
			want: []Summary{
				{CustomerID: "a", Frequency: 1, Recency: 27, Age: 27, MonetaryMean: 3, TotalSpend: 4},
				{CustomerID: "b", Age: 0, TotalSpend: 7},
			},
		},
		{name: "no purchases", unit: Week, want: []Summary{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Summarize(tt.purchases, end, tt.unit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d summaries %+v, want %+v", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("summary %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestSummarizeErrors(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		purchases []Purchase
		unit      time.Duration
		wantErr   string
	}{
		{"zero period", nil, 0, "period 0s is not positive"},
		{"NaN amount", []Purchase{{"x", now, math.NaN()}}, Week, `customer "x" has amount NaN`},
	} {
		if _, err := Summarize(tt.purchases, now, tt.unit); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
}

// The published CDNOW summary was built from the raw sample with the
// calibration period ending 1997-09-30; Summarize must rebuild it (to the
// file's two decimals; half a cent of slack for halves rounded in binary).
func TestSummarizeRebuildsCDNOWSummary(t *testing.T) {
	t.Parallel()
	got, err := Summarize(readCDNOWPurchases(t), time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC), Week)
	if err != nil {
		t.Fatal(err)
	}
	want := readCDNOW(t, "cdnow_customers_summary_with_transactions.csv")
	byID := make(map[string]Summary, len(got))
	for _, s := range got {
		byID[s.CustomerID] = s
	}
	if len(got) != len(want) {
		t.Fatalf("summarized %d customers, want %d", len(got), len(want))
	}
	for _, w := range want {
		g, ok := byID[w.CustomerID]
		if !ok {
			t.Fatalf("customer %s missing", w.CustomerID)
		}
		if g.Frequency != w.Frequency || math.Abs(g.Recency-w.Recency) > 0.0051 || math.Abs(g.Age-w.Age) > 0.0051 || math.Abs(g.MonetaryMean-w.MonetaryMean) > 0.0051 {
			t.Errorf("customer %s: got x=%d t_x=%.4f T=%.4f zbar=%.4f, want %d %.2f %.2f %.2f", w.CustomerID,
				g.Frequency, g.Recency, g.Age, g.MonetaryMean, w.Frequency, w.Recency, w.Age, w.MonetaryMean)
		}
	}
}
