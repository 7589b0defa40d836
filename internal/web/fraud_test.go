package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
	"github.com/shopstream/shopstream/internal/web"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var fraudStores = map[string]func(t *testing.T) store.Store{
	"sqlite": func(t *testing.T) store.Store {
		st, err := sqlite.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	},
	"postgres": func(t *testing.T) store.Store {
		st, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	},
}

// forestParams returns the encoding of a small forest on random vectors.
func forestParams(t testing.TB, seed uint64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	vecs := make([][]float64, 256)
	for i := range vecs {
		vecs[i] = make([]float64, fraud.NumFeatures)
		for j := range vecs[i] {
			vecs[i][j] = rng.Float64()
		}
	}
	m, err := fraud.TrainModel(vecs, int64(seed))
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var fraudBase = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

// fraudFixture stores ten scored transactions of partition 0 a minute
// apart (nine labelled, five alerted) and an old unlabelled one in
// partition 1, and two model versions (1 active, 2 shadow).
//
//	id  decision risk  truth                         alert
//	f0  approve  0.10  legit
//	f1  approve  0.20  legit
//	f2  review   0.50  fraud card_testing            yes (shadow risk 0.7)
//	f3  decline  0.95  fraud bot_burst               yes
//	f4  approve  0.30  fraud stolen_card (missed)
//	f5  review   0.45  legit                         yes (shadow risk 0.1)
//	f6  approve  0.05  legit
//	f7  review   0.60  no label                      yes (the test confirms it as fraud)
//	f8  decline  0.92  fraud card_testing            yes (the test marks it a false positive)
//	f9  approve  0.15  no label
func fraudFixture(t testing.TB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	type row struct {
		decision string
		risk     float64
		label    *store.Label
	}
	legit := func(id string) *store.Label { return &store.Label{TransactionID: id} }
	fraudL := func(id, sc string) *store.Label { return &store.Label{TransactionID: id, Fraud: true, Scenario: sc} }
	rows := []row{
		{"approve", 0.10, legit("f0")}, {"approve", 0.20, legit("f1")}, {"review", 0.50, fraudL("f2", "card_testing")},
		{"decline", 0.95, fraudL("f3", "bot_burst")}, {"approve", 0.30, fraudL("f4", "stolen_card")}, {"review", 0.45, legit("f5")},
		{"approve", 0.05, legit("f6")}, {"review", 0.60, nil}, {"decline", 0.92, fraudL("f8", "card_testing")}, {"approve", 0.15, nil},
	}
	p0 := store.Part{Partition: 0, From: 0, To: int64(len(rows))}
	for i, r := range rows {
		id := fmt.Sprintf("f%d", i)
		tx := storetest.Tx(id, "alice", fraudBase.Add(time.Duration(i)*time.Minute), int64(1000+i), 0, int64(i))
		tx.Decision, tx.Risk = r.decision, r.risk
		if r.decision != "approve" {
			tx.ReasonsJSON = []byte(`[{"rule":"order_velocity","reason":"three or more orders in ten minutes","weight":0.95}]`)
			p0.Alerts = append(p0.Alerts, store.Alert{TransactionID: id, CustomerID: tx.CustomerID, EventTime: tx.EventTime,
				Risk: tx.Risk, Decision: tx.Decision, ReasonsJSON: tx.ReasonsJSON, AmountCents: tx.TotalCents})
		}
		switch id {
		case "f2":
			tx.ShadowRisk, tx.HasShadow = 0.7, true
		case "f5":
			tx.ShadowRisk, tx.HasShadow = 0.1, true
		}
		p0.Txs = append(p0.Txs, tx)
		if r.label != nil {
			p0.Labels = append(p0.Labels, *r.label)
		}
	}
	old := storetest.Tx("old", "bob", fraudBase.Add(-48*time.Hour), 500, 1, 0)
	p1 := store.Part{Partition: 1, From: 0, To: 1, Txs: []store.Tx{old}}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{p0, p1}}); err != nil {
		t.Fatal(err)
	}
	f := st.(store.Fraud)
	for i, status := range []string{store.StatusActive, store.StatusShadow} {
		if _, err := f.SaveFraudModel(ctx, store.FraudModel{Status: status, Params: forestParams(t, uint64(i+1)),
			Metrics: []byte(`{"rows":256}`), CreatedAt: fraudBase.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
}

type fraudEnv struct {
	ts  *httptest.Server
	det *detector.Detector
	st  store.Store
}

func newFraudEnv(t *testing.T, st store.Store) *fraudEnv {
	t.Helper()
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f := st.(store.Fraud)
	w := detector.NewModelWatcher(det, f, detector.WatchConfig{Logger: slog.New(slog.DiscardHandler)})
	if err := w.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Many calls from one address: no rate limit.
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Limits: web.Limits{AddrRate: -1}})
	if err != nil {
		t.Fatal(err)
	}
	now := fraudBase.Add(time.Hour)
	web.RegisterFraud(srv, web.FraudDeps{Store: f, Detector: det, Models: w, Now: func() time.Time { return now }})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &fraudEnv{ts: ts, det: det, st: st}
}

