package analytics

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// HoldoutGroup is one row of the calibration/holdout check: the customers
// with the same number of repeat purchases in the calibration period (the
// last row: that many or more), and their mean number of repeat purchase
// days in the holdout period, actual and predicted.
type HoldoutGroup struct {
	Frequency int     `json:"frequency"`
	OrMore    bool    `json:"or_more"`
	Customers int     `json:"customers"`
	Actual    float64 `json:"actual"`
	Predicted float64 `json:"predicted"`
}

// Holdout is the Fader–Hardie check of a BG/NBD model: fit on the
// purchases up to the end of a calibration period, then compare what the
// model expects each calibration customer to buy in the holdout period
// that follows with what they bought, by calibration frequency (Fader,
// Hardie and Lee 2005, section 4; CDNOW: 39 weeks each).
type Holdout struct {
	CalibrationEnd time.Time `json:"calibration_end"`
	HoldoutEnd     time.Time `json:"holdout_end"`
	// HoldoutPeriods is the holdout's length t* in periods (weeks).
	HoldoutPeriods float64        `json:"holdout_periods"`
	Fit            BGNBDFit       `json:"fit"`
	Check          FitCheck       `json:"check"`
	Customers      int            `json:"customers"`
	Groups         []HoldoutGroup `json:"groups"`
	// ActualTotal and PredictedTotal are the repeat purchase days of all
	// calibration customers in the holdout.
	ActualTotal    float64 `json:"actual_total"`
	PredictedTotal float64 `json:"predicted_total"`
}

// ValidateBGNBD runs the calibration/holdout check on a purchase log:
// summaries as of calibrationEnd (inclusive, whole days, in periods of
// unit), a BG/NBD fit on them with its FitCheck, and, per calibration
// frequency 0..groups−2 and groups−1 or more, the mean actual and
// predicted number of purchase days strictly after the calibration day up
// to and including the holdout day. Customers whose first purchase is in
// the holdout are not counted: the model says nothing about them.
// Predictions are made even for a degenerate fit, so the table shows how
// it fails; Check says whether to believe it.
func ValidateBGNBD(purchases []Purchase, calibrationEnd, holdoutEnd time.Time, unit time.Duration, groups int) (Holdout, error) {
	h := Holdout{CalibrationEnd: calibrationEnd, HoldoutEnd: holdoutEnd}
	calDay, holdDay := civilDay(calibrationEnd), civilDay(holdoutEnd)
	switch {
	case holdDay <= calDay:
		return h, fmt.Errorf("validating BG/NBD: the holdout must end after the calibration period (%s is not after %s)",
			holdoutEnd.Format(time.DateOnly), calibrationEnd.Format(time.DateOnly))
	case groups < 2:
		return h, fmt.Errorf("validating BG/NBD: want at least 2 frequency groups, got %d", groups)
	}
	sums, err := Summarize(purchases, calibrationEnd, unit)
	if err != nil {
		return h, err
	}
	if len(sums) == 0 {
		return h, errors.New("validating BG/NBD: no customer bought on or before the end of the calibration period")
	}
	h.Customers = len(sums)
	h.HoldoutPeriods = float64(holdDay-calDay) / (unit.Hours() / 24)

	// Holdout purchase days per customer, distinct days only.
	type cd struct {
		c   string
		day int64
	}
	var days []cd
	for _, p := range purchases {
		if d := civilDay(p.Time); d > calDay && d <= holdDay {
			days = append(days, cd{p.CustomerID, d})
		}
	}
	slices.SortFunc(days, func(a, b cd) int {
		if c := strings.Compare(a.c, b.c); c != 0 {
			return c
		}
		return int(a.day - b.day)
	})
	days = slices.Compact(days)
	actual := make(map[string]int, len(sums))
	for _, d := range days {
		actual[d.c]++
	}

	fit, err := FitBGNBD(sums)
	if err != nil {
		return h, err
	}
	h.Fit = fit
	h.Check = CheckBGNBD(fit.BGNBD, sums, unit)
	h.Groups = make([]HoldoutGroup, groups)
	for i := range h.Groups {
		h.Groups[i].Frequency = i
	}
	h.Groups[groups-1].OrMore = true
	for _, s := range sums {
		g := &h.Groups[min(s.Frequency, groups-1)]
		a := float64(actual[s.CustomerID])
		p := fit.ExpectedPurchases(h.HoldoutPeriods, float64(s.Frequency), s.Recency, s.Age)
		g.Customers++
		g.Actual += a
		g.Predicted += p
		h.ActualTotal += a
		h.PredictedTotal += p
	}
	for i := range h.Groups {
		if n := h.Groups[i].Customers; n > 0 {
			h.Groups[i].Actual /= float64(n)
			h.Groups[i].Predicted /= float64(n)
		}
	}
	return h, nil
}
