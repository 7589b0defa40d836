package alertroute

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// memState is State in memory, as the store keeps it in its table; taken
// marks bundles the deliverer has claimed.
type memState struct {
	recs  []Record
	taken map[int64]bool
}

func (m *memState) Seen(dest, key string, since time.Time) (bool, error) {
	for _, r := range m.recs {
		if r.Destination == dest && r.Bundle == Single && r.Key == key && r.Status != Deduplicated && !r.At.Before(since) {
			return true, nil
		}
	}
	return false, nil
}

func (m *memState) Messages(dest string, since time.Time) (int, error) {
	n := 0
	for _, r := range m.recs {
		if r.Destination == dest && r.Counts && !r.At.Before(since) {
			n++
		}
	}
	return n, nil
}

func (m *memState) OpenBundle(dest string, kind Bundle, key string, now time.Time) (int64, bool, error) {
	for i := len(m.recs) - 1; i >= 0; i-- {
		r := m.recs[i]
		if r.Destination == dest && r.Bundle == kind && r.BundleKey == key && r.DueAt.After(now) && !m.taken[int64(i+1)] {
			return int64(i + 1), true, nil
		}
	}
	return 0, false, nil
}

func (m *memState) Add(r Record) (int64, error) {
	m.recs = append(m.recs, r)
	return int64(len(m.recs)), nil
}

const testRoutes = `{
  "destinations": [
    {"name": "ops", "type": "slack", "url": "https://chat.example/hook", "rate_limit": {"count": 3, "per": "1m"}},
    {"name": "siem", "type": "webhook", "url": "http://127.0.0.1:9/in", "secret_env": "SIEM_KEY"},
    {"name": "board", "type": "dashboard"},
    {"name": "bus", "type": "kafka", "topic": "alerts.routed"}
  ],
  "rules": [
    {"name": "declines", "match": {"kind": ["fraud"], "min_severity": "critical", "min_score": 0.9}, "destinations": ["siem", "ops"],
     "dedup_window": "10m", "dedup_by": ["customer_id"]},
    {"name": "reviews", "match": {"kind": ["fraud"], "labels": {"decision": ["review"]}}, "destinations": ["ops"], "stop": true},
    {"name": "quality", "match": {"kind": ["quality"]}, "destinations": ["board", "bus"], "group_window": "30s", "group_by": ["check"]},
    {"name": "everything", "destinations": ["board"]}
  ]
}`

