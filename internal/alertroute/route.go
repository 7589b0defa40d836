package alertroute

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Status is what became of an alert at a destination.
type Status string

// Statuses. Pending messages are sent by the deliverer and end Sent or
// Failed; the others are final when recorded.
const (
	Pending      Status = "pending"
	Sent         Status = "sent"
	Failed       Status = "failed"
	Deduplicated Status = "deduplicated"
	Grouped      Status = "grouped"
	RateLimited  Status = "rate_limited"
)

// ValidStatus reports whether s is one of the statuses.
func ValidStatus(s string) bool {
	switch Status(s) {
	case Pending, Sent, Failed, Deduplicated, Grouped, RateLimited:
		return true
	}
	return false
}

// Bundle is the kind of a message that carries several alerts.
type Bundle string

// Bundles.
const (
	// Single is one alert's own message (or an alert's record).
	Single Bundle = ""
	// Group carries the alerts of a burst, sent when its window closes.
	Group Bundle = "group"
	// Digest counts the alerts a rate limit held back in its window.
	Digest Bundle = "digest"
)

// Record is one row of the deliveries record that Route writes through
// State: a message to send (a single alert's, or a group's or digest's,
// which Bundle marks) or what became of one alert at one destination.
type Record struct {
	Destination string
	Rule        string
	Status      Status
	Bundle      Bundle
	// BundleKey tells groups of one destination apart (the rule and the
	// group_by labels); empty for digests.
	BundleKey string
	// BundleID is, for an alert Grouped or RateLimited, the id of the
	// group or digest message that carries it.
	BundleID int64
	// At is when it was routed.
	At time.Time
	// DueAt is when the message may be sent: now for a single alert, the
	// end of the window for a group or digest (which collects members
	// until then).
	DueAt time.Time
	// Counts is true for messages the destination's rate limit counts:
	// singles and groups, not digests.
	Counts bool
	// The alert's, for an alert's record; Key is the dedup key.
	Kind     string
	Key      string
	Severity Severity
	Category string
	Summary  string
	Payload  []byte
}

// State is what Route reads and writes. The store implements it inside
// one transaction that serialises routing; tests implement it in memory.
type State interface {
	// Seen reports whether an alert with dedup key key was recorded for
	// dest at or after since, other than as Deduplicated.
	Seen(dest, key string, since time.Time) (bool, error)
	// Messages counts the records for dest at or after since that the
	// rate limit counts (Record.Counts).
	Messages(dest string, since time.Time) (int, error)
	// OpenBundle returns the id of the group (with key) or digest of dest
	// that still collects members at now: its DueAt is after now and the
	// deliverer has not taken it.
	OpenBundle(dest string, kind Bundle, key string, now time.Time) (id int64, ok bool, err error)
	// Add records r and returns its id.
	Add(r Record) (int64, error)
}

