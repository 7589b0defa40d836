package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

func TestQualityAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	// Minute 0: 3 stored, 1 unknown_country; minute 1: 1 stored, 1 malformed.
	p := store.Part{From: 0, To: 4, CheckedAt: m0.Add(5 * time.Second)}
	for i := range 3 {
		p.Txs = append(p.Txs, storetest.Tx(string(rune('a'+i)), "c", m0, 100, 0, int64(i)))
	}
	p.Quarantined = []store.Quarantined{{Reason: "unknown_country", Raw: []byte("x"), Offset: 3}}
	q := store.Part{From: 4, To: 6, CheckedAt: m0.Add(65 * time.Second), Txs: []store.Tx{storetest.Tx("d", "c", m0, 100, 0, 4)},
		Quarantined: []store.Quarantined{{Reason: "malformed_json", Raw: []byte("{"), Offset: 5}}}
	for _, part := range []store.Part{p, q} {
		if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{part}}); err != nil {
			t.Fatal(err)
		}
	}
	now := m0.Add(3 * time.Minute)
	f := store.QualityFinding{DetectedAt: now.Add(-time.Minute), Detector: "drift", Subject: "amount", Severity: "warning", Value: 0.2, Threshold: 0.1, Message: "m", Source: "p1"}
	old := f
	old.DetectedAt, old.Value = now.Add(-2*time.Minute), 0.15
	stale := f
	stale.DetectedAt, stale.Subject = now.Add(-time.Hour), "channel"
	if err := st.AddQualityFindings(ctx, []store.QualityFinding{old, f, stale}, nil); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	RegisterQuality(srv, st, func() time.Time { return now })

	get := func(query string) (int, QualityResponse, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/api/v1/quality"+query, nil)
		req.RemoteAddr, req.Host = "127.0.0.1:40000", "localhost" // a local user: no token needed
		srv.ServeHTTP(rec, req)
		var body QualityResponse
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
		}
		return rec.Code, body, rec.Body.String()
	}
	code, body, raw := get("")
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, raw)
	}
	if o := body.Overall; o.Checked != 6 || o.Passed != 4 || o.Failed != 2 || o.Score == nil || *o.Score != 4.0/6 {
		t.Errorf("overall %+v, want 4 of 6 passed", o)
	}
	if len(body.Minutes) != 2 || body.Minutes[0].Checked != 4 || body.Minutes[1].Checked != 2 || !body.Minutes[1].Minute.Equal(m0.Add(time.Minute)) {
		t.Errorf("minutes %+v", body.Minutes)
	}
	if len(body.Checks) < 2 || body.Checks[0].Check != "malformed_json" || body.Checks[1].Check != "unknown_country" {
		t.Fatalf("checks %+v, want the failing ones first", body.Checks)
	}
	uc := body.Checks[1]
	if uc.Checked != 5 || uc.Failed != 1 || *uc.Score != 0.8 || len(uc.Minutes) != 2 || uc.Minutes[0].Failed != 1 {
		t.Errorf("unknown_country %+v", uc)
	}
	if len(body.Findings) != 1 || body.Findings[0].Value != 0.2 || body.Findings[0].Subject != "amount" {
		t.Errorf("findings %+v, want the latest drift finding only", body.Findings)
	}

	// A range holding only the second minute.
	_, body, _ = get("?from=" + url.QueryEscape(m0.Add(time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(m0.Add(90*time.Second).Format(time.RFC3339)))
	if body.Overall.Checked != 2 || len(body.Minutes) != 1 {
		t.Errorf("second minute only: %+v", body)
	}
	// The same range by the names every series takes; the older names
	// must agree with them.
	_, body, _ = get("?since=" + url.QueryEscape(m0.Add(time.Minute).Format(time.RFC3339)) + "&until=" + url.QueryEscape(m0.Add(90*time.Second).Format(time.RFC3339)))
	if body.Overall.Checked != 2 || len(body.Minutes) != 1 {
		t.Errorf("second minute only, by since and until: %+v", body)
	}
	// Nothing checked: no score.
	_, body, _ = get("?from=2026-01-01T00:00:00Z&to=2026-01-01T01:00:00Z")
	if body.Overall.Score != nil || body.Overall.Checked != 0 || body.Checks == nil {
		t.Errorf("empty range %+v", body)
	}
	for q, want := range map[string]string{
		"?from=yesterday": "from",
		"?to=2026-03-02":  "to",
		"?from=2026-03-02T10:00:00Z&to=2026-03-02T09:00:00Z": "not before",
		"?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z": "spans more than",
		"?since=yesterday":  "since",
		"?until=2026-03-02": "until",
		"?since=2026-03-02T10:00:00Z&until=2026-03-02T09:00:00Z": "not before",
		"?since=2026-03-02T09:00:00Z&from=2026-03-02T08:00:00Z":  "disagree",
	} {
		code, _, raw := get(q)
		if code != http.StatusBadRequest || !strings.Contains(raw, want) {
			t.Errorf("%s: %d %s, want 400 naming %q", q, code, raw, want)
		}
	}
}

// FuzzQualityRange: any from and to either give a valid range of whole
// minutes within the limit or a 400.
func FuzzQualityRange(f *testing.F) {
	f.Add("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z")
	f.Add("", "")
	f.Add("2026-03-02T10:00:30+02:00", "")
	f.Add("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, from, to string) {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/quality?"+url.Values{"from": {from}, "to": {to}}.Encode(), nil)
		a, b, err := qualityRange(r, now)
		if err != nil {
			if !strings.Contains(err.Error(), "from") && !strings.Contains(err.Error(), "to") {
				t.Fatalf("error names no parameter: %v", err)
			}
			return
		}
		if !b.After(a) || b.Sub(a) > QualityMaxRange || a.Truncate(time.Minute) != a || b.Truncate(time.Minute) != b {
			t.Fatalf("range [%v, %v) from %q %q", a, b, from, to)
		}
	})
}
