package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/abtest"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
	"github.com/shopstream/shopstream/internal/web"
)

// recommendServer serves recommendations over a SQLite store where A and
// B are bought together by two customers and C by one with A. With build
// false the model is never built.
func recommendServer(t *testing.T, build bool) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var txs []store.Tx
	for i, p := range []string{"c1:A", "c1:B", "c2:A", "c2:B", "c3:A", "c3:C"} {
		tx := storetest.Tx(fmt.Sprintf("t%d", i), p[:2], time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC), 100, 0, int64(i))
		tx.ItemsJSON = []byte(fmt.Sprintf(`[{"product_id":%q,"category":"c","quantity":1,"unit_price":1.00}]`, p[3:]))
		txs = append(txs, tx)
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{From: 0, To: int64(len(txs)), Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	return recsServer(t, st, build)
}

// recsServer serves st with the recommendation routes (and GET
// /api/v1/products/top), the model built from st first when build.
func recsServer(t *testing.T, st interface {
	store.Store
	store.Purchases
}, build bool) *httptest.Server {
	t.Helper()
	svc, err := recsvc.New(recsvc.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if build {
		if _, err := svc.Fold(context.Background()); err != nil {
			t.Fatal(err)
		}
		svc.Rebuild()
	}
	srv, err := web.New(web.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterRecommendations(srv, svc)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

func getRecs(t *testing.T, url string) (int, web.RecommendationsResponse, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("GET %s: decoding: %v", url, err)
	}
	b, _ := json.Marshal(raw)
	var body web.RecommendationsResponse
	json.Unmarshal(b, &body) //nolint:errcheck // error bodies do not fit; raw has them
	return resp.StatusCode, body, raw
}

func TestRecommendationsAPI(t *testing.T) {
	t.Parallel()
	ts := recommendServer(t, true)
	code, body, _ := getRecs(t, ts.URL+"/api/v1/customers/c3/recommendations?n=2")
	if code != http.StatusOK || body.Method != "item-item" || body.CustomerID != "c3" || len(body.Items) != 1 || body.Items[0].Item != "B" {
		t.Fatalf("c3: %d %+v; want B by item-item", code, body)
	}
	if body.ModelBuiltAt.IsZero() || body.ModelAgeSeconds < 0 || body.ModelAgeSeconds > 60 {
		t.Fatalf("c3: model built at %v, age %v s", body.ModelBuiltAt, body.ModelAgeSeconds)
	}
	code, body, _ = getRecs(t, ts.URL+"/api/v1/customers/nobody/recommendations")
	if code != http.StatusOK || body.Method != "popularity" || len(body.Items) != 3 || body.Items[0].Item != "A" {
		t.Fatalf("new customer: %d %+v; want A, B, C by popularity", code, body)
	}
	code, body, _ = getRecs(t, ts.URL+"/api/v1/customers/c1/recommendations?n=2&buy_again=true")
	if code != http.StatusOK || !body.BuyAgain || len(body.Items) != 2 || body.Items[0].Item != "A" || body.Items[1].Item != "B" {
		t.Fatalf("c1 buying again: %d %+v; want A, B", code, body)
	}
	code, body, _ = getRecs(t, ts.URL+"/api/v1/products/B/similar?n=5")
	if code != http.StatusOK || body.ProductID != "B" || len(body.Items) != 1 || body.Items[0].Item != "A" || body.Items[0].Score <= 0 {
		t.Fatalf("similar to B: %d %+v; want A", code, body)
	}

	for _, tc := range []struct {
		url  string
		code int
	}{
		{"/api/v1/products/Z/similar", http.StatusNotFound},
		{"/api/v1/products/A/similar?n=0", http.StatusBadRequest},
		{"/api/v1/products/A/similar?n=101", http.StatusBadRequest},
		{"/api/v1/customers/c1/recommendations?n=x", http.StatusBadRequest},
		{"/api/v1/customers/c1/recommendations?buy_again=perhaps", http.StatusBadRequest},
		{"/api/v1/customers/c1/recommendations?preview=perhaps", http.StatusBadRequest},
	} {
		code, _, raw := getRecs(t, ts.URL+tc.url)
		if code != tc.code || errorCode(raw) != codeOf(tc.code) {
			t.Errorf("GET %s = %d %v, want %d with error code %q", tc.url, code, raw, tc.code, codeOf(tc.code))
		}
	}
}

func TestRecommendationsBeforeTheModel(t *testing.T) {
	t.Parallel()
	ts := recommendServer(t, false)
	for _, u := range []string{"/api/v1/customers/c1/recommendations", "/api/v1/products/A/similar"} {
		code, _, raw := getRecs(t, ts.URL+u)
		if code != http.StatusServiceUnavailable || errorCode(raw) != "unavailable" || !strings.Contains(errorMessage(raw), "not built yet") {
			t.Errorf("GET %s before the model = %d %v, want 503 unavailable saying the model is not built yet", u, code, raw)
		}
	}
}

// errorCode and errorMessage read an ErrorResponse decoded into a map.
func errorCode(raw map[string]any) string {
	e, _ := raw["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func errorMessage(raw map[string]any) string {
	e, _ := raw["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// TestTopProducts: A is bought by three customers, B by two, C by one; the
// top products come in that order with those counts, and before a model
// is built the answer is 503.
func TestTopProducts(t *testing.T) {
	t.Parallel()
	ts := recommendServer(t, true)
	code, body, raw := getRecs(t, ts.URL+"/api/v1/products/top?n=3")
	if code != http.StatusOK || body.Method != recsvc.MethodPopularity {
		t.Fatalf("GET /api/v1/products/top: %d %v", code, raw)
	}
	var got []string
	for _, it := range body.Items {
		got = append(got, fmt.Sprintf("%s:%g", it.Item, it.Score))
	}
	if strings.Join(got, " ") != "A:3 B:2 C:1" {
		t.Errorf("top products %v, want A:3 B:2 C:1", got)
	}
	if code, _, raw := getRecs(t, ts.URL+"/api/v1/products/top?n=0"); code != http.StatusBadRequest {
		t.Errorf("n=0: %d %v, want 400", code, raw)
	}
	if code, _, raw := getRecs(t, recommendServer(t, false).URL+"/api/v1/products/top"); code != http.StatusServiceUnavailable {
		t.Errorf("before the first model: %d %v, want 503", code, raw)
	}
}

// TestRecommendationsPreview: with an experiment covering every customer,
// ?preview=true answers outside it (item-item, no experiment named) and
// stores no exposure; a plain request, as a shop's page makes, is answered
// by the variant and its exposure stored.
func TestRecommendationsPreview(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var txs []store.Tx
	for i, p := range []string{"c1:A", "c1:B", "c2:A", "c2:B", "c3:A", "c3:C"} {
		tx := storetest.Tx(fmt.Sprintf("t%d", i), p[:2], time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC), 100, 0, int64(i))
		tx.ItemsJSON = []byte(fmt.Sprintf(`[{"product_id":%q,"category":"c","quantity":1,"unit_price":1.00}]`, p[3:]))
		txs = append(txs, tx)
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{From: 0, To: int64(len(txs)), Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	exps, err := abtest.New(abtest.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// Both variants by popularity: everybody is in the experiment and
	// answered by popularity, which item-item is not.
	if _, err := exps.Create(ctx, abtest.Definition{Name: "recs", Start: time.Now().Add(-time.Hour),
		Variants: []abtest.Variant{{Name: "control", Weight: 0.5, Recommender: "popularity"}, {Name: "treatment", Weight: 0.5, Recommender: "popularity"}}}); err != nil {
		t.Fatal(err)
	}
	svc, err := recsvc.New(recsvc.Config{Store: st, Assigner: exps})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Fold(ctx); err != nil {
		t.Fatal(err)
	}
	svc.Rebuild()
	srv, err := web.New(web.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterRecommendations(srv, svc)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	exposed := func() []string {
		var out []string
		if err := st.Exposures(ctx, "recs", func(x *store.Exposure) error {
			out = append(out, x.CustomerID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}

	code, body, raw := getRecs(t, ts.URL+"/api/v1/customers/c3/recommendations?n=2&preview=true")
	if code != http.StatusOK || body.Method != "item-item" || len(body.Items) != 1 || body.Items[0].Item != "B" || raw["experiment"] != nil || raw["variant"] != nil {
		t.Fatalf("preview of c3: %d %v; want B by item-item, outside the experiment", code, raw)
	}
	if got := exposed(); len(got) != 0 {
		t.Fatalf("a preview stored the exposures of %q", got)
	}
	code, body, _ = getRecs(t, ts.URL+"/api/v1/customers/c3/recommendations?n=2&preview=false")
	if code != http.StatusOK || body.Method != "popularity" || body.Experiment != "recs" || body.Variant == "" {
		t.Fatalf("c3 without preview: %d %+v; want a variant of recs", code, body)
	}
	if got := exposed(); len(got) != 1 || got[0] != "c3" {
		t.Fatalf("exposures after a plain request = %q, want c3", got)
	}
}