// call sends a request and decodes the JSON answer into v (strictly, so
// the documented shape is the whole shape), failing unless the status is
// want. It returns the raw body.
func (e *fraudEnv) call(t *testing.T, method, path, body string, want int, v any) string {
	t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json") // every change is JSON (docs/security.md)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if v != nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return string(raw)
}

func near(p *float64, want float64) bool { return p != nil && math.Abs(*p-want) < 1e-4 }

func alertIDs(as []web.AlertJSON) string {
	var s []string
	for _, a := range as {
		s = append(s, a.TransactionID)
	}
	return strings.Join(s, ",")
}

func TestFraudAPI(t *testing.T) {
	for name, open := range fraudStores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			fraudFixture(t, st)
			e := newFraudEnv(t, st)
			t.Run("alerts", func(t *testing.T) { testAlertsAPI(t, e) })
			t.Run("alert detail", func(t *testing.T) { testAlertDetailAPI(t, e) })
			t.Run("rings", func(t *testing.T) { testRingsAPI(t, e) })
			t.Run("label", func(t *testing.T) { testLabelAPI(t, e) })
			t.Run("metrics", func(t *testing.T) { testMetricsAPI(t, e) })
			t.Run("series", func(t *testing.T) { testSeriesAPI(t, e) })
			t.Run("cost", func(t *testing.T) { testCostAPI(t, e) })
			t.Run("rules", func(t *testing.T) { testRulesAPI(t, e) })
			t.Run("models", func(t *testing.T) { testModelsAPI(t, e) })
			t.Run("score", func(t *testing.T) { testScoreAPI(t, e) })
		})
	}
}

// testAlertDetailAPI reads one alert with its label, features and
// transaction, one whose label has not come, and an unknown one.
func testAlertDetailAPI(t *testing.T, e *fraudEnv) {
	var d web.AlertDetailJSON
	e.call(t, "GET", "/api/v1/alerts/f2", "", 200, &d)
	if d.TransactionID != "f2" || d.Decision != "review" || d.Risk != 0.5 || d.Scenario == nil || *d.Scenario != "card_testing" ||
		d.Label == nil || !d.Label.Fraud || d.Label.Scenario == nil || *d.Label.Scenario != "card_testing" {
		t.Fatalf("detail of f2 = %+v", d)
	}
	if len(d.Features) != 2 || d.Features[0] != (web.FeatureJSON{Name: fraud.FeatureNames[0], Value: 1}) ||
		d.Features[1] != (web.FeatureJSON{Name: fraud.FeatureNames[1], Value: 2.5}) {
		t.Fatalf("features of f2 = %+v", d.Features)
	}
	if tx := d.Transaction; tx == nil || tx.CustomerID != "alice" || tx.AmountCents != 1002 || tx.Currency == "" || tx.Channel == "" ||
		tx.ShadowRisk == nil || *tx.ShadowRisk != 0.7 || tx.Offset != 2 || !tx.EventTime.Equal(fraudBase.Add(2*time.Minute)) {
		t.Fatalf("transaction of f2 = %+v", d.Transaction)
	}
	var pending web.AlertDetailJSON
	e.call(t, "GET", "/api/v1/alerts/f7", "", 200, &pending)
	if pending.Label != nil || pending.Scenario != nil || pending.Transaction == nil || pending.Transaction.ShadowRisk != nil {
		t.Fatalf("detail of f7 (no label yet) = %+v", pending)
	}
	// f0 was approved: a transaction without an alert is not found.
	var e404 web.ErrorResponse
	e.call(t, "GET", "/api/v1/alerts/f0", "", 404, &e404)
	if e404.Error.Code != "not_found" {
		t.Fatalf("unknown alert answered %+v", e404)
	}
}

