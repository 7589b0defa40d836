package analytics

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Day and Week are the usual periods for [Summarize]. The CDNOW data the
// BG/NBD and Gamma-Gamma models were published on is in weeks; parameters
// fitted in one period only make sense for predictions in the same period.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// Purchase is one purchase of one customer: the input of [Summarize] and
// [BuildCohorts]. Amount is in major units (12.34), the order total.
type Purchase struct {
	CustomerID string
	Time       time.Time
	Amount     float64
}

// Summary is what the customer models need to know of one customer's
// history up to the end of a calibration period. The models are counting
// models over days, so purchases on the same calendar day are one purchase
// (their amounts added), as in the CDNOW summary.
type Summary struct {
	CustomerID string
	// Frequency x is the number of repeat purchase days: purchase days after
	// the first one. A one-time buyer has x = 0.
	Frequency int
	// Recency t_x is the time from the first to the last purchase day, in
	// periods (weeks or days, as given to Summarize). Zero when x = 0.
	Recency float64
	// Age T is the time from the first purchase day to the end of the
	// calibration period, in the same periods.
	Age float64
	// MonetaryMean is the mean value of the repeat purchases (the first
	// purchase excluded, as the Gamma-Gamma model requires); 0 when x = 0.
	MonetaryMean float64
	// TotalSpend is the value of all purchases in the calibration period,
	// the first included: the M of RFM.
	TotalSpend float64
	// DaysSinceLast is the whole number of calendar days from the last
	// purchase day to the end of the calibration period: the R of RFM. It
	// is counted in days, not derived from Age − Recency in periods, so
	// that the same recency is the same number and ties score alike.
	DaysSinceLast int
}

// RFMValues returns the raw recency (whole days since the last purchase,
// so smaller is more recent), frequency (purchase days, first included) and
// monetary value (total spend) that [ScoreRFM] ranks.
func (s Summary) RFMValues() RFMValues {
	return RFMValues{Recency: float64(s.DaysSinceLast), Frequency: float64(s.Frequency + 1), Monetary: s.TotalSpend}
}

// Summarize builds one Summary per customer from purchases up to and
// including the calendar day of end; later purchases are ignored, and
// customers whose first purchase is after end are absent. Times are
// resolved to calendar days in each time's own location, so convert them
// to the shop's zone first. Recency and age are expressed in periods of
// unit (Week or Day; any positive multiple of an hour works, measured as
// days / (unit / 24h)). The result is sorted by CustomerID so that it does
// not depend on the order of the input.
func Summarize(purchases []Purchase, end time.Time, unit time.Duration) ([]Summary, error) {
	if unit <= 0 {
		return nil, fmt.Errorf("summarizing purchases: period %v is not positive", unit)
	}
	periodDays := unit.Hours() / 24
	endDay := civilDay(end)

	byCustomer := make(map[string][]DayAmount)
	for i, p := range purchases {
		if math.IsNaN(p.Amount) || math.IsInf(p.Amount, 0) {
			return nil, fmt.Errorf("summarizing purchases: purchase %d of customer %q has amount %v", i, p.CustomerID, p.Amount)
		}
		d := civilDay(p.Time)
		if d > endDay {
			continue
		}
		byCustomer[p.CustomerID] = append(byCustomer[p.CustomerID], DayAmount{d, p.Amount})
	}

	out := make([]Summary, 0, len(byCustomer))
	for id, ps := range byCustomer {
		slices.SortFunc(ps, func(a, b DayAmount) int {
			switch {
			case a.Day < b.Day:
				return -1
			case a.Day > b.Day:
				return 1
			}
			return 0
		})
		out = append(out, summarizeDays(id, ps, endDay, periodDays))
	}
	slices.SortFunc(out, func(a, b Summary) int { return strings.Compare(a.CustomerID, b.CustomerID) })
	return out, nil
}

// DayAmount is a customer's spend on one calendar day: the input of
// [SummarizeDays].
type DayAmount struct {
	// Day numbers the calendar day as days since 1970-01-01.
	Day    int64
	Amount float64
}

// SummarizeDays is [Summarize] for one customer whose history is already
// in ascending order of day, every day up to and including endDay (days
// since 1970-01-01): the same figures, computed the same way, without
// building a map of every customer. The analytics refresh keeps each
// customer's purchase days and summarises them so every run.
func SummarizeDays(customerID string, days []DayAmount, endDay int64, unit time.Duration) (Summary, error) {
	if unit <= 0 {
		return Summary{}, fmt.Errorf("summarizing purchases: period %v is not positive", unit)
	}
	if len(days) == 0 {
		return Summary{}, fmt.Errorf("summarizing customer %q: no purchase days", customerID)
	}
	for i, d := range days {
		if math.IsNaN(d.Amount) || math.IsInf(d.Amount, 0) || d.Day > endDay || i > 0 && d.Day < days[i-1].Day {
			return Summary{}, fmt.Errorf("summarizing customer %q: day %d (%d, amount %v) out of order, after %d or not finite",
				customerID, i, d.Day, d.Amount, endDay)
		}
	}
	return summarizeDays(customerID, days, endDay, unit.Hours()/24), nil
}

// summarizeDays summarises one customer's purchases, sorted by day.
func summarizeDays(id string, ps []DayAmount, endDay int64, periodDays float64) Summary {
	s := Summary{CustomerID: id}
	first, last := ps[0].Day, ps[0].Day
	var repeat float64
	for _, p := range ps {
		s.TotalSpend += p.Amount
		if p.Day == first {
			continue
		}
		if p.Day != last {
			s.Frequency++
			last = p.Day
		}
		repeat += p.Amount
	}
	s.Recency = float64(last-first) / periodDays
	s.Age = float64(endDay-first) / periodDays
	s.DaysSinceLast = int(endDay - last)
	if s.Frequency > 0 {
		s.MonetaryMean = repeat / float64(s.Frequency)
	}
	return s
}

// civilDay numbers t's calendar date (in t's location) as days since
// 1970-01-01, so that day differences ignore clock time and DST.
func civilDay(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// validateSummary rejects histories the models cannot describe, naming the
// customer, so that one bad row fails a fit loudly rather than skewing it.
func validateSummary(i int, s Summary) error {
	switch {
	case s.Frequency < 0:
		return fmt.Errorf("customer %d (%q): frequency %d is negative", i, s.CustomerID, s.Frequency)
	case !(s.Age >= 0) || math.IsInf(s.Age, 0):
		return fmt.Errorf("customer %d (%q): age T = %v is not a finite non-negative number", i, s.CustomerID, s.Age)
	case !(s.Recency >= 0) || s.Recency > s.Age:
		return fmt.Errorf("customer %d (%q): recency t_x = %v is not within [0, T = %v]", i, s.CustomerID, s.Recency, s.Age)
	case s.Frequency > 0 && s.Recency == 0:
		return fmt.Errorf("customer %d (%q): %d repeat purchases but recency t_x = 0", i, s.CustomerID, s.Frequency)
	}
	return nil
}

// CivilDay numbers t's calendar date (in t's location) as days since
// 1970-01-01, the day numbers of [SummarizeDays].
func CivilDay(t time.Time) int64 { return civilDay(t) }
