package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/analyticsview"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
	"github.com/shopstream/shopstream/internal/web"
)

// analyticsServer returns a server over a SQLite store holding two
// customers' purchases, the analytics of one, a cohort matrix and both
// models, as the refresh would have stored them.
func analyticsServer(t *testing.T, empty bool) *httptest.Server {
	t.Helper()
	st := openStore(t)
	ts := analyticsServerOf(t, st)
	if !empty {
		analyticsFixture(t, st)
	}
	return ts
}

// analyticsServerOf serves st with the analytics routes.
func analyticsServerOf(t *testing.T, st *sqlite.Store) *httptest.Server {
	t.Helper()
	srv, err := web.New(web.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterAnalytics(srv, st)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

// storeIn writes txs in one batch of partition 0 from offset from, each
// in currency.
func storeIn(t *testing.T, st store.Store, currency string, from int64, txs ...store.Tx) {
	t.Helper()
	for i := range txs {
		txs[i].Currency = currency
	}
	if err := st.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{From: from, To: from + int64(len(txs)), Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
}

// analyticsFixture stores three purchases of alice and bob, alice's
// analytics, two cohort cells, a CLV model and a segmentation.
func analyticsFixture(t testing.TB, st envStore) {
	t.Helper()
	ctx := context.Background()
	jan := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	txs := []store.Tx{
		storetest.Tx("t1", "alice", jan, 12000, 0, 0),
		storetest.Tx("t2", "alice", jan.AddDate(0, 1, 0), 3050, 0, 1),
		storetest.Tx("t3", "bob", jan, 999, 0, 2),
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{From: 0, To: 3, Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	cluster := 1
	updated := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rows := []store.CustomerAnalytics{
		{CustomerID: "alice", RecencyDays: 19, FrequencyDays: 2, MonetaryCents: 15050, R: 5, F: 4, M: 5, Segment: "Champions",
			Cluster: &cluster, CLV: &store.CLVFigures{ProbAlive: 0.8, ExpectedPurchases: 2.5, ExpectedAOV: 60, Value: 140, ModelVersion: 1}, UpdatedAt: updated},
	}
	if err := st.WriteCustomerAnalytics(ctx, rows); err != nil {
		t.Fatal(err)
	}
	cells := []store.CohortCell{
		{Month: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), MonthOffset: 0, Size: 2, Active: 2, RevenueCents: 12999},
		{Month: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), MonthOffset: 1, Size: 2, Active: 1, RevenueCents: 3050},
	}
	// As of alice's February purchase: February is unfinished.
	if err := st.ReplaceCohorts(ctx, cells, updated, jan.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	// Two refreshes' movements: the first with every customer new, the
	// second with bob gone from Loyal to At Risk and carol new.
	first := updated.Add(-time.Hour)
	for _, m := range []store.SegmentMovement{
		{AsOf: jan, ComputedAt: first, Flows: []store.SegmentFlow{{To: "Champions", Customers: 1}, {To: "Loyal", Customers: 1}}},
		{AsOf: jan.AddDate(0, 1, 0), ComputedAt: updated, PreviousComputedAt: &first, Flows: []store.SegmentFlow{
			{From: "Champions", To: "Champions", Customers: 1}, {From: "Loyal", To: "At Risk", Customers: 1}, {To: "New", Customers: 1}}},
	} {
		if _, err := st.SaveSegmentMovement(ctx, m, 100); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.SaveModelVersion(ctx, store.ModelCLV,
		[]byte(`{"bgnbd":{"r":0.24,"alpha":4.4,"a":0.79,"b":2.4},"gamma_gamma":{"p":6.25,"q":3.74,"gamma":15.44},"period":"week"}`),
		[]byte(`{"customers":2,"repeat_customers":1,"bgnbd_log_likelihood":-10.5,"horizon_months":12,"discount_rate":0.1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveModelVersion(ctx, store.ModelSegments,
		[]byte(`{"k":2,"features":["recency_days","log1p_frequency","log1p_monetary"],"centroids":[[1,2,3],[4,5,6]],"seed":1,"sample_size":2}`),
		[]byte(`{"customers":2,"silhouette":0.5,"candidates":[{"k":2,"silhouette":0.5}],"clusters":[{"cluster":0,"size":1,"share":0.5,"top_categories":[{"category":"books","share":1}]},{"cluster":1,"size":1,"share":0.5,"top_categories":[]}]}`)); err != nil {
		t.Fatal(err)
	}
}

func getAnalyticsJSON(t *testing.T, ts *httptest.Server, path string, wantStatus int, v any) string {
	t.Helper()
	resp, err := http.Get(ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("GET %s: decoding: %v", path, err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: status %d, want %d: %s", path, resp.StatusCode, wantStatus, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	if v != nil {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, raw)
		}
	}
	return string(raw)
}

func TestAnalyticsCustomer(t *testing.T) {
	t.Parallel()
	ts := analyticsServer(t, false)
	var c web.CustomerResponse
	getAnalyticsJSON(t, ts, "/api/v1/customers/alice", http.StatusOK, &c)
	if c.CustomerID != "alice" || c.Orders != 2 || c.RevenueCents != 15050 || c.Revenue != 150.5 || c.Cluster == nil || *c.Cluster != 1 {
		t.Fatalf("alice = %+v", c)
	}
	if c.RFM == nil || c.RFM.Score != "545" || c.RFM.Segment != "Champions" || c.RFM.Monetary != 150.5 || c.RFM.Frequency != 2 {
		t.Fatalf("alice's RFM = %+v", c.RFM)
	}
	if c.CLV == nil || c.CLV.Value != 140 || c.CLV.ProbAlive != 0.8 || c.CLV.ModelVersion != 1 || c.UpdatedAt == nil {
		t.Fatalf("alice's CLV = %+v", c.CLV)
	}
	// bob bought but was not scored yet: nulls, not an error.
	raw := getAnalyticsJSON(t, ts, "/api/v1/customers/bob", http.StatusOK, &c)
	if c.RFM != nil || c.CLV != nil || c.Cluster != nil || !strings.Contains(raw, `"rfm":null`) {
		t.Fatalf("bob = %s", raw)
	}
	raw = getAnalyticsJSON(t, ts, "/api/v1/customers/nobody", http.StatusNotFound, nil)
	if !strings.Contains(raw, `nobody`) {
		t.Fatalf("404 body %s does not name the customer", raw)
	}
}

func TestAnalyticsSegments(t *testing.T) {
	t.Parallel()
	ts := analyticsServer(t, false)
	var s analyticsview.Segments
	getAnalyticsJSON(t, ts, "/api/v1/segments", http.StatusOK, &s)
	if s.Customers != 1 || len(s.RFM) != 11 || s.RFM[0].Segment != "Champions" || s.RFM[0].Customers != 1 || s.RFM[0].Share != 1 ||
		s.RFM[0].Revenue != 150.5 || s.RFM[0].MeanCLV == nil || *s.RFM[0].MeanCLV != 140 || s.RFM[10].Segment != "Lost" || s.RFM[10].Customers != 0 {
		t.Fatalf("segments = %+v", s)
	}
	cl := s.Clusters
	if cl == nil || cl.Version != 1 || cl.K != 2 || *cl.Silhouette != 0.5 || len(cl.Profiles) != 2 || cl.Profiles[0].TopCategories[0].Category != "books" || len(cl.Features) != 3 {
		t.Fatalf("clusters = %+v", cl)
	}
}

func TestAnalyticsCohorts(t *testing.T) {
	t.Parallel()
	ts := analyticsServer(t, false)
	var c analyticsview.Cohorts
	getAnalyticsJSON(t, ts, "/api/v1/cohorts", http.StatusOK, &c)
	if c.ComputedAt == nil || len(c.Cohorts) != 1 {
		t.Fatalf("cohorts = %+v", c)
	}
	// February, the month of the as-of, is unfinished: 10 of its 28 days,
	// the January cohort's cell +1.
	if p := c.Partial; p == nil || p.Month != "2026-02" || p.Days != 10 || p.DaysInMonth != 28 || c.AsOf == nil {
		t.Fatalf("partial month = %+v as of %v", p, c.AsOf)
	}
	if p := c.Cohorts[0].PartialOffset; p == nil || *p != 1 {
		t.Fatalf("january's partial offset = %v, want 1", p)
	}
	row := c.Cohorts[0]
	if row.Month != "2026-01" || row.Size != 2 || len(row.Active) != 2 || row.Active[1] != 1 || row.Retention[0] != 1 || row.Retention[1] != 0.5 || row.Revenue[0] != 129.99 {
		t.Fatalf("cohort row = %+v", row)
	}
	// A time range keeps the cohorts whose month begins in it.
	for q, n := range map[string]int{"?since=2026-01-01T00:00:00Z": 1, "?since=2026-01-02T00:00:00Z": 0, "?until=2026-01-01T00:00:00Z": 0,
		"?since=2025-12-01T00:00:00Z&until=2026-02-01T00:00:00Z": 1, "?until=1767225601": 1} {
		var c analyticsview.Cohorts
		getAnalyticsJSON(t, ts, "/api/v1/cohorts"+q, http.StatusOK, &c)
		if len(c.Cohorts) != n || c.ComputedAt == nil {
			t.Errorf("cohorts%s = %+v, want %d", q, c, n)
		}
	}
	for _, q := range []string{"?since=january", "?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z"} {
		getAnalyticsJSON(t, ts, "/api/v1/cohorts"+q, http.StatusBadRequest, nil)
	}
}

// TestAnalyticsSegmentMovement reads the fixture's two movements: the
// newest first with its flows largest first, nulls for new customers, the
// segments' net changes; paged and filtered by when the refresh ran.
func TestAnalyticsSegmentMovement(t *testing.T) {
	t.Parallel()
	ts := analyticsServer(t, false)
	var m analyticsview.SegmentMovements
	raw := getAnalyticsJSON(t, ts, "/api/v1/segments/movement", http.StatusOK, &m)
	if len(m.Movements) != 2 || m.NextCursor != "" {
		t.Fatalf("movements = %s", raw)
	}
	latest, first := m.Movements[0], m.Movements[1]
	if latest.Customers != 3 || latest.Entered != 1 || latest.Moved != 1 || latest.Stayed != 1 || latest.Left != 0 ||
		latest.PreviousComputedAt == nil || !latest.PreviousComputedAt.Equal(first.ComputedAt) || first.PreviousComputedAt != nil {
		t.Fatalf("latest movement = %+v, first %+v", latest, first)
	}
	if !strings.Contains(raw, `{"from":null,"to":"New","customers":1}`) || !strings.Contains(raw, `{"from":"Loyal","to":"At Risk","customers":1}`) {
		t.Fatalf("flows: %s", raw)
	}
	nets := map[string]int64{}
	for _, s := range latest.Segments {
		nets[s.Segment] = s.Net
	}
	if nets["Loyal"] != -1 || nets["At Risk"] != 1 || nets["New"] != 1 || nets["Champions"] != 0 || len(latest.Segments) != 11 {
		t.Fatalf("net changes = %v", nets)
	}
	// One a page: the cursor leads to the older.
	var p1, p2 analyticsview.SegmentMovements
	getAnalyticsJSON(t, ts, "/api/v1/segments/movement?limit=1", http.StatusOK, &p1)
	if len(p1.Movements) != 1 || p1.Movements[0].ID != latest.ID || p1.NextCursor == "" {
		t.Fatalf("first page = %+v", p1)
	}
	getAnalyticsJSON(t, ts, "/api/v1/segments/movement?limit=1&cursor="+p1.NextCursor, http.StatusOK, &p2)
	if len(p2.Movements) != 1 || p2.Movements[0].ID != first.ID || p2.NextCursor != "" {
		t.Fatalf("second page = %+v", p2)
	}
	var since analyticsview.SegmentMovements
	getAnalyticsJSON(t, ts, "/api/v1/segments/movement?since=2026-02-28T23:30:00Z", http.StatusOK, &since)
	if len(since.Movements) != 1 || since.Movements[0].ID != latest.ID {
		t.Fatalf("since the last half hour: %+v", since)
	}
	for _, q := range []string{"?limit=0", "?cursor=x", "?since=yesterday"} {
		getAnalyticsJSON(t, ts, "/api/v1/segments/movement"+q, http.StatusBadRequest, nil)
	}
}

func TestAnalyticsCLVModel(t *testing.T) {
	t.Parallel()
	ts := analyticsServer(t, false)
	var m analyticsview.CLVModel
	getAnalyticsJSON(t, ts, "/api/v1/clv/model", http.StatusOK, &m)
	if m.Version != 1 || m.Status != "active" || m.Params.BGNBD.R != 0.24 || m.Params.GammaGamma.Gamma != 15.44 || m.Metrics.Customers != 2 || m.Metrics.BGNBDLogLikelihood != -10.5 {
		t.Fatalf("CLV model = %+v", m)
	}
}

// Before the first refresh: empty lists and nulls, and 404 for the model.
func TestAnalyticsEmpty(t *testing.T) {
	t.Parallel()
	ts := analyticsServer(t, true)
	var s analyticsview.Segments
	raw := getAnalyticsJSON(t, ts, "/api/v1/segments", http.StatusOK, &s)
	if s.Customers != 0 || len(s.RFM) != 11 || s.Clusters != nil {
		t.Fatalf("segments of an empty store: %s", raw)
	}
	raw = getAnalyticsJSON(t, ts, "/api/v1/cohorts", http.StatusOK, nil)
	if raw != `{"computed_at":null,"as_of":null,"partial":null,"cohorts":[]}` {
		t.Fatalf("cohorts of an empty store: %s", raw)
	}
	if raw = getAnalyticsJSON(t, ts, "/api/v1/segments/movement", http.StatusOK, nil); raw != `{"movements":[]}` {
		t.Fatalf("segment movement of an empty store: %s", raw)
	}
	raw = getAnalyticsJSON(t, ts, "/api/v1/clv/model", http.StatusNotFound, nil)
	if !strings.Contains(raw, "no CLV model") {
		t.Fatalf("CLV model of an empty store: %s", raw)
	}
}

// TestAnalyticsCLVDistribution counts the fixture's alice (CLV 140,
// P(alive) 0.8) and three more customers by hand: CLV 0.4 and 3 (P(alive)
// 0.05 and 0.85), 2,500,000 (1), and one not scored yet.
func TestAnalyticsCLVDistribution(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := web.New(web.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterAnalytics(srv, st)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	var d web.CLVDistribution
	raw := getAnalyticsJSON(t, ts, "/api/v1/clv/distribution", http.StatusOK, &d)
	if d.Customers != 0 || d.MeanCLV != nil || len(d.CLV) != 0 || len(d.PAlive) != 10 || d.Model != nil {
		t.Fatalf("the distribution of an empty store: %s", raw)
	}

	analyticsFixture(t, st)
	var rows []store.CustomerAnalytics
	for i, c := range []struct{ clv, alive float64 }{{0.4, 0.05}, {3, 0.85}, {2_500_000, 1}} {
		rows = append(rows, store.CustomerAnalytics{CustomerID: fmt.Sprintf("d%d", i), Segment: "Lost", UpdatedAt: time.Now(),
			CLV: &store.CLVFigures{ProbAlive: c.alive, Value: c.clv, ModelVersion: 1}})
	}
	rows = append(rows, store.CustomerAnalytics{CustomerID: "fresh", Segment: "Lost", UpdatedAt: time.Now()})
	if err := st.WriteCustomerAnalytics(ctx, rows); err != nil {
		t.Fatal(err)
	}
	// A fresh server: the first answer is cached for ten seconds.
	srv2, err := web.New(web.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterAnalytics(srv2, st)
	ts2 := httptest.NewServer(srv2)
	t.Cleanup(ts2.Close)
	d = web.CLVDistribution{}
	raw = getAnalyticsJSON(t, ts2, "/api/v1/clv/distribution", http.StatusOK, &d)
	if d.Customers != 4 || d.Unscored != 1 || d.MeanCLV == nil || math.Abs(*d.MeanCLV-(0.4+3+140+2_500_000)/4) > 1e-6 {
		t.Fatalf("totals: %s", raw)
	}
	// From the lowest non-empty bucket [0, 1) to the open-ended top one:
	// 0.4 | 3 in [2, 5) | 140 in [100, 200) | 2.5 million from 1 million.
	var got []string
	for _, b := range d.CLV {
		to := "open"
		if b.To != nil {
			to = fmt.Sprint(*b.To)
		}
		if b.Customers > 0 {
			got = append(got, fmt.Sprintf("%v-%s:%d", b.From, to, b.Customers))
		}
	}
	if s := strings.Join(got, " "); s != "0-1:1 2-5:1 100-200:1 1e+06-open:1" || d.CLV[0].From != 0 || len(d.CLV) != 20 {
		t.Fatalf("CLV buckets %s (%d buckets): %s", s, len(d.CLV), raw)
	}
	var alive []int64
	for _, b := range d.PAlive {
		alive = append(alive, b.Customers)
	}
	if fmt.Sprint(alive) != "[1 0 0 0 0 0 0 0 2 1]" || d.PAlive[8].From != 0.8 || *d.PAlive[8].To != 0.9 {
		t.Fatalf("P(alive) buckets %v: %s", alive, raw)
	}
	if d.Model == nil || d.Model.Version != 1 || d.Model.Metrics.BGNBDLogLikelihood != -10.5 {
		t.Fatalf("the model's fit: %s", raw)
	}
}

// TestAnalyticsCustomerList: the scored customers by ID, in pages that
// follow one another, by segment and by prefix; bad filters are 400.
func TestAnalyticsCustomerList(t *testing.T) {
	t.Parallel()
	var rows []store.CustomerAnalytics
	for i := range 25 {
		seg := "Lost"
		if i%5 == 0 {
			seg = "Champions"
		}
		rows = append(rows, store.CustomerAnalytics{CustomerID: fmt.Sprintf("c%03d", i), RecencyDays: 3, FrequencyDays: 2, MonetaryCents: int64(100 + i),
			R: 2, F: 3, M: 4, Segment: seg, UpdatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	}
	ts := customerListServer(t, rows)

	ids := func(r web.CustomersResponse) string {
		var out []string
		for _, c := range r.Customers {
			out = append(out, c.CustomerID)
		}
		return strings.Join(out, " ")
	}
	// Every customer, in pages of ten.
	var all []string
	cursor := ""
	for range 5 {
		var page web.CustomersResponse
		getAnalyticsJSON(t, ts, "/api/v1/customers?limit=10&cursor="+cursor, http.StatusOK, &page)
		all = append(all, ids(page))
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if got := strings.Join(all, " "); got != strings.Join(func() []string {
		var s []string
		for _, r := range rows {
			s = append(s, r.CustomerID)
		}
		return s
	}(), " ") {
		t.Fatalf("every customer in pages of ten: %s", got)
	}
	var r web.CustomersResponse
	getAnalyticsJSON(t, ts, "/api/v1/customers?segment=Champions", http.StatusOK, &r)
	if ids(r) != "c000 c005 c010 c015 c020" || r.NextCursor != "" || r.Customers[1].MonetaryCents != 105 || r.Customers[1].Segment != "Champions" {
		t.Fatalf("the Champions: %+v", r)
	}
	getAnalyticsJSON(t, ts, "/api/v1/customers?prefix=c01&segment=Lost", http.StatusOK, &r)
	if ids(r) != "c011 c012 c013 c014 c016 c017 c018 c019" {
		t.Fatalf("Lost, c01…: %s", ids(r))
	}
	raw := getAnalyticsJSON(t, ts, "/api/v1/customers?prefix=zz", http.StatusOK, &r)
	if len(r.Customers) != 0 || !strings.Contains(raw, `"customers":[]`) {
		t.Fatalf("no match: %s", raw)
	}
	for _, q := range []string{"segment=Gold", "cursor=!!", "prefix=%FF", "limit=0", "prefix=" + strings.Repeat("c", 257)} {
		getAnalyticsJSON(t, ts, "/api/v1/customers?"+q, http.StatusBadRequest, nil)
	}
}

// customerListServer serves the analytics API over a fresh SQLite store
// holding rows.
func customerListServer(t *testing.T, rows []store.CustomerAnalytics) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.WriteCustomerAnalytics(ctx, rows); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterAnalytics(srv, st)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

// TestAnalyticsCustomerListByCLV: sort=clv lists the customers with a CLV
// highest first, in pages whose cursors carry the CLV exactly (equal CLVs
// split across pages, a CLV no decimal writes exactly), leaves out those
// without one, and refuses an unknown sort or a cursor of the other sort.
func TestAnalyticsCustomerListByCLV(t *testing.T) {
	t.Parallel()
	var rows []store.CustomerAnalytics
	var want []string
	for i := range 25 {
		r := store.CustomerAnalytics{CustomerID: fmt.Sprintf("c%03d", i), FrequencyDays: 2, R: 2, F: 3, M: 4, Segment: "Lost",
			UpdatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
		if i%5 != 4 { // every fifth has no CLV
			// Three customers a CLV, each a sum no decimal writes exactly.
			r.CLV = &store.CLVFigures{ProbAlive: 0.5, ExpectedPurchases: 1, Value: float64(10-i/3) + 0.1 + 0.2, ModelVersion: 1}
			want = append(want, r.CustomerID)
		}
		rows = append(rows, r)
	}
	ts := customerListServer(t, rows)

	// Highest first: the CLV falls every three IDs, so within equal CLVs
	// the IDs go up; the list's order is want's.
	var got []string
	last := math.Inf(1)
	cursor := ""
	for range 20 {
		var page web.CustomersResponse
		getAnalyticsJSON(t, ts, "/api/v1/customers?sort=clv&limit=4&cursor="+cursor, http.StatusOK, &page)
		for _, c := range page.Customers {
			if c.CLV == nil || c.CLV.Value > last {
				t.Fatalf("customer %s out of order or without a CLV: %+v after %v", c.CustomerID, c.CLV, last)
			}
			last = c.CLV.Value
			got = append(got, c.CustomerID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("by CLV in pages of four:\n got %v\nwant %v", got, want)
	}
	var byID web.CustomersResponse
	getAnalyticsJSON(t, ts, "/api/v1/customers?limit=4", http.StatusOK, &byID)
	for _, q := range []string{"sort=value", "sort=clv&cursor=" + byID.NextCursor, "cursor=!!&sort=clv",
		"sort=clv&cursor=" + base64.RawURLEncoding.EncodeToString([]byte("NaN c001"))} {
		getAnalyticsJSON(t, ts, "/api/v1/customers?"+q, http.StatusBadRequest, nil)
	}
}

// TestAnalyticsSegmentsCurrencyNote: the segments say when the customers'
// amounts add minor units of several currencies (the store holds EUR and
// USD), and say nothing of it with one.
func TestAnalyticsSegmentsCurrencyNote(t *testing.T) {
	t.Parallel()
	one := analyticsServer(t, false)
	var s analyticsview.Segments
	getAnalyticsJSON(t, one, "/api/v1/segments", http.StatusOK, &s)
	for _, n := range s.Notes {
		if strings.Contains(n, "currenc") {
			t.Errorf("one currency stored, yet a note: %q", n)
		}
	}
	st := openStore(t)
	analyticsFixture(t, st)
	storeIn(t, st, "USD", 3, storetest.Tx("t4", "carol", time.Date(2026, 2, 3, 9, 0, 0, 0, time.UTC), 5000, 0, 3))
	getAnalyticsJSON(t, analyticsServerOf(t, st), "/api/v1/segments", http.StatusOK, &s)
	if len(s.Notes) == 0 || !strings.Contains(s.Notes[len(s.Notes)-1], "2 currencies (EUR, USD, by revenue)") {
		t.Errorf("EUR and USD stored: notes %q, want one naming both", s.Notes)
	}
}

// TestAnalyticsInTheShopsCurrency: a yen shop's customer revenue, RFM
// monetary and segment revenue are in yen (they read 150.5 for ¥15,050,
// as if yen had cents).
func TestAnalyticsInTheShopsCurrency(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	jan := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	storeIn(t, st, "JPY", 0, storetest.Tx("t0", "alice", jan, 12000, 0, 0), storetest.Tx("t1", "alice", jan.AddDate(0, 1, 0), 3050, 0, 1))
	if err := st.WriteCustomerAnalytics(context.Background(), []store.CustomerAnalytics{{CustomerID: "alice", RecencyDays: 19, FrequencyDays: 2, MonetaryCents: 15050,
		R: 5, F: 4, M: 5, Segment: "Champions", UpdatedAt: jan.AddDate(0, 2, 0)}}); err != nil {
		t.Fatal(err)
	}
	ts := analyticsServerOf(t, st)
	var c web.CustomerResponse
	getAnalyticsJSON(t, ts, "/api/v1/customers/alice", http.StatusOK, &c)
	if c.Revenue != 15050 || c.RFM == nil || c.RFM.Monetary != 15050 {
		t.Errorf("alice in yen: revenue %v, RFM %+v; want 15050 both", c.Revenue, c.RFM)
	}
	var s analyticsview.Segments
	getAnalyticsJSON(t, ts, "/api/v1/segments", http.StatusOK, &s)
	if s.RFM[0].Segment != "Champions" || s.RFM[0].Revenue != 15050 {
		t.Errorf("segments in yen: %+v, want Champions with 15050", s.RFM[0])
	}
}