// testRingsAPI: a store that keeps rings answers an empty list while the
// entity stage has found none; then three stored rings, two of which share
// a member across partitions, come as two rings in pages by cursor, most
// recently updated first, and filtered by member, entity and time.
func testRingsAPI(t *testing.T, e *fraudEnv) {
	var r web.RingsResponse
	e.call(t, "GET", "/api/v1/fraud/rings?limit=5", "", 200, &r)
	if !r.Enabled || r.Rings == nil || len(r.Rings) != 0 || r.NextCursor != "" || r.Total != 0 || r.Accounts != 0 {
		t.Fatalf("rings = %+v, want enabled and none", r)
	}
	es := e.st.(store.Entities)
	for _, g := range []struct {
		key     string
		members []string
		part    int32
		from    int64
	}{{"device:d1", []string{"ann", "bob"}, 0, 0}, {"card:411111:1234", []string{"bob", "cy"}, 1, 0}, {"device:d2", []string{"dee", "eve", "fay"}, 0, 1}} {
		ring := store.EntityRing{Key: g.key, Members: g.members, Entities: []string{g.key}, Reason: "ring", TransactionID: "t",
			ProducedAt: fraudBase, FirstEventTime: fraudBase, LastEventTime: fraudBase}
		if err := es.WriteEntityBatch(context.Background(), &store.EntityBatch{Group: "entities", Topic: "transactions.entities",
			Parts: []store.EntityPart{{Partition: g.part, From: g.from, To: g.from + 1, Rings: []store.EntityRing{ring}}}}); err != nil {
			t.Fatal(err)
		}
	}
	keys := func(rs []web.RingJSON) string {
		var k []string
		for _, g := range rs {
			k = append(k, g.Key)
		}
		return strings.Join(k, " ")
	}
	var paged []string
	cursor := ""
	for range 5 {
		var p web.RingsResponse
		e.call(t, "GET", "/api/v1/fraud/rings?limit=1&cursor="+cursor, "", 200, &p)
		paged = append(paged, keys(p.Rings))
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if got := strings.Join(paged, "|"); got != "device:d2|card:411111:1234|" {
		t.Fatalf("rings in pages of one: %q", got)
	}
	var all web.RingsResponse
	e.call(t, "GET", "/api/v1/fraud/rings", "", 200, &all)
	since := url.QueryEscape(all.Rings[1].UpdatedAt.Format(time.RFC3339Nano))
	// The counts are of the filters over all pages, of the rings merged
	// where they share a member: a page of one still counts the ring of
	// ann, bob and cy once, and the second page both rings. The time range
	// selects the stored rings that are merged: since the card's update,
	// d1's ann is not in it.
	var first web.RingsResponse
	e.call(t, "GET", "/api/v1/fraud/rings?limit=1", "", 200, &first)
	for q, want := range map[string][2]int64{
		"":                    {2, 6},
		"?member=bob&limit=1": {1, 3},
		"?limit=1&cursor=" + url.QueryEscape(first.NextCursor): {2, 6},
		"?since=" + since:   {2, 5},
		"?member=nobody":    {0, 0},
		"?entity=device:d2": {1, 3},
	} {
		var p web.RingsResponse
		e.call(t, "GET", "/api/v1/fraud/rings"+q, "", 200, &p)
		if got := [2]int64{p.Total, p.Accounts}; got != want {
			t.Errorf("rings%s: %d rings of %d accounts, want %v", q, p.Total, p.Accounts, want)
		}
	}
	for q, want := range map[string]string{
		"?member=bob":       "card:411111:1234",
		"?member=ann":       "card:411111:1234",
		"?entity=device:d2": "device:d2",
		"?member=nobody":    "",
		"?since=" + since:   "device:d2 card:411111:1234",
		"?until=" + since:   "device:d1",
		"?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z": "",
	} {
		var p web.RingsResponse
		e.call(t, "GET", "/api/v1/fraud/rings"+q, "", 200, &p)
		if got := keys(p.Rings); got != want {
			t.Errorf("rings%s: %q, want %q", q, got, want)
		}
	}
	// d1 and the card, stored by two partitions, share bob: one ring of
	// ann, bob and cy, named by both entities.
	var bob web.RingsResponse
	e.call(t, "GET", "/api/v1/fraud/rings?member=ann", "", 200, &bob)
	if g := bob.Rings; len(g) != 1 || strings.Join(g[0].Members, ",") != "ann,bob,cy" || strings.Join(g[0].Entities, ",") != "card:411111:1234,device:d1" ||
		g[0].Reason != "ring of 3 accounts sharing card 411111:1234 and device d1: ann, bob, cy" {
		t.Errorf("the ring across partitions: %+v", g)
	}
	// The same accounts stored again under another key by a third
	// partition: listed and counted once.
	dup := store.EntityRing{Key: "device:d9", Members: []string{"dee", "eve", "fay"}, Entities: []string{"device:d9"}, Reason: "ring", TransactionID: "t",
		ProducedAt: fraudBase, FirstEventTime: fraudBase, LastEventTime: fraudBase}
	if err := es.WriteEntityBatch(context.Background(), &store.EntityBatch{Group: "entities", Topic: "transactions.entities",
		Parts: []store.EntityPart{{Partition: 2, From: 0, To: 1, Rings: []store.EntityRing{dup}}}}); err != nil {
		t.Fatal(err)
	}
	var again web.RingsResponse
	e.call(t, "GET", "/api/v1/fraud/rings", "", 200, &again)
	if again.Total != 2 || again.Accounts != 6 || keys(again.Rings) != "device:d2 card:411111:1234" || len(again.Rings[0].Entities) != 2 {
		t.Errorf("with the ring of dee, eve and fay stored twice: %+v", again)
	}
	for _, q := range []string{"?cursor=5", "?cursor=" + url.QueryEscape("not base64!"), "?since=soon", "?limit=0"} {
		e.call(t, "GET", "/api/v1/fraud/rings"+q, "", 400, nil)
	}
}

func testAlertsAPI(t *testing.T, e *fraudEnv) {
	var r web.AlertsResponse
	e.call(t, "GET", "/api/v1/alerts", "", 200, &r)
	if got := alertIDs(r.Alerts); got != "f8,f7,f5,f3,f2" {
		t.Fatalf("alerts = %s, want newest first", got)
	}
	a := r.Alerts[0]
	if a.CustomerID != "alice" || a.Amount != 10.08 || a.AmountCents != 1008 || a.Risk != 0.92 || a.Decision != "decline" ||
		a.Status != "open" || a.LabelledAt != nil || !a.EventTime.Equal(fraudBase.Add(8*time.Minute)) || r.LastID != a.ID {
		t.Fatalf("newest alert = %+v (last_id %d)", a, r.LastID)
	}
	var reasons []map[string]any
	if err := json.Unmarshal(a.Reasons, &reasons); err != nil || len(reasons) != 1 || reasons[0]["rule"] != "order_velocity" {
		t.Fatalf("reasons = %s (%v), want parsed JSON", a.Reasons, err)
	}
	var page web.AlertsResponse
	e.call(t, "GET", fmt.Sprintf("/api/v1/alerts?status=open&limit=2&since_id=%d", r.Alerts[3].ID), "", 200, &page)
	if got := alertIDs(page.Alerts); got != "f8,f7" || page.LastID != a.ID {
		t.Fatalf("page = %s (last_id %d)", got, page.LastID)
	}
	if page.NextCursor == "" {
		t.Fatalf("a full page (%s) has no next_cursor", alertIDs(page.Alerts))
	}
	// Paging back by cursor: every alert once, newest first, and no
	// cursor on the last page.
	var seen []string
	for cursor, n := "", 0; ; n++ {
		var p web.AlertsResponse
		e.call(t, "GET", "/api/v1/alerts?limit=2&cursor="+cursor, "", 200, &p)
		seen = append(seen, alertIDs(p.Alerts))
		if p.NextCursor == "" || n > 5 {
			break
		}
		cursor = p.NextCursor
	}
	if got := strings.Join(seen, "|"); got != "f8,f7|f5,f3|f2" {
		t.Fatalf("pages by cursor = %s, want f8,f7|f5,f3|f2", got)
	}
	var none web.AlertsResponse
	e.call(t, "GET", fmt.Sprintf("/api/v1/alerts?since_id=%d", a.ID), "", 200, &none)
	if none.Alerts == nil || len(none.Alerts) != 0 || none.LastID != a.ID {
		t.Fatalf("nothing new = %+v", none)
	}
	at := func(m int) string {
		return url.QueryEscape(fraudBase.Add(time.Duration(m) * time.Minute).Format(time.RFC3339))
	}
	e.checkQueue(t, []alertQuery{
		{"decision=decline", "f8,f3"},
		{"scenario=card_testing", "f8,f2"},
		{"reason=order_velocity", "f8,f7,f5,f3,f2"},
		{"reason=geo_mismatch", ""},
		{"min_amount=10.03&max_amount=10.07", "f7,f5,f3"},
		{"since=" + at(3) + "&until=" + at(8), "f7,f5,f3"},
		{"decision=review&scenario=card_testing&min_amount=10", "f2"},
		{"customer=alice", "f8,f7,f5,f3,f2"},
		{"customer=alice&decision=decline", "f8,f3"},
		{"customer=bob", ""},
	})
	// A filtered queue pages by cursor too.
	seen = nil
	for cursor, n := "", 0; ; n++ {
		var p web.AlertsResponse
		e.call(t, "GET", "/api/v1/alerts?decision=review&limit=2&cursor="+cursor, "", 200, &p)
		seen = append(seen, alertIDs(p.Alerts))
		if p.NextCursor == "" || n > 5 {
			break
		}
		cursor = p.NextCursor
	}
	if got := strings.Join(seen, "|"); got != "f7,f5|f2" {
		t.Fatalf("pages of reviews = %s, want f7,f5|f2", got)
	}
	for _, q := range []string{"status=closed", "limit=0", "limit=5000", "since_id=-1", "since_id=x", "cursor=0", "cursor=x",
		"decision=approve", "min_amount=x", "min_amount=-1", "max_amount=NaN", "min_amount=5&max_amount=4", "since=yesterday",
		"since=" + at(5) + "&until=" + at(5)} {
		e.call(t, "GET", "/api/v1/alerts?"+q, "", 400, nil)
	}
}

func testLabelAPI(t *testing.T, e *fraudEnv) {
	var a web.AlertJSON
	e.call(t, "POST", "/api/v1/alerts/f7/label", `{"label": "fraud"}`, 200, &a)
	if a.TransactionID != "f7" || a.Status != "confirmed_fraud" || a.LabelledAt == nil || !a.LabelledAt.Equal(fraudBase.Add(time.Hour)) ||
		a.LabelledBy == nil || *a.LabelledBy != "local" {
		t.Fatalf("labelled alert = %+v", a)
	}
	e.call(t, "POST", "/api/v1/alerts/f8/label", `{"label": "false_positive"}`, 200, &a)
	if a.Status != "false_positive" {
		t.Fatalf("false positive = %+v", a)
	}
	e.call(t, "POST", "/api/v1/alerts/f0/label", `{"label": "fraud"}`, 404, nil) // stored, but never alerted
	e.call(t, "POST", "/api/v1/alerts/nope/label", `{"label": "fraud"}`, 404, nil)
	e.call(t, "POST", "/api/v1/alerts/f7/label", `{"label": "maybe"}`, 422, nil)
	e.call(t, "POST", "/api/v1/alerts/f7/label", `{"label": ""}`, 422, nil)
	e.call(t, "POST", "/api/v1/alerts/f7/label", `{"verdict": "fraud"}`, 400, nil)
	e.call(t, "POST", "/api/v1/alerts/f7/label", `fraud`, 400, nil)
	var open web.AlertsResponse
	e.call(t, "GET", "/api/v1/alerts?status=open", "", 200, &open)
	if got := alertIDs(open.Alerts); got != "f5,f3,f2" {
		t.Fatalf("open alerts after labelling = %s", got)
	}
	// The labelled alerts stay in the whole queue, with who and when.
	var all web.AlertsResponse
	e.call(t, "GET", "/api/v1/alerts?status=all", "", 200, &all)
	if got := alertIDs(all.Alerts); got != "f8,f7,f5,f3,f2" {
		t.Fatalf("all alerts after labelling = %s", got)
	}
	if b := all.Alerts[1].LabelledBy; b == nil || *b != "local" || all.Alerts[1].LabelledAt == nil || all.Alerts[2].LabelledBy != nil {
		t.Fatalf("who labelled: %+v", all.Alerts[:3])
	}
}

// testMetricsAPI checks figures worked out by hand from the fixture after
// the analyst labels: truth fraud f2 f3 f4 f7, legit f0 f1 f5 f6 f8;
// flagged f2 f3 f5 f7 f8. TP 3, FP 2, FN 1, TN 3.
//
// Average precision, by risk: 0.95 f3 (P 1, R 1/4), 0.92 f8, 0.60 f7
// (P 2/3, R 2/4), 0.50 f2 (P 3/4, R 3/4), 0.45 f5, 0.30 f4 (P 4/6, R 1):
// (1 + 2/3 + 3/4 + 2/3) / 4 = 0.770833. ROC-AUC: legit below each fraud
// 5 + 4 + 4 + 3 = 16 of 20 pairs = 0.8.
func testMetricsAPI(t *testing.T, e *fraudEnv) {
	var m web.FraudMetrics
	e.call(t, "GET", "/api/v1/fraud/metrics", "", 200, &m)
	// The window ends with the newest minute stored (f9's, at 9 minutes).
	if m.Window != "1h" || m.AsOf == nil || !m.AsOf.Equal(fraudBase.Add(10*time.Minute)) || m.Since == nil ||
		!m.Since.Equal(fraudBase.Add(10*time.Minute-time.Hour)) || m.Until == nil || !m.Until.Equal(*m.AsOf) {
		t.Fatalf("window = %s as of %v since %v until %v", m.Window, m.AsOf, m.Since, m.Until)
	}
	if m.Transactions != 10 || m.Labelled != 9 || m.AnalystLabelled != 2 || m.Fraud != 4 || m.Flagged != 5 || m.Sampled ||
		m.SampleLimit != 0 || m.RiskBuckets != store.RiskBuckets {
		t.Fatalf("counts = %+v", m)
	}
	if !near(m.Precision, 0.6) || !near(m.Recall, 0.75) || !near(m.FPR, 0.4) || !near(m.PRAUC, 0.770833) || !near(m.ROCAUC, 0.8) {
		t.Fatalf("rates: precision %v recall %v fpr %v pr_auc %v roc_auc %v", *m.Precision, *m.Recall, *m.FPR, *m.PRAUC, *m.ROCAUC)
	}
	want := map[string][2]int{"card_testing": {1, 1}, "bot_burst": {1, 1}, "stolen_card": {1, 0}, "analyst": {1, 1}}
	if len(m.PerScenario) != len(want) {
		t.Fatalf("per scenario = %+v", m.PerScenario)
	}
	for name, w := range want {
		s := m.PerScenario[name]
		if s.Fraud != w[0] || s.Caught != w[1] || !near(s.Recall, float64(w[1])/float64(w[0])) {
			t.Errorf("scenario %s = %+v, want %v", name, s, w)
		}
	}
	if m.Thresholds.ReviewAt != 0.4 || m.Thresholds.DeclineAt != 0.9 {
		t.Errorf("thresholds = %+v", m.Thresholds)
	}
	if m.Shadow == nil || m.Shadow.Rows != 2 || m.Shadow.Fraud != 1 || !near(m.Shadow.PRAUC, 1) || m.Shadow.Version == nil || *m.Shadow.Version != 2 {
		t.Errorf("shadow = %+v", m.Shadow)
	}
	var labelled, fraud int
	for _, p := range m.Series {
		labelled += p.Labelled
		fraud += p.Fraud
	}
	if len(m.Series) == 0 || labelled != 9 || fraud != 4 {
		t.Errorf("series = %+v", m.Series)
	}
	var all web.FraudMetrics
	e.call(t, "GET", "/api/v1/fraud/metrics?window=all", "", 200, &all)
	if all.Window != "all" || all.Since != nil || all.Transactions != 11 || all.Labelled != 9 {
		t.Fatalf("all = %+v", all)
	}
	var day web.FraudMetrics
	e.call(t, "GET", "/api/v1/fraud/metrics?window=24h", "", 200, &day)
	if day.Transactions != 10 {
		t.Fatalf("24h: %d transactions, want 10 (the old one is 48 h back)", day.Transactions)
	}
	e.call(t, "GET", "/api/v1/fraud/metrics?window=8d", "", 400, nil)
	// An arbitrary range: the 10 recent ones, by since and until.
	var rng web.FraudMetrics
	q := fmt.Sprintf("since=%s&until=%d", fraudBase.Add(-time.Hour).Format(time.RFC3339), fraudBase.Add(time.Hour).Unix())
	e.call(t, "GET", "/api/v1/fraud/metrics?"+q, "", 200, &rng)
	if rng.Window != "range" || rng.Transactions != 10 || rng.Labelled != 9 || rng.Since == nil || !rng.Since.Equal(fraudBase.Add(-time.Hour)) {
		t.Fatalf("range = %+v", rng)
	}
	e.call(t, "GET", "/api/v1/fraud/metrics?window=1h&since=0", "", 400, nil)
	e.call(t, "GET", "/api/v1/fraud/metrics?since=yesterday", "", 400, nil)
	e.call(t, "GET", "/api/v1/fraud/metrics?since=100&until=50", "", 400, nil)
}

func testRulesAPI(t *testing.T, e *fraudEnv) {
	var r struct {
		Rules      []fraud.Rule    `json:"rules"`
		Thresholds web.Thresholds  `json:"thresholds"`
		Models     web.ModelsInUse `json:"models"`
	}
	e.call(t, "GET", "/api/v1/fraud/rules", "", 200, &r)
	if len(r.Rules) != fraud.DefaultRules().Len() || r.Rules[0].Name != "card_testing_many_cards" || r.Rules[0].When == "" ||
		r.Rules[0].Reason == "" || r.Rules[0].Weight != 0.95 {
		t.Fatalf("rules = %+v", r.Rules)
	}
	if r.Thresholds.ReviewAt != 0.4 || r.Thresholds.DeclineAt != 0.9 || r.Thresholds.ModelWeight != 0.3 {
		t.Fatalf("thresholds = %+v", r.Thresholds)
	}
	if r.Models.Active == nil || *r.Models.Active != 1 || r.Models.Shadow == nil || *r.Models.Shadow != 2 {
		t.Fatalf("models = %+v", r.Models)
	}
}

func versionsOf(r web.ModelsResponse) string {
	var s []string
	for _, m := range r.Models {
		s = append(s, fmt.Sprintf("%d:%s", m.Version, m.Status))
	}
	return strings.Join(s, " ")
}

func ptr(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func testModelsAPI(t *testing.T, e *fraudEnv) {
	var r web.ModelsResponse
	e.call(t, "GET", "/api/v1/fraud/models", "", 200, &r)
	if versionsOf(r) != "2:shadow 1:active" || ptr(r.Stored.Active) != 1 || ptr(r.Stored.Shadow) != 2 || ptr(r.InUse.Active) != 1 ||
		ptr(r.InUse.Shadow) != 2 || string(r.Models[0].Metrics) != `{"rows":256}` || !r.Models[0].CreatedAt.Equal(fraudBase.Add(time.Hour)) {
		t.Fatalf("models = %+v", r)
	}
	e.call(t, "POST", "/api/v1/fraud/models/2/promote", "", 200, &r)
	if versionsOf(r) != "2:active 1:retired" || ptr(r.InUse.Active) != 2 || r.InUse.Shadow != nil || e.det.Active().Version != 2 ||
		r.Models[0].Note != "promoted through the API" || r.Models[0].ActivatedAt == nil {
		t.Fatalf("after promoting 2: %+v (detector: %d)", r, e.det.Active().Version)
	}
	e.call(t, "POST", "/api/v1/fraud/models/rollback", "", 200, &r)
	if versionsOf(r) != "2:retired 1:active" || ptr(r.InUse.Active) != 1 || e.det.Active().Version != 1 || !r.Models[0].RolledBack {
		t.Fatalf("after the rollback: %+v", r)
	}
	e.call(t, "POST", "/api/v1/fraud/models/rollback", "", 409, nil)
	e.call(t, "POST", "/api/v1/fraud/models/99/promote", "", 404, nil)
	e.call(t, "POST", "/api/v1/fraud/models/x/promote", "", 400, nil)
	e.call(t, "POST", "/api/v1/fraud/models/1/promote", "", 200, &r) // already active: no change
	if versionsOf(r) != "2:retired 1:active" {
		t.Fatalf("promoting the active version: %s", versionsOf(r))
	}
	// Pages of one, newest first; a filter by status; the versions in
	// force whatever the page.
	var p1, p2, p3 web.ModelsResponse
	e.call(t, "GET", "/api/v1/fraud/models?limit=1", "", 200, &p1)
	e.call(t, "GET", "/api/v1/fraud/models?limit=1&cursor="+p1.NextCursor, "", 200, &p2)
	if versionsOf(p1) != "2:retired" || p1.NextCursor == "" || versionsOf(p2) != "1:active" || p2.NextCursor != "" || ptr(p1.Stored.Active) != 1 {
		t.Fatalf("pages of one: %+v then %+v", p1, p2)
	}
	e.call(t, "GET", "/api/v1/fraud/models?status=active", "", 200, &p3)
	if versionsOf(p3) != "1:active" || ptr(p3.Stored.Active) != 1 {
		t.Fatalf("status=active: %+v", p3)
	}
	e.call(t, "GET", "/api/v1/fraud/models?status=shadow", "", 200, &p3)
	if versionsOf(p3) != "" || p3.Models == nil {
		t.Fatalf("status=shadow: %+v", p3)
	}
	for _, q := range []string{"?status=best", "?cursor=x", "?cursor=0", "?limit=0"} {
		e.call(t, "GET", "/api/v1/fraud/models"+q, "", 400, nil)
	}
}

func testScoreAPI(t *testing.T, e *fraudEnv) {
	tx := event.Transaction{SchemaVersion: event.SchemaVersion, TransactionID: "new-1", CustomerID: "alice",
		EventTime: fraudBase.Add(10 * time.Minute), Items: []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: 1250}},
		TotalCents: 1250, Currency: "EUR", PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: "1234"}, DeviceID: "d1",
		IPAddress: "10.0.0.1", BillingCountry: "DE", ShippingCountry: "DE", Channel: "web"}
	body, err := event.Marshal(&tx)
	if err != nil {
		t.Fatal(err)
	}
	var v web.ScoreResponse
	e.call(t, "POST", "/api/v1/score", string(body), 200, &v)
	// alice ordered ten times in the ten minutes before: velocity.
	if v.History != 10 || v.Decision != "decline" || v.ModelVersion == nil || *v.ModelVersion != e.det.Active().Version ||
		!strings.Contains(string(v.Reasons), "order_velocity") || v.Risk < 0.9 || v.Risk > 1 {
		t.Fatalf("verdict = %+v %s", v, v.Reasons)
	}
	// Nothing is stored.
	var r web.AlertsResponse
	e.call(t, "GET", "/api/v1/alerts?limit=1", "", 200, &r)
	if r.Alerts[0].TransactionID == "new-1" {
		t.Fatal("scoring stored an alert")
	}
	bad := strings.Replace(string(body), `"transaction_id":"new-1",`, "", 1)
	if out := e.call(t, "POST", "/api/v1/score", bad, 422, nil); !strings.Contains(out, "missing_field") {
		t.Fatalf("missing transaction_id: %s", out)
	}
	if out := e.call(t, "POST", "/api/v1/score", `{"transaction_id": `, 422, nil); !strings.Contains(out, "malformed_json") {
		t.Fatalf("malformed: %s", out)
	}
	future := strings.Replace(string(body), "2026-06-01T10:10:00", "2026-06-01T12:10:00", 1)
	if out := e.call(t, "POST", "/api/v1/score", future, 422, nil); !strings.Contains(out, "future_timestamp") {
		t.Fatalf("event time ahead of the clock: %s", out)
	}
}

