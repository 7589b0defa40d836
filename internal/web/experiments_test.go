package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/abtest"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

func TestExperimentsAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := abtest.New(abtest.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterExperiments(srv, svc)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	post := func(body string) int {
		t.Helper()
		resp, err := http.Post(ts.URL+"/api/v1/experiments", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	def := `{"name":"recs","window":"30m","variants":[{"name":"control","weight":0.5,"recommender":"popularity"},
		{"name":"treatment","weight":0.5,"recommender":"item-item"}]}`
	for _, tc := range []struct {
		body string
		want int
	}{
		{def, http.StatusCreated},
		{def, http.StatusConflict},
		{`{"name":"x","variants":[{"name":"a","weight":1,"recommender":"popularity"}]}`, http.StatusUnprocessableEntity},
		{`{"name":"x","colour":"red"}`, http.StatusBadRequest},
	} {
		if got := post(tc.body); got != tc.want {
			t.Errorf("POST %s: %d, want %d", tc.body, got, tc.want)
		}
	}
	var list struct {
		Experiments []web.ExperimentSummary `json:"experiments"`
	}
	getJSON(t, ts.URL+"/api/v1/experiments", http.StatusOK, &list)
	if len(list.Experiments) != 1 || list.Experiments[0].Name != "recs" || list.Experiments[0].Status != "running" || list.Experiments[0].HashVersion != 2 {
		t.Fatalf("list: %+v", list)
	}
	var res abtest.Results
	getJSON(t, ts.URL+"/api/v1/experiments/recs", http.StatusOK, &res)
	if len(res.Variants) != 2 || res.Variants[1].Recommender != "item-item" || len(res.Comparisons) != 1 || res.Comparisons[0].Conversion.Note == "" {
		t.Fatalf("results of an experiment with no exposures: %+v", res)
	}
	getJSON(t, ts.URL+"/api/v1/experiments/nope", http.StatusNotFound, nil)

	// The results are kept (for ten seconds): an exposure stored since is
	// not in the next answer, which is the same one.
	if _, err := st.RecordExposure(ctx, &store.Exposure{Experiment: "recs", CustomerID: "c1", ExposedAt: time.Now(),
		WindowEnd: time.Now().Add(30 * time.Minute), Items: []string{"p1"}}); err != nil {
		t.Fatal(err)
	}
	var again abtest.Results
	getJSON(t, ts.URL+"/api/v1/experiments/recs", http.StatusOK, &again)
	if !again.ComputedAt.Equal(res.ComputedAt) || again.Variants[0].Exposures+again.Variants[1].Exposures != 0 {
		t.Fatalf("results asked again at once: computed at %v (first %v), exposures %d+%d; want the kept answer",
			again.ComputedAt, res.ComputedAt, again.Variants[0].Exposures, again.Variants[1].Exposures)
	}

	// More experiments, two scheduled: pages of two by start then name,
	// and a filter by status.
	for _, name := range []string{"b-later", "a-later"} {
		if got := post(`{"name":"` + name + `","start":"2099-01-01T00:00:00Z","variants":[{"name":"control","weight":0.5,"recommender":"popularity"},
			{"name":"treatment","weight":0.5,"recommender":"item-item"}]}`); got != http.StatusCreated {
			t.Fatalf("creating %s: %d", name, got)
		}
	}
	names := func(r web.ExperimentsResponse) string {
		var n []string
		for _, e := range r.Experiments {
			n = append(n, e.Name)
		}
		return strings.Join(n, " ")
	}
	var p1, p2, f web.ExperimentsResponse
	getJSON(t, ts.URL+"/api/v1/experiments?limit=2", http.StatusOK, &p1)
	getJSON(t, ts.URL+"/api/v1/experiments?limit=2&cursor="+p1.NextCursor, http.StatusOK, &p2)
	if names(p1) != "recs a-later" || p1.NextCursor == "" || names(p2) != "b-later" || p2.NextCursor != "" {
		t.Fatalf("pages of two: %q %q then %q %q", names(p1), p1.NextCursor, names(p2), p2.NextCursor)
	}
	getJSON(t, ts.URL+"/api/v1/experiments?status=scheduled", http.StatusOK, &f)
	if names(f) != "a-later b-later" {
		t.Fatalf("scheduled: %q", names(f))
	}
	getJSON(t, ts.URL+"/api/v1/experiments?status=stopped", http.StatusOK, &f)
	if names(f) != "" || f.Experiments == nil {
		t.Fatalf("stopped: %+v", f)
	}
	for _, q := range []string{"?status=paused", "?cursor=zz", "?limit=5000"} {
		getJSON(t, ts.URL+"/api/v1/experiments"+q, http.StatusBadRequest, nil)
	}
}

func getJSON(t *testing.T, url string, status int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, status)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
}
