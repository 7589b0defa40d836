package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/web"
)

// FuzzAPI sends any method, path, query and body to a server with every
// component's routes, as the local admin of a store without tokens, so
// each handler that parses a query or a body gets past the guard. Nothing
// may panic or answer 500: bad input is a 4xx naming what is wrong.
func FuzzAPI(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"GET", "/api/v1/windows?granularity=hour&since=2026-01-01T00:00:00Z", ""},
		{"GET", "/api/v1/windows?granularity=year&since=x", ""},
		{"GET", "/api/v1/alerts?status=open&limit=5&since_id=1", ""},
		{"GET", "/api/v1/alerts?limit=-1", ""},
		{"POST", "/api/v1/alerts/f7/label", `{"label":"fraud"}`},
		{"POST", "/api/v1/alerts/f8/label", `{"label":1}`},
		{"GET", "/api/v1/fraud/metrics?window=24h", ""},
		{"POST", "/api/v1/fraud/models/2/promote", ""},
		{"POST", "/api/v1/fraud/models/x/promote", ""},
		{"POST", "/api/v1/score", `{"transaction_id":"t","customer_id":"c"}`},
		{"POST", "/api/v1/experiments", `{"name":"e","variants":[]}`},
		{"GET", "/api/v1/experiments/nope", ""},
		{"GET", "/api/v1/customers/c1/recommendations?n=3", ""},
		{"GET", "/api/v1/products/P1/similar?n=x", ""},
		{"GET", "/api/v1/customers/alice", ""},
		{"GET", "/api/v1/cohorts?period=month", ""},
		{"POST", "/api/v1/session", `{"token":"ss1_1_x"}`},
		{"POST", "/api/v1/tokens", `{"name":"n","role":"viewer"}`},
		{"DELETE", "/api/v1/tokens/1", ""},
		{"GET", "/api/v1/audit?limit=2&before_id=9", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	e := newAuthEnv(f, web.Config{Limits: web.Limits{AddrRate: -1, TokenRate: -1}})
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if !strings.HasPrefix(target, "/") {
			return
		}
		switch method {
		case "GET", "POST", "DELETE", "PUT":
		default:
			return
		}
		var req *http.Request
		func() {
			defer func() {
				if recover() != nil { // a target httptest cannot parse
					req = nil
				}
			}()
			req = httptest.NewRequest(method, target, strings.NewReader(body))
		}()
		if req == nil {
			return
		}
		req.RemoteAddr, req.Host = "127.0.0.1:40000", "localhost"
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("%s %s %q: 500 %s", method, target, body, rec.Body.String())
		}
	})
}