// testSeriesAPI checks the per-scenario series worked out by hand from the
// fixture after the analyst labels (see testMetricsAPI), in two buckets
// of five minutes: f0..f4 (fraud f2 f3 caught, f4 missed; nothing
// flagged wrongly) and f5..f9 (f7 caught, f5 and f8 false alarms).
func testSeriesAPI(t *testing.T, e *fraudEnv) {
	var s web.ScenarioSeries
	from, to := fraudBase.Format(time.RFC3339), fraudBase.Add(10*time.Minute).Format(time.RFC3339)
	e.call(t, "GET", "/api/v1/fraud/series?since="+from+"&until="+to+"&step=5m", "", 200, &s)
	if s.StepSeconds != 300 || len(s.Starts) != 2 || !s.Starts[0].Equal(fraudBase) || !s.Starts[1].Equal(fraudBase.Add(5*time.Minute)) {
		t.Fatalf("buckets = %v step %d", s.Starts, s.StepSeconds)
	}
	if fmt.Sprint(s.Labelled, s.Fraud, s.Flagged) != "[5 4] [3 1] [2 3]" {
		t.Errorf("labelled, fraud, flagged = %v %v %v, want [5 4] [3 1] [2 3]", s.Labelled, s.Fraud, s.Flagged)
	}
	if !near(s.Precision[0], 1) || !near(s.Precision[1], 1.0/3) || !near(s.Recall[0], 2.0/3) || !near(s.Recall[1], 1) {
		t.Errorf("precision %v recall %v", s.Precision, s.Recall)
	}
	got := map[string]string{}
	for _, sc := range s.Scenarios {
		got[sc.Scenario] = fmt.Sprint(sc.Fraud, sc.Caught)
		if sc.Scenario == "stolen_card" && (!near(sc.Recall[0], 0) || sc.Recall[1] != nil) {
			t.Errorf("stolen_card recall = %v, want [0 null]", sc.Recall)
		}
		if sc.Scenario == "analyst" && (!near(sc.Share[1], 1.0/3) || sc.Share[0] == nil || *sc.Share[0] != 0) {
			t.Errorf("analyst share = %v, want [0 1/3]", sc.Share)
		}
	}
	want := map[string]string{"analyst": "[0 1] [0 1]", "bot_burst": "[1 0] [1 0]", "card_testing": "[1 0] [1 0]", "stolen_card": "[1 0] [0 0]"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("scenarios = %v, want %v", got, want)
	}
	// One bucket of ten minutes adds up the same.
	e.call(t, "GET", "/api/v1/fraud/series?since="+from+"&until="+to+"&step=600", "", 200, &s)
	if fmt.Sprint(s.Labelled, s.Fraud, s.Flagged) != "[9] [4] [5]" || !near(s.Recall[0], 3.0/4) {
		t.Errorf("one bucket: %v %v %v recall %v", s.Labelled, s.Fraud, s.Flagged, s.Recall)
	}
	// The default: the last day of event time stored, in buckets of at
	// most 90.
	e.call(t, "GET", "/api/v1/fraud/series", "", 200, &s)
	var labelled int64
	for _, n := range s.Labelled {
		labelled += n
	}
	if labelled != 9 || len(s.Starts) > 90 || s.Until == nil || !s.Until.Equal(fraudBase.Add(10*time.Minute)) {
		t.Errorf("default series: %d labelled in %d buckets until %v", labelled, len(s.Starts), s.Until)
	}
	e.call(t, "GET", "/api/v1/fraud/series?span=5m&step=1m", "", 200, &s)
	if len(s.Starts) != 5 || fmt.Sprint(s.Labelled) != "[1 1 1 1 0]" || !s.Starts[0].Equal(fraudBase.Add(5*time.Minute)) {
		t.Errorf("the last five minutes: %v labelled from %v", s.Labelled, s.Starts)
	}
	for _, q := range []string{"span=0", "span=1s", "span=1h&since=" + from, "step=30s", "step=x", "step=0", "step=90s", "since=" + to + "&until=" + from,
		"since=1970-01-01T00:00:00Z&until=2030-01-01T00:00:00Z&step=1m", "since=yesterday"} {
		e.call(t, "GET", "/api/v1/fraud/series?"+q, "", 400, nil)
	}
}

