package monitor

import (
	"slices"
	"time"

	"github.com/shopstream/shopstream/internal/quality"
)

// All is the check name of the whole stream's row.
const All = "all"

// Counts are one check's records in some span of time. They add up.
type Counts struct {
	Checked, Passed, Warned, Failed int64
}

// Add returns c plus o.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.Checked + o.Checked, c.Passed + o.Passed, c.Warned + o.Warned, c.Failed + o.Failed}
}

// Score is the share of checked records that passed, and false when
// nothing was checked.
func (c Counts) Score() (float64, bool) {
	if c.Checked == 0 {
		return 0, false
	}
	return float64(c.Passed) / float64(c.Checked), true
}

// Checks are the checks every minute has a row for, in quality's order,
// followed by the record the database refused (store_rejected). A check
// that only warns belongs here too: warnings of a name not listed get a
// row only in the batches they occur in, so that row's checked and passed
// undercount.
var Checks = append(slices.Clone(quality.Reasons), quality.StoreRejected)

// Tally counts the outcomes of records in one minute. The zero value is
// ready; it is not safe for concurrent use.
type Tally struct {
	// Records is every record counted; Failed those that failed a check,
	// by reason; Warned the passing records with at least one warning;
	// WarnedBy the passing records with a warning of each check.
	Records, WarnedAny int64
	Failed             map[quality.Reason]int64
	WarnedBy           map[string]int64
}

// Add counts one record that failed reason (quality.OK when it passed)
// with warnings (only counted when it passed).
func (t *Tally) Add(reason quality.Reason, warnings []string) {
	t.Records++
	if reason != quality.OK {
		if t.Failed == nil {
			t.Failed = map[quality.Reason]int64{}
		}
		t.Failed[reason]++
		return
	}
	if len(warnings) == 0 {
		return
	}
	t.WarnedAny++
	if t.WarnedBy == nil {
		t.WarnedBy = map[string]int64{}
	}
	for i, w := range warnings {
		if slices.Contains(warnings[:i], w) {
			continue // a record warned twice by one check counts once
		}
		t.WarnedBy[w]++
	}
}

// Merge adds o to t.
func (t *Tally) Merge(o *Tally) {
	t.Records += o.Records
	t.WarnedAny += o.WarnedAny
	for r, n := range o.Failed {
		if t.Failed == nil {
			t.Failed = map[quality.Reason]int64{}
		}
		t.Failed[r] += n
	}
	for w, n := range o.WarnedBy {
		if t.WarnedBy == nil {
			t.WarnedBy = map[string]int64{}
		}
		t.WarnedBy[w] += n
	}
}

// Row is one check's counts in one minute.
type Row struct {
	Minute time.Time
	Check  string
	Counts
}

// Rows turns t, counted in the minute starting at minute, into a row for
// the whole stream (All), one for every check of Checks, and one for each
// other check that warned or failed; see the package documentation for
// what each count means. Rows of one minute add up over tallies.
func (t *Tally) Rows(minute time.Time) []Row {
	var failed, failedAll int64
	for _, n := range t.Failed {
		failedAll += n
	}
	passed := t.Records - failedAll
	out := make([]Row, 0, len(Checks)+1)
	out = append(out, Row{minute, All, Counts{Checked: t.Records, Passed: passed, Warned: t.WarnedAny, Failed: failedAll}})
	add := func(name string) {
		failed = t.Failed[quality.Reason(name)]
		out = append(out, Row{minute, name, Counts{Checked: passed + failed, Passed: passed, Warned: t.WarnedBy[name], Failed: failed}})
	}
	for _, c := range Checks {
		add(string(c))
	}
	var extra []string
	for r := range t.Failed {
		if !slices.Contains(Checks, r) {
			extra = append(extra, string(r))
		}
	}
	for w := range t.WarnedBy {
		if !slices.Contains(Checks, quality.Reason(w)) && !slices.Contains(extra, w) {
			extra = append(extra, w)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		add(name)
	}
	return out
}

// Summarize adds up rows per check: the totals of a span, and each check's
// score over it.
func Summarize(rows []Row) map[string]Counts {
	out := map[string]Counts{}
	for _, r := range rows {
		out[r.Check] = out[r.Check].Add(r.Counts)
	}
	return out
}