// Route records what becomes of a at each destination the rules send it
// to, and returns one Record per destination (the alert's own, with its
// id-bearing bundle when grouped or rate-limited). For each target, in
// this order:
//
//   - dedup_window: a key seen for the destination within the window is
//     Deduplicated;
//   - group_window: the alert joins the open group of its rule and group
//     labels, or opens one (a message, due when the window ends);
//   - else the alert is a message of its own, due now;
//   - rate_limit: a message that would go over the destination's limit in
//     its window is not made; the alert joins the destination's open
//     digest (or opens one, due a window later) as RateLimited.
func (r *Routes) Route(st State, a *Alert, now time.Time) ([]Record, error) {
	if st == nil {
		return nil, errNoState
	}
	var out []Record
	for _, t := range r.Targets(a) {
		rec, err := routeOne(st, a, t, now)
		if err != nil {
			return nil, fmt.Errorf("routing %s alert %s to %s: %w", a.Kind, a.Key, t.Destination.Name, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

func routeOne(st State, a *Alert, t Target, now time.Time) (Record, error) {
	ru, d := t.Rule, t.Destination
	rec := Record{Destination: d.Name, Rule: ru.Name, Kind: a.Kind, Key: a.Key, Severity: a.Severity,
		Category: a.Category(), Summary: a.Summary, Payload: a.Payload, At: now, DueAt: now}
	if len(ru.DedupBy) > 0 {
		rec.Key = a.Kind + ":" + labelKey(a, ru.DedupBy)
	}
	add := func(rec Record) (Record, error) {
		_, err := st.Add(rec)
		return rec, err
	}
	if ru.DedupWindow > 0 {
		seen, err := st.Seen(d.Name, rec.Key, now.Add(-ru.DedupWindow))
		if err != nil {
			return rec, err
		}
		if seen {
			rec.Status = Deduplicated
			return add(rec)
		}
	}
	// full reports whether one more message would break the rate limit.
	full := func() (bool, error) {
		if d.Limit == 0 {
			return false, nil
		}
		n, err := st.Messages(d.Name, now.Add(-d.Per))
		return n >= d.Limit, err
	}
	if ru.GroupWindow > 0 {
		gkey := ru.Name
		if len(ru.GroupBy) > 0 {
			gkey += "|" + labelKey(a, ru.GroupBy)
		}
		id, ok, err := st.OpenBundle(d.Name, Group, gkey, now)
		if err != nil {
			return rec, err
		}
		if !ok {
			over, err := full()
			if err != nil {
				return rec, err
			}
			if over {
				return digest(st, rec, d, now)
			}
			id, err = st.Add(Record{Destination: d.Name, Rule: ru.Name, Status: Pending, Bundle: Group, BundleKey: gkey,
				At: now, DueAt: now.Add(ru.GroupWindow), Counts: true, Kind: a.Kind, Severity: a.Severity, Category: a.Category(),
				Summary: "group of " + ru.Name + " alerts"})
			if err != nil {
				return rec, err
			}
		}
		rec.Status, rec.BundleID = Grouped, id
		return add(rec)
	}
	over, err := full()
	if err != nil {
		return rec, err
	}
	if over {
		return digest(st, rec, d, now)
	}
	rec.Status, rec.Counts = Pending, true
	return add(rec)
}

// digest records rec as held back by d's rate limit, in d's open digest.
func digest(st State, rec Record, d *Destination, now time.Time) (Record, error) {
	id, ok, err := st.OpenBundle(d.Name, Digest, "", now)
	if err != nil {
		return rec, err
	}
	if !ok {
		id, err = st.Add(Record{Destination: d.Name, Rule: rec.Rule, Status: Pending, Bundle: Digest, At: now, DueAt: now.Add(d.Per),
			Kind: "digest", Severity: rec.Severity, Category: "digest", Summary: "digest of rate-limited alerts"})
		if err != nil {
			return rec, err
		}
	}
	rec.Status, rec.BundleID = RateLimited, id
	_, err = st.Add(rec)
	return rec, err
}

// Member is an alert carried by a group or digest message.
type Member struct {
	Kind     string
	Category string
	Severity Severity
	Summary  string
	Payload  []byte
}

// Text composes the text of a group or digest message of members over
// window, e.g. "3 review alerts in the last 30 seconds (rule reviews)" with
// a line per alert for a group (the first 10), and "312 more review alerts
// in the last minute" for a digest.
func Text(kind Bundle, rule string, window time.Duration, members []Member) string {
	counts := map[string]int{}
	for _, m := range members {
		counts[m.Category]++
	}
	cats := make([]string, 0, len(counts))
	for c := range counts {
		cats = append(cats, c)
	}
	sort.Slice(cats, func(i, j int) bool {
		if counts[cats[i]] != counts[cats[j]] {
			return counts[cats[i]] > counts[cats[j]]
		}
		return cats[i] < cats[j]
	})
	n := len(members)
	what := "alerts"
	if n == 1 {
		what = "alert"
	}
	if len(cats) == 1 {
		what = cats[0] + " " + what
	}
	var b strings.Builder
	switch kind {
	case Digest:
		fmt.Fprintf(&b, "%d more %s in the last %s", n, what, Span(window))
	default:
		fmt.Fprintf(&b, "%d %s in the last %s (rule %s)", n, what, Span(window), rule)
	}
	if len(cats) > 1 {
		parts := make([]string, len(cats))
		for i, c := range cats {
			parts[i] = strconv.Itoa(counts[c]) + " " + c
		}
		b.WriteString(": " + strings.Join(parts, ", "))
	}
	if kind == Group {
		const show = 10
		for i, m := range members {
			if i == show {
				fmt.Fprintf(&b, "\n• … and %d more", n-show)
				break
			}
			b.WriteString("\n• " + m.Summary)
		}
	}
	return b.String()
}

// Span says a window for people: "minute", "30 seconds", "5 minutes",
// "hour", or the duration itself ("1m30s").
func Span(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "minute"
	case d == time.Hour:
		return "hour"
	case d == time.Second:
		return "second"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + " hours"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + " minutes"
	case d%time.Second == 0 && d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + " seconds"
	}
	return d.String()
}