func mustParse(t *testing.T, s string) *Routes {
	t.Helper()
	r, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func fraudAlert(t *testing.T, tx, customer, decision string, risk float64) *Alert {
	t.Helper()
	a, err := FromPayload(fmt.Appendf(nil, `{"transaction_id":%q,"customer_id":%q,"event_time":"2026-03-01T12:00:00Z","amount":12.50,"currency":"EUR","risk":%v,"decision":%q,"reasons":[{"rule":"velocity","reason":"5 orders in 10 minutes"}]}`,
		tx, customer, risk, decision))
	if err != nil {
		t.Fatal(err)
	}
	return a2p(a)
}

func a2p(a Alert) *Alert { return &a }

func TestFromPayload(t *testing.T) {
	t.Parallel()
	a := fraudAlert(t, "t1", "c1", "decline", 0.97)
	if a.Kind != "fraud" || a.Severity != Critical || a.Score != 0.97 || a.Labels["rule"] != "velocity" || a.Category() != "decline" {
		t.Fatalf("fraud alert read as %+v", a)
	}
	if want := "decline transaction t1 of customer c1 (12.50 EUR), risk 0.97, rule velocity"; a.Summary != want {
		t.Fatalf("summary %q, want %q", a.Summary, want)
	}
	if a.Key != "fraud:velocity:c1:decline" {
		t.Fatalf("key %q", a.Key)
	}
	q, err := FromPayload([]byte(`{"kind":"quality","severity":"error","value":0.2,"labels":{"check":"null_rate","severity":"critical"},"summary":"null rate\n of email 20%"}`))
	if err != nil {
		t.Fatal(err)
	}
	if q.Kind != "quality" || q.Severity != Critical || !math.IsNaN(q.Score) || q.Labels["check"] != "null_rate" || q.Key != "quality:null_rate" || q.Summary != "null rate of email 20%" {
		t.Fatalf("quality alert read as %+v", q)
	}
	l, err := FromPayload([]byte(`{"kind":"records_lost","reason":"retention","topic":"transactions","partition":3,"from_offset":5,"to_offset":9,"count":4}`))
	if err != nil {
		t.Fatal(err)
	}
	if l.Severity != Critical || l.Key != "records_lost:retention:transactions:3" || l.Summary != "4 offsets lost on transactions partition 3 (retention)" {
		t.Fatalf("loss alert read as %+v", l)
	}
	for _, bad := range []string{``, `[]`, `null`, `"x"`, `{`} {
		if _, err := FromPayload([]byte(bad)); err == nil {
			t.Errorf("FromPayload(%q) took it", bad)
		}
	}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	r := mustParse(t, testRoutes)
	names := func(a *Alert) string {
		var s []string
		for _, t := range r.Targets(a) {
			s = append(s, t.Rule.Name+">"+t.Destination.Name)
		}
		return strings.Join(s, " ")
	}
	q, _ := FromPayload([]byte(`{"kind":"quality","labels":{"check":"schema"}}`))
	for _, tc := range []struct {
		a    *Alert
		want string
	}{
		{fraudAlert(t, "t1", "c1", "decline", 0.97), "declines>siem declines>ops everything>board"},
		// a decline under the score threshold skips the first rule
		{fraudAlert(t, "t2", "c1", "decline", 0.85), "everything>board"},
		// reviews stop the list: not on the board
		{fraudAlert(t, "t3", "c1", "review", 0.5), "reviews>ops"},
		// the quality rule names the board first: the catch-all does not again
		{&q, "quality>board quality>bus"},
	} {
		if got := names(tc.a); got != tc.want {
			t.Errorf("%s: targets %q, want %q", tc.a.Summary, got, tc.want)
		}
	}
}

func statuses(recs []Record) string {
	var s []string
	for _, r := range recs {
		s = append(s, r.Destination+":"+string(r.Status))
	}
	return strings.Join(s, " ")
}

// TestDedup: a decline of the same customer within the dedup window is
// recorded as deduplicated at both destinations; after the window, or for
// another customer, it is sent again.
func TestDedup(t *testing.T) {
	t.Parallel()
	r := mustParse(t, testRoutes)
	st := &memState{}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	step := func(tx, customer string, at time.Duration, want string) {
		t.Helper()
		recs, err := r.Route(st, fraudAlert(t, tx, customer, "decline", 0.95), now.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(recs); got != want {
			t.Fatalf("%s at +%s: %s, want %s", tx, at, got, want)
		}
	}
	step("t1", "c1", 0, "siem:pending ops:pending board:pending")
	step("t2", "c1", 9*time.Minute, "siem:deduplicated ops:deduplicated board:pending")
	step("t3", "c2", 9*time.Minute, "siem:pending ops:pending board:pending")
	// the window runs from the last one sent, not the last repeat
	step("t4", "c1", 10*time.Minute+time.Second, "siem:pending ops:pending board:pending")
}

// TestGroup: a burst of quality alerts of one check is one group message
// per destination, due when the window ends; another check has a group of
// its own, and an alert after the window (or after the deliverer took the
// group) opens a new one.
func TestGroup(t *testing.T) {
	t.Parallel()
	r := mustParse(t, testRoutes)
	st := &memState{taken: map[int64]bool{}}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	route := func(check string, at time.Duration) {
		t.Helper()
		a, _ := FromPayload(fmt.Appendf(nil, `{"kind":"quality","labels":{"check":%q}}`, check))
		recs, err := r.Route(st, &a, now.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(recs); got != "board:grouped bus:grouped" {
			t.Fatalf("%s: %s", check, got)
		}
	}
	for i := range 20 {
		route("null_rate", time.Duration(i)*time.Second)
	}
	route("schema", 5*time.Second)
	route("null_rate", 31*time.Second)
	bundles := map[string]int{}
	members := map[int64]int{}
	for i, rec := range st.recs {
		if rec.Bundle == Group {
			bundles[rec.Destination+" "+rec.BundleKey+" due "+rec.DueAt.Sub(now).String()]++
			if !rec.Counts || rec.Status != Pending {
				t.Errorf("group %d: %+v", i+1, rec)
			}
		}
		if rec.Status == Grouped {
			members[rec.BundleID]++
		}
	}
	want := map[string]int{
		"board quality|check=null_rate due 30s": 1, "bus quality|check=null_rate due 30s": 1,
		"board quality|check=schema due 35s": 1, "bus quality|check=schema due 35s": 1,
		"board quality|check=null_rate due 1m1s": 1, "bus quality|check=null_rate due 1m1s": 1,
	}
	if fmt.Sprint(bundles) != fmt.Sprint(want) {
		t.Fatalf("groups %v, want %v", bundles, want)
	}
	// ids: board's group 1, its first member 2, bus's group 3, ...
	if members[1] != 20 || members[3] != 20 || len(members) != 6 {
		t.Fatalf("members per group %v, want the first two with 20 each and four with one", members)
	}
	// once the deliverer takes a group it collects no more
	for id := range members {
		st.taken[id] = true
	}
	route("schema", 6*time.Second)
	if last := st.recs[len(st.recs)-1]; last.BundleID <= int64(len(st.recs)-4) {
		t.Fatalf("an alert joined a group the deliverer had taken: %+v", last)
	}
}

// TestRateLimitDigest: past the destination's limit of 3 per minute, a
// burst of review alerts goes into one digest per window ("312 more
// review alerts in the last minute"); when the window has moved on,
// messages flow again.
func TestRateLimitDigest(t *testing.T) {
	t.Parallel()
	r := mustParse(t, testRoutes)
	st := &memState{}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	counts := map[Status]int{}
	for i := range 315 {
		recs, err := r.Route(st, fraudAlert(t, fmt.Sprintf("t%d", i), fmt.Sprintf("c%d", i), "review", 0.5), now.Add(time.Duration(i)*100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Destination != "ops" {
			t.Fatalf("review %d: %s", i, statuses(recs))
		}
		counts[recs[0].Status]++
	}
	if counts[Pending] != 3 || counts[RateLimited] != 312 {
		t.Fatalf("statuses %v, want 3 sent and 312 held back", counts)
	}
	var digests []int64
	var members []Member
	for i, rec := range st.recs {
		if rec.Bundle == Digest {
			digests = append(digests, int64(i+1))
			if rec.Counts || !rec.DueAt.Equal(now.Add(300*time.Millisecond+time.Minute)) {
				t.Errorf("digest %+v: want due a minute after the first held back, not counted", rec)
			}
		}
		if rec.Status == RateLimited {
			members = append(members, Member{Category: rec.Category, Summary: rec.Summary})
		}
	}
	if len(digests) != 1 {
		t.Fatalf("%d digests, want 1", len(digests))
	}
	if got := Text(Digest, "reviews", time.Minute, members); got != "312 more review alerts in the last minute" {
		t.Fatalf("digest text %q", got)
	}
	// a minute after the first three, the limit has room again
	recs, err := r.Route(st, fraudAlert(t, "late", "cz", "review", 0.5), now.Add(time.Minute+time.Millisecond))
	if err != nil || statuses(recs) != "ops:pending" {
		t.Fatalf("after the window: %s, %v", statuses(recs), err)
	}
}

// TestGroupOverTheLimit: a group is a message too; one that would break
// the limit is not opened and its alert goes to the digest.
func TestGroupOverTheLimit(t *testing.T) {
	t.Parallel()
	r := mustParse(t, `{"destinations": [{"name": "ops", "type": "dashboard", "rate_limit": {"count": 1, "per": "10m"}}],
	  "rules": [{"name": "q", "destinations": ["ops"], "group_window": "1m", "group_by": ["check"]}]}`)
	st := &memState{}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var got []string
	for i, check := range []string{"a", "a", "b", "b", "a"} {
		a, _ := FromPayload(fmt.Appendf(nil, `{"kind":"quality","check":%q}`, check))
		recs, err := r.Route(st, &a, now.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, check+":"+statuses(recs))
	}
	want := "a:ops:grouped a:ops:grouped b:ops:rate_limited b:ops:rate_limited a:ops:grouped"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %s, want %s", strings.Join(got, " "), want)
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	var ms []Member
	for i := range 12 {
		c := "review"
		if i%4 == 0 {
			c = "decline"
		}
		ms = append(ms, Member{Category: c, Summary: fmt.Sprintf("alert %d", i)})
	}
	got := Text(Group, "fraud", 30*time.Second, ms)
	want := "12 alerts in the last 30 seconds (rule fraud): 9 review, 3 decline\n• alert 0\n• alert 1\n• alert 2\n• alert 3\n• alert 4\n• alert 5\n• alert 6\n• alert 7\n• alert 8\n• alert 9\n• … and 2 more"
	if got != want {
		t.Fatalf("group text\n%s\nwant\n%s", got, want)
	}
	if got := Text(Digest, "x", 5*time.Minute, ms[:1]); got != "1 more decline alert in the last 5 minutes" {
		t.Fatalf("digest text %q", got)
	}
	for d, want := range map[time.Duration]string{time.Hour: "hour", 2 * time.Hour: "2 hours", 90 * time.Second: "1m30s", 45 * time.Second: "45 seconds"} {
		if got := Span(d); got != want {
			t.Errorf("Span(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestParseErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	dest := `{"name": "ops", "type": "slack", "url": "https://x.example/h"}`
	for _, tc := range []struct{ in, want string }{
		{`{"destinations": [` + dest + `], "rules": [], "extra": 1}`, `unknown field "extra"`},
		{`{"destinations": [{"name": "ops", "type": "slack", "url": "https://x.example/h", "colour": "red"}]}`, `unknown field "colour"`},
		{`{"destinations": []}`, `destinations: at least one`},
		{`{"destinations": [{"name": "ops", "type": "pager"}]}`, `destinations[0] (ops).type: "pager"`},
		{`{"destinations": [{"name": "o p", "type": "dashboard"}]}`, `destinations[0].name: "o p"`},
		{`{"destinations": [` + dest + `, ` + dest + `]}`, `destinations[1] (ops).name: "ops" is used twice`},
		{`{"destinations": [{"name": "ops", "type": "slack", "url": "ftp://x"}]}`, `destinations[0] (ops).url: "ftp://x"`},
		{`{"destinations": [{"name": "h", "type": "webhook", "url": "https://x.example/h"}]}`, `destinations[0] (h): give exactly one of secret_env and secret_file`},
		{`{"destinations": [{"name": "h", "type": "webhook", "url": "https://x.example/h", "secret_env": "A", "secret_file": "/b"}]}`, `exactly one of secret_env`},
		{`{"destinations": [{"name": "k", "type": "kafka"}]}`, `destinations[0] (k).topic: ""`},
		{`{"destinations": [{"name": "k", "type": "kafka", "topic": "t", "url": "https://x.example"}]}`, `destinations[0] (k).url: not used by type kafka`},
		{`{"destinations": [{"name": "d", "type": "dashboard", "rate_limit": {"count": 0, "per": "1m"}}]}`, `destinations[0] (d).rate_limit.count: 0`},
		{`{"destinations": [{"name": "d", "type": "dashboard", "rate_limit": {"count": 5, "per": "soon"}}]}`, `destinations[0] (d).rate_limit.per: "soon"`},
		{`{"destinations": [` + dest + `], "rules": [{"name": "r", "destinations": ["pager"]}]}`, `rules[0] (r).destinations[0]: unknown destination "pager"`},
		{`{"destinations": [` + dest + `], "rules": [{"name": "r", "destinations": []}]}`, `rules[0] (r).destinations: at least one`},
		{`{"destinations": [` + dest + `], "rules": [{"name": "r", "destinations": ["ops"], "dedup_window": "-1s"}]}`, `rules[0] (r).dedup_window: "-1s"`},
		{`{"destinations": [` + dest + `], "rules": [{"name": "r", "destinations": ["ops"], "group_by": ["check"]}]}`, `rules[0] (r).group_by: needs a group_window`},
		{`{"destinations": [` + dest + `], "rules": [{"name": "r", "destinations": ["ops"], "match": {"min_severity": "loud"}}]}`, `rules[0] (r).match.min_severity: "loud"`},
		{`{"destinations": [` + dest + `], "rules": [{"name": "r", "destinations": ["ops"], "match": {"kind": "fraud"}}]}`, `rules.match.kind`},
		{`{"destinations": [` + dest + `], "rules": [{"name": "r", "destinations": ["ops"], "match": {"min_score": 0.9, "max_score": 0.5}}]}`, `rules[0] (r).match.max_score: 0.5 is below min_score 0.9`},
		{`{"destinations": [` + dest + `], "rules": [{"name": "r", "destinations": ["ops"]}, {"name": "r", "destinations": ["ops"]}]}`, `rules[1] (r).name: "r" is used twice`},
		{`{"destinations": [` + dest + `]} {}`, `more than one document`},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
	if r := mustParse(t, testRoutes); len(r.Rules) != 4 || r.Destinations["ops"].Limit != 3 || r.Destinations["ops"].Per != time.Minute ||
		strings.Join(r.DestinationNames(), ",") != "ops,siem,board,bus" {
		t.Fatalf("parsed %+v", r)
	}
}

// FuzzParse: no input makes Parse panic, and whatever it accepts routes
// any alert without error to destinations it declares.
func FuzzParse(f *testing.F) {
	f.Add([]byte(testRoutes))
	f.Add([]byte(`{"destinations": [{"name": "d", "type": "dashboard"}], "rules": [{"name": "r", "destinations": ["d"]}]}`))
	f.Add([]byte(`{"destinations": [{"name": "d", "type": "dashboard", "rate_limit": {"count": 1, "per": "1s"}}], "rules": [{"name": "r", "destinations": ["d"], "group_window": "1s"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			if r != nil {
				t.Fatal("routes and an error")
			}
			return
		}
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		st := &memState{}
		for i := range 3 {
			a := fraudAlert(t, fmt.Sprint(i), "c", "review", 0.5)
			recs, err := r.Route(st, a, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				if r.Destinations[rec.Destination] == nil {
					t.Fatalf("routed to undeclared %q", rec.Destination)
				}
			}
		}
	})
}