// TestAlertsInTheirCurrency lists alerts in three currencies: each
// alert's amount is in its own currency's major units, and min_amount
// and max_amount bound it in those units (15,050 minor units are 150.50
// EUR, 15,050 JPY and 15.050 BHD).
func TestAlertsInTheirCurrency(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := store.Part{Partition: 0, From: 0, To: 3}
	for i, cur := range []string{"EUR", "JPY", "BHD"} {
		tx := storetest.Tx("t-"+cur, "alice", fraudBase.Add(time.Duration(i)*time.Minute), 15050, 0, int64(i))
		tx.Currency, tx.Decision, tx.Risk = cur, "review", 0.5
		tx.ReasonsJSON = []byte(`[{"rule":"order_velocity","reason":"fast","weight":0.95}]`)
		p.Txs = append(p.Txs, tx)
		p.Alerts = append(p.Alerts, store.Alert{TransactionID: tx.TransactionID, CustomerID: tx.CustomerID, EventTime: tx.EventTime,
			Risk: tx.Risk, Decision: tx.Decision, ReasonsJSON: tx.ReasonsJSON, AmountCents: tx.TotalCents, Currency: cur})
	}
	if err := st.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{p}}); err != nil {
		t.Fatal(err)
	}
	e := newFraudEnv(t, st)
	var r web.AlertsResponse
	e.call(t, "GET", "/api/v1/alerts", "", 200, &r)
	got := map[string]float64{}
	for _, a := range r.Alerts {
		if a.Currency == nil || "t-"+*a.Currency != a.TransactionID {
			t.Errorf("alert %s has currency %v", a.TransactionID, a.Currency)
			continue
		}
		got[*a.Currency] = a.Amount
	}
	if want := map[string]float64{"EUR": 150.5, "JPY": 15050, "BHD": 15.05}; !maps.Equal(got, want) {
		t.Errorf("amounts = %v, want %v", got, want)
	}
	e.checkQueue(t, []alertQuery{
		{"min_amount=1000", "t-JPY"},
		{"min_amount=100&max_amount=200", "t-EUR"},
		{"max_amount=15.05", "t-BHD"},
		{"max_amount=15.049", ""},
	})
}

// alertQuery is a query of the alert queue and the IDs it answers.
type alertQuery struct{ q, want string }

// checkQueue asks the alert queue each query.
func (e *fraudEnv) checkQueue(t *testing.T, qs []alertQuery) {
	t.Helper()
	for _, c := range qs {
		var p web.AlertsResponse
		e.call(t, "GET", "/api/v1/alerts?"+c.q, "", 200, &p)
		if got := alertIDs(p.Alerts); got != c.want {
			t.Errorf("alerts?%s = %q, want %q", c.q, got, c.want)
		}
	}
}
